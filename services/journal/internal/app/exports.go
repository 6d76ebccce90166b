package app

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

// ExportService names the journal's part of an export.
const ExportService = "journal"

// The files of the journal part (the fields of
// GetJournalExportPartResponse).
const (
	ExportEntries   = "entries"
	ExportCheckIns  = "check_ins"
	ExportUrges     = "urges"
	ExportRiskFlags = "risk_flags"
)

// ExportSink receives the journal part, kind after kind in the order of
// the methods, in pages (exportpart.PageSize, entries
// exportpart.LargePageSize).
type ExportSink interface {
	Entries([]journal.Entry) error
	CheckIns([]journal.CheckIn) error
	Urges([]journal.Urge) error
	RiskFlags([]journal.RiskFlag) error
}

// Exports builds and serves the journal's part of a client's export, read
// from the journal's own stores (sealed text opened by their codec).
type Exports struct {
	j     *Journal
	parts *exportpart.Builder
}

// NewExports returns the journal's export use cases; parts are kept in
// parts.
func NewExports(j *Journal, parts *docstore.Store[exportpart.Part], clk clock.Clock) *Exports {
	e := &Exports{j: j}
	e.parts = exportpart.NewBuilder(ExportService, parts, clk, e.count).WithGuard(func(ctx context.Context, clientID string, create func() error) (bool, error) {
		// An erased client's part is never built (a replayed request).
		return j.erasure.Skip(ctx, clientID, create)
	})
	return e
}

// BuildPart builds the part an ExportRequested asks for (idempotent).
func (e *Exports) BuildPart(ctx context.Context, env *eventsv1.Envelope) error {
	return e.parts.Handle(ctx, env)
}

// Part sends the journal part of a ready export to sink: the client only
// (a counsellor or an admin is refused, and the attempt is recorded for the
// client's access log).
func (e *Exports) Part(ctx context.Context, c Caller, clientID, exportID string, sink ExportSink) error {
	if err := exportpart.OnlyTheClient(c, clientID); err != nil {
		if rerr := e.j.access.Record(ctx, c, clientID, "exports", "GetJournalExportPart", false); rerr != nil {
			return rerr
		}
		return err
	}
	if _, err := e.parts.Open(ctx, c, clientID, exportID); err != nil {
		return err
	}
	return e.walk(ctx, clientID, sink)
}

func (e *Exports) count(ctx context.Context, clientID string) (map[string]int32, error) {
	n := exportCounter{ExportEntries: 0, ExportCheckIns: 0, ExportUrges: 0, ExportRiskFlags: 0}
	if err := e.walk(ctx, clientID, n); err != nil {
		return nil, err
	}
	return n, nil
}

// walk reads every record of the client's, kind after kind.
func (e *Exports) walk(ctx context.Context, clientID string, sink ExportSink) error {
	mine := bson.D{{Key: "client_id", Value: clientID}}
	st := e.j.st
	if err := exportpart.Each(ctx, st.Entries, mine, exportpart.LargePageSize, sink.Entries); err != nil {
		return err
	}
	if err := exportpart.Each(ctx, st.CheckIns, mine, exportpart.PageSize, sink.CheckIns); err != nil {
		return err
	}
	if err := exportpart.Each(ctx, st.Urges, mine, exportpart.PageSize, sink.Urges); err != nil {
		return err
	}
	return exportpart.Each(ctx, st.Flags, mine, exportpart.PageSize, sink.RiskFlags)
}

// exportCounter counts what walk reads.
type exportCounter map[string]int32

func (n exportCounter) Entries(x []journal.Entry) error {
	n[ExportEntries] += int32(len(x))
	return nil
}
func (n exportCounter) CheckIns(x []journal.CheckIn) error {
	n[ExportCheckIns] += int32(len(x))
	return nil
}
func (n exportCounter) Urges(x []journal.Urge) error { n[ExportUrges] += int32(len(x)); return nil }
func (n exportCounter) RiskFlags(x []journal.RiskFlag) error {
	n[ExportRiskFlags] += int32(len(x))
	return nil
}
