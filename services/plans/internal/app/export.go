package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/export"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// ExportRepository stores export requests (mongodb.ExportStore).
type ExportRepository interface {
	Create(ctx context.Context, r export.Request, events ...outbox.Message) error
	CreateOnce(ctx context.Context, r export.Request, requestHash string, events ...outbox.Message) (export.Request, bool, error)
	Get(ctx context.Context, id string) (export.Request, error)
	MarkPartReady(ctx context.Context, id, clientID, service string, p export.Part) (bool, error)
}

// The files of the plans part (the fields of GetPlansExportPartResponse).
const (
	ExportPlans       = "plans"
	ExportContacts    = "contacts"
	ExportMilestones  = "milestones"
	ExportAttempts    = "attempts"
	ExportAssignments = "care_assignments"
	ExportConsents    = "consents"
	ExportAccessLog   = "access_log"
)

// ExportSink receives the plans part, kind after kind in the order of the
// methods, each kind in pages of at most exportpart.PageSize records.
type ExportSink interface {
	Plans([]View) error
	Contacts(View, []plan.Contact) error
	Milestones(planID string, ms []plan.Milestone) error
	Attempts(planID string, as []plan.Attempt) error
	Assignments([]care.Assignment) error
	Consents(care.Consents) error
	AccessLog([]care.AccessEntry) error
}

// Exports is the export use cases: the request and its progress, and the
// plans service's own part.
type Exports struct {
	repo      ExportRepository
	plans     *Plans
	care      *Care
	access    *Access
	parts     *exportpart.Builder
	clk       clock.Clock
	retention time.Duration
	// erasures, when set, refuses erased clients (WithErasures).
	erasures ErasureMarks
	partsRaw *docstore.Store[exportpart.Part]
}

// NewExports builds the export use cases; the plans part is kept in parts.
// retention is how long an export is served (export.DefaultRetention when
// 0).
func NewExports(repo ExportRepository, parts *docstore.Store[exportpart.Part], plans *Plans, care *Care, access *Access, clk clock.Clock, retention time.Duration) *Exports {
	e := &Exports{repo: repo, plans: plans, care: care, access: access, clk: clk, retention: retention, partsRaw: parts}
	e.parts = exportpart.NewBuilder(export.Plans, parts, clk, e.count).WithGuard(e.guardErased)
	return e
}

// WithErasures makes a request of an erased client refused and a replayed
// request of one build nothing.
func (e *Exports) WithErasures(marks ErasureMarks) *Exports {
	e.erasures = marks
	return e
}

// guardErased runs the plans part's insert between two checks of the
// client's erasure, as Plans.Create does: nothing for an erased client, and
// a part inserted while the erasure was requested deleted again (the eraser
// records the request, then deletes; the builder inserts, then reads it).
func (e *Exports) guardErased(ctx context.Context, clientID string, create func() error) (bool, error) {
	if e.erasures == nil {
		return false, create()
	}
	erased, err := e.erasures.Erased(ctx, clientID)
	if err != nil || erased {
		return erased, err
	}
	if err := create(); err != nil {
		return false, err
	}
	if erased, err = e.erasures.Erased(ctx, clientID); err != nil || !erased {
		return false, err
	}
	_, err = exportpart.DeleteParts(ctx, e.partsRaw.Collection(), clientID)
	return true, err
}

// Request starts an export of the caller's data. Only the client may: a
// counsellor or an admin is refused (PermissionDenied) and the attempt is
// in the client's access log. With a request id, a retry answers the export
// started the first time.
func (e *Exports) Request(ctx context.Context, c Caller, clientID string, key RequestKey) (export.Request, error) {
	if err := e.onlyTheClient(ctx, c, clientID, "RequestExport"); err != nil {
		return export.Request{}, err
	}
	if e.erasures != nil {
		if erased, err := e.erasures.Erased(ctx, clientID); err != nil {
			return export.Request{}, err
		} else if erased {
			return export.Request{}, errErased()
		}
	}
	now := storedNow(e.clk)
	id := "ex-" + newID()
	if key.ID != "" {
		id = deterministicID("ex-", c.ID, key.ID)
	}
	r := export.New(id, clientID, now, e.retention)
	ev, err := newEvent(exportpart.RequestedSubject, clientID, c.RequestID, now, nil, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_ExportRequested{ExportRequested: &eventsv1.ExportRequested{ExportId: id, ExpireTime: timestamppb.New(r.ExpireTime)}},
	})
	if err != nil {
		return export.Request{}, err
	}
	if key.ID == "" {
		return r, e.repo.Create(ctx, r, ev)
	}
	stored, _, err := e.repo.CreateOnce(ctx, r, key.Hash, ev)
	return stored, err
}

// Get returns an export of the caller's and the instant its state is read
// at.
func (e *Exports) Get(ctx context.Context, c Caller, clientID, id string) (export.Request, time.Time, error) {
	if err := e.onlyTheClient(ctx, c, clientID, "GetExport"); err != nil {
		return export.Request{}, time.Time{}, err
	}
	r, err := e.repo.Get(ctx, id)
	if errors.Is(err, docstore.ErrNotFound) || (err == nil && r.ClientID != clientID) {
		return export.Request{}, time.Time{}, apperr.NotFound("export %q not found", id)
	}
	if err != nil {
		return export.Request{}, time.Time{}, err
	}
	return r, e.clk.Now(), nil
}

// onlyTheClient refuses everyone but the client, recording a refusal of
// anyone else in the client's access log.
func (e *Exports) onlyTheClient(ctx context.Context, c Caller, clientID, action string) error {
	if err := exportpart.OnlyTheClient(c, clientID); err != nil {
		return e.access.RecordDenied(ctx, c, clientID, "exports", action, err)
	}
	return nil
}

// BuildPart builds the plans part of the export an ExportRequested asks
// for (exportpart.Builder.Handle: idempotent).
func (e *Exports) BuildPart(ctx context.Context, env *eventsv1.Envelope) error {
	return e.parts.Handle(ctx, env)
}

// PartReady records a service's ExportPartReady on the request; a
// redelivery, or readiness of a request that is not there (a foreign or
// malformed event), changes nothing.
func (e *Exports) PartReady(ctx context.Context, env *eventsv1.Envelope) error {
	p := env.GetExportPartReady()
	if p == nil {
		return nil
	}
	if !export.Known(p.GetService()) {
		return apperr.InvalidArgument(apperr.FieldViolation{Field: "service", Description: fmt.Sprintf("%q contributes no export part", p.GetService())})
	}
	_, err := e.repo.MarkPartReady(ctx, p.GetExportId(), env.GetClientId(), p.GetService(),
		export.Part{ReadyTime: env.GetOccurredAt().AsTime().UTC(), Counts: p.GetCounts()})
	return err
}

// Part sends the plans part of a ready export to sink: the client only.
func (e *Exports) Part(ctx context.Context, c Caller, clientID, exportID string, sink ExportSink) error {
	if err := e.onlyTheClient(ctx, c, clientID, "GetPlansExportPart"); err != nil {
		return err
	}
	if _, err := e.parts.Open(ctx, c, clientID, exportID); err != nil {
		return err
	}
	return e.walk(ctx, c, clientID, sink)
}

// count is what the part holds, read the way it is served.
func (e *Exports) count(ctx context.Context, clientID string) (map[string]int32, error) {
	n := &countingSink{counts: map[string]int32{}}
	for _, k := range []string{ExportPlans, ExportContacts, ExportMilestones, ExportAttempts, ExportAssignments, ExportConsents, ExportAccessLog} {
		n.counts[k] = 0
	}
	if err := e.walk(ctx, Caller{ID: clientID, Role: auth.RoleClient}, clientID, n); err != nil {
		return nil, err
	}
	return n.counts, nil
}

// walk reads everything of the client's through the client's own use
// cases (so the part is exactly what the client could list one page at a
// time), kind after kind.
func (e *Exports) walk(ctx context.Context, c Caller, clientID string, sink ExportSink) error {
	var views []View
	for tok := ""; ; {
		page, next, err := e.plans.List(ctx, c, clientID, exportpart.PageSize, tok)
		if err != nil {
			return err
		}
		views = append(views, page...)
		if next == "" {
			break
		}
		tok = next
	}
	if err := exportpart.Pages(views, sink.Plans); err != nil {
		return err
	}
	for _, v := range views {
		for tok := ""; ; {
			list, view, next, err := e.plans.ListContacts(ctx, c, v.Plan.ID, MaxContactsPage, tok)
			if err != nil {
				return err
			}
			if len(list) > 0 {
				if err := sink.Contacts(view, list); err != nil {
					return err
				}
			}
			if next == "" {
				break
			}
			tok = next
		}
	}
	progress := make([]plan.Progress, len(views))
	for i, v := range views {
		progress[i] = v.Plan.Progress(v.Now)
	}
	for i, v := range views {
		ms := append(append([]plan.Milestone{}, progress[i].Milestones...), progress[i].History...)
		if err := exportpart.Pages(ms, func(p []plan.Milestone) error { return sink.Milestones(v.Plan.ID, p) }); err != nil {
			return err
		}
	}
	for i, v := range views {
		if err := exportpart.Pages(progress[i].Attempts, func(p []plan.Attempt) error { return sink.Attempts(v.Plan.ID, p) }); err != nil {
			return err
		}
	}
	for tok := ""; ; {
		list, next, err := e.care.ListAssignments(ctx, c, clientID, "", exportpart.PageSize, tok)
		if err != nil {
			return err
		}
		if len(list) > 0 {
			if err := sink.Assignments(list); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		tok = next
	}
	cs, err := e.care.Consents(ctx, c, clientID)
	if err != nil {
		return err
	}
	if err := sink.Consents(cs); err != nil {
		return err
	}
	for tok := ""; ; {
		page, err := e.access.ListAccessLog(ctx, c, clientID, exportpart.PageSize, tok)
		if err != nil {
			return err
		}
		if len(page.Entries) > 0 {
			if err := sink.AccessLog(page.Entries); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		tok = page.NextPageToken
	}
}

// countingSink counts what walk reads.
type countingSink struct{ counts map[string]int32 }

func (n *countingSink) add(kind string, k int) error { n.counts[kind] += int32(k); return nil }

func (n *countingSink) Plans(v []View) error { return n.add(ExportPlans, len(v)) }
func (n *countingSink) Contacts(_ View, cs []plan.Contact) error {
	return n.add(ExportContacts, len(cs))
}
func (n *countingSink) Milestones(_ string, ms []plan.Milestone) error {
	return n.add(ExportMilestones, len(ms))
}
func (n *countingSink) Attempts(_ string, as []plan.Attempt) error {
	return n.add(ExportAttempts, len(as))
}
func (n *countingSink) Assignments(as []care.Assignment) error {
	return n.add(ExportAssignments, len(as))
}

// Consents counts one record per scope, granted or not, as served.
func (n *countingSink) Consents(care.Consents) error {
	return n.add(ExportConsents, len(care.AllScopes))
}
func (n *countingSink) AccessLog(es []care.AccessEntry) error {
	return n.add(ExportAccessLog, len(es))
}
