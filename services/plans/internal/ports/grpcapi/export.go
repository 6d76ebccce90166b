package grpcapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/export"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// ExportServer implements plansv1.ExportServiceServer.
type ExportServer struct {
	plansv1.UnimplementedExportServiceServer
	exports *app.Exports
}

// NewExportServer builds the ExportService handlers.
func NewExportServer(e *app.Exports) *ExportServer { return &ExportServer{exports: e} }

// RequestExport implements plansv1.ExportServiceServer.
func (s *ExportServer) RequestExport(ctx context.Context, req *plansv1.RequestExportRequest) (*plansv1.RequestExportResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	key, err := idempotency.KeyOf(req)
	if err != nil {
		return nil, err
	}
	r, err := s.exports.Request(ctx, c, req.GetClientId(), key)
	if err != nil {
		return nil, err
	}
	return &plansv1.RequestExportResponse{Export: exportProto(r, r.CreateTime)}, nil
}

// GetExport implements plansv1.ExportServiceServer.
func (s *ExportServer) GetExport(ctx context.Context, req *plansv1.GetExportRequest) (*plansv1.GetExportResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	r, now, err := s.exports.Get(ctx, c, req.GetClientId(), req.GetExportId())
	if err != nil {
		return nil, err
	}
	return &plansv1.GetExportResponse{Export: exportProto(r, now)}, nil
}

// GetPlansExportPart implements plansv1.ExportServiceServer.
func (s *ExportServer) GetPlansExportPart(req *plansv1.GetPlansExportPartRequest, stream plansv1.ExportService_GetPlansExportPartServer) error {
	ctx := stream.Context()
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return err
	}
	return s.exports.Part(ctx, c, req.GetClientId(), req.GetExportId(), &exportStream{send: stream.Send})
}

// exportProto is r with its progress at now.
func exportProto(r export.Request, now time.Time) *plansv1.Export {
	out := &plansv1.Export{
		Id: r.ID, ClientId: r.ClientID, CreateTime: timestamppb.New(r.CreateTime), ExpireTime: timestamppb.New(r.ExpireTime),
	}
	switch r.State(now) {
	case export.Ready:
		out.State = plansv1.ExportState_EXPORT_STATE_READY
	case export.Expired:
		out.State = plansv1.ExportState_EXPORT_STATE_EXPIRED
	default:
		out.State = plansv1.ExportState_EXPORT_STATE_RUNNING
	}
	for _, svc := range export.Services {
		p := &plansv1.ExportPart{Service: svc}
		if got, ok := r.Parts[svc]; ok {
			p.Ready, p.ReadyTime, p.Counts = true, timestamppb.New(got.ReadyTime), got.Counts
		}
		out.Parts = append(out.Parts, p)
	}
	return out
}

// exportStream sends each page of the part as one message.
type exportStream struct {
	send func(*plansv1.GetPlansExportPartResponse) error
}

func (s *exportStream) Plans(vs []app.View) error {
	out := &plansv1.GetPlansExportPartResponse{}
	for _, v := range vs {
		out.Plans = append(out.Plans, planProto(v))
	}
	return s.send(out)
}

func (s *exportStream) Contacts(v app.View, cs []plan.Contact) error {
	out := &plansv1.GetPlansExportPartResponse{}
	for _, c := range cs {
		out.Contacts = append(out.Contacts, contactProto(v, c))
	}
	return s.send(out)
}

func (s *exportStream) Milestones(planID string, ms []plan.Milestone) error {
	out := &plansv1.GetPlansExportPartResponse{}
	for _, m := range ms {
		out.Milestones = append(out.Milestones, &plansv1.PlanMilestone{PlanId: planID, Milestone: milestoneProto(m)})
	}
	return s.send(out)
}

func (s *exportStream) Attempts(planID string, as []plan.Attempt) error {
	out := &plansv1.GetPlansExportPartResponse{}
	for _, a := range as {
		out.Attempts = append(out.Attempts, &plansv1.PlanAttempt{PlanId: planID, Attempt: attemptProto(a)})
	}
	return s.send(out)
}

func (s *exportStream) Assignments(as []care.Assignment) error {
	out := &plansv1.GetPlansExportPartResponse{}
	for _, a := range as {
		out.CareAssignments = append(out.CareAssignments, assignmentProto(a))
	}
	return s.send(out)
}

func (s *exportStream) Consents(cs care.Consents) error {
	return s.send(&plansv1.GetPlansExportPartResponse{Consents: consentsProto(cs)})
}

func (s *exportStream) AccessLog(es []care.AccessEntry) error {
	out := &plansv1.GetPlansExportPartResponse{}
	for _, e := range es {
		out.AccessLog = append(out.AccessLog, accessEntryProto(e))
	}
	return s.send(out)
}
