package grpcapi

import (
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

// ExportServer implements journalv1.JournalExportServiceServer.
type ExportServer struct {
	journalv1.UnimplementedJournalExportServiceServer
	exports *app.Exports
}

// NewExportServer builds the JournalExportService handlers.
func NewExportServer(e *app.Exports) *ExportServer { return &ExportServer{exports: e} }

// GetJournalExportPart implements journalv1.JournalExportServiceServer.
func (s *ExportServer) GetJournalExportPart(req *journalv1.GetJournalExportPartRequest, stream journalv1.JournalExportService_GetJournalExportPartServer) error {
	ctx := stream.Context()
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return err
	}
	return s.exports.Part(ctx, c, req.GetClientId(), req.GetExportId(), exportStream{send: stream.Send})
}

// exportStream sends each page of the part as one message.
type exportStream struct {
	send func(*journalv1.GetJournalExportPartResponse) error
}

func (s exportStream) Entries(xs []journal.Entry) error {
	out := &journalv1.GetJournalExportPartResponse{}
	for _, x := range xs {
		out.Entries = append(out.Entries, entryProto(x))
	}
	return s.send(out)
}

func (s exportStream) CheckIns(xs []journal.CheckIn) error {
	out := &journalv1.GetJournalExportPartResponse{}
	for _, x := range xs {
		out.CheckIns = append(out.CheckIns, checkInProto(x, true))
	}
	return s.send(out)
}

func (s exportStream) Urges(xs []journal.Urge) error {
	out := &journalv1.GetJournalExportPartResponse{}
	for _, x := range xs {
		out.Urges = append(out.Urges, urgeProto(x))
	}
	return s.send(out)
}

func (s exportStream) RiskFlags(xs []journal.RiskFlag) error {
	out := &journalv1.GetJournalExportPartResponse{}
	for _, x := range xs {
		out.RiskFlags = append(out.RiskFlags, flagProto(x))
	}
	return s.send(out)
}
