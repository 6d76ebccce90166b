package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/erasure"
)

// SubjectErasureRequested is the subject of the request every service
// consumes.
const SubjectErasureRequested = "plans.erasure.requested"

// ErasureRepository keeps the erasure requests (adapters/mongodb.ErasureStore).
type ErasureRepository interface {
	Create(ctx context.Context, r erasure.Request, event outbox.Message) (erasure.Request, bool, error)
	Get(ctx context.Context, clientID string) (erasure.Request, error)
	Erased(ctx context.Context, clientID string) (bool, error)
	Confirm(ctx context.Context, clientID, service string, at time.Time) error
	Unconfirmed(ctx context.Context, before time.Time, limit int) ([]erasure.Request, error)
	Resend(ctx context.Context, clientID string, now time.Time, event func(erasure.Request) (outbox.Message, error)) (bool, error)
}

// ClientEraser deletes what the plans database holds of a client
// (adapters/mongodb.ClientData).
type ClientEraser interface {
	Delete(ctx context.Context, clientID string) (int64, error)
	DeletePlan(ctx context.Context, planID string) error
}

// Shredder destroys a client's keyset (fieldcrypt.Keyring), for the fields
// the plans service seals. Nil until plans seals any.
type Shredder interface {
	Destroy(ctx context.Context, clientID string) error
	Forget(clientID string)
}

// Erasure is the erasure use cases: the request and its progress, the plans
// service's own part, and the other services' confirmations.
type Erasure struct {
	repo   ErasureRepository
	data   ClientEraser
	keys   Shredder
	access *Access
	clk    interface{ Now() time.Time }
}

// NewErasure builds the erasure use cases; keys may be nil.
func NewErasure(repo ErasureRepository, data ClientEraser, keys Shredder, access *Access, clk interface{ Now() time.Time }) *Erasure {
	return &Erasure{repo: repo, data: data, keys: keys, access: access, clk: clk}
}

// Resource and action of the erasure's access-log entries.
const (
	erasureResource = "erasure"
	erasureAction   = "RequestErasure"
)

// Request records the caller's request for clientID's erasure and queues
// ErasureRequested for every service, in one write. A second request for
// the client answers the first. The client's access log keeps an entry for
// it (who, when, on which record: no health data), also when the client
// asked themself; a refused attempt is logged as DENIED.
func (e *Erasure) Request(ctx context.Context, c Caller, clientID, supportTicket string) (erasure.Request, error) {
	r, err := erasure.New(c, clientID, supportTicket, storedNow(e.clk))
	if err != nil {
		return erasure.Request{}, e.access.RecordDenied(ctx, c, clientID, erasureResource, erasureAction, err)
	}
	event, err := requestEvent(r, c.RequestID, r.RequestTime)
	if err != nil {
		return erasure.Request{}, err
	}
	stored, _, err := e.repo.Create(ctx, r, event)
	if err != nil {
		return erasure.Request{}, err
	}
	// Keyed by the erasure id: a retry after a failure here, or a second
	// request, adds nothing.
	if err := e.access.Append(ctx, care.AccessEntry{
		ID: "erasure-" + stored.ID, ActorID: stored.RequestedBy, ActorRole: stored.RequesterRole, ClientID: clientID,
		Resource: erasureResource, Action: erasureAction, Outcome: care.OutcomeAllowed, Time: stored.RequestTime,
		RequestID: c.RequestID,
	}); err != nil {
		return erasure.Request{}, err
	}
	return stored, nil
}

// requestEvent is the request's publication number r.Sends.
func requestEvent(r erasure.Request, correlationID string, at time.Time) (outbox.Message, error) {
	return newEventWithID(r.EventID(r.Sends), SubjectErasureRequested, r.ClientID, correlationID, at, nil,
		&eventsv1.Envelope{Payload: &eventsv1.Envelope_ErasureRequested{ErasureRequested: &eventsv1.ErasureRequested{
			ErasureId: r.ID, RequestTime: timestamppb.New(r.RequestTime),
		}}})
}

// resendBatch bounds one pass of ResendUnconfirmed.
const resendBatch = 100

// ResendUnconfirmed publishes again every request that a service has not
// confirmed within after of its last publication, so that an erasure
// completes even when its event never reached a service: the stream aged
// it out (NATS_STREAM_MAX_AGE) while the service was down, or the
// service's consumer dead-lettered it after too many failures. Services
// that have confirmed get it again and change nothing (each part is
// idempotent). It answers how many were sent; the periodic job
// (ERASURE_RESEND_INTERVAL) runs it once across replicas.
func (e *Erasure) ResendUnconfirmed(ctx context.Context, after time.Duration) (int, error) {
	now := storedNow(e.clk)
	due, err := e.repo.Unconfirmed(ctx, now.Add(-after), resendBatch)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, r := range due {
		ok, err := e.repo.Resend(ctx, r.ClientID, now, func(r erasure.Request) (outbox.Message, error) {
			return requestEvent(r, "", now)
		})
		if err != nil {
			return sent, fmt.Errorf("resend erasure %s: %w", r.ID, err)
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// Get returns clientID's erasure to the client or an admin.
func (e *Erasure) Get(ctx context.Context, c Caller, clientID string) (erasure.Request, error) {
	if !erasure.MayView(c, clientID) {
		return erasure.Request{}, e.access.RecordDenied(ctx, c, clientID, erasureResource, "GetErasure",
			apperr.PermissionDenied("only the client or an admin may see an erasure"))
	}
	// An admin's look is logged like any read by someone else (the
	// client's own is not).
	if err := e.access.Record(ctx, c, clientID, erasureResource, "GetErasure", care.OutcomeAllowed); err != nil {
		return erasure.Request{}, err
	}
	r, err := e.repo.Get(ctx, clientID)
	if errors.Is(err, docstore.ErrNotFound) {
		return erasure.Request{}, apperr.NotFound("no erasure was requested for client %q", clientID)
	}
	return r, err
}

// Erased reports whether clientID's erasure was requested (consumers drop
// their events).
func (e *Erasure) Erased(ctx context.Context, clientID string) (bool, error) {
	return e.repo.Erased(ctx, clientID)
}

// EraseHere is the plans service's own part, when it consumes the request:
// the keyset destroyed (when plans seals), the client's documents deleted,
// the confirmation recorded. Every step is idempotent, so a redelivery
// repeats it harmlessly.
func (e *Erasure) EraseHere(ctx context.Context, clientID string) error {
	if e.keys != nil {
		if err := e.keys.Destroy(ctx, clientID); err != nil {
			return fmt.Errorf("destroy keyset: %w", err)
		}
		e.keys.Forget(clientID)
	}
	if _, err := e.data.Delete(ctx, clientID); err != nil {
		return err
	}
	return e.Confirm(ctx, clientID, erasure.ServicePlans, storedNow(e.clk))
}

// Confirm records that service has erased the client (idempotent, any
// order). A confirmation for a client without a request is dropped.
func (e *Erasure) Confirm(ctx context.Context, clientID, service string, at time.Time) error {
	if !erasure.Known(service) {
		return apperr.InvalidArgument(apperr.FieldViolation{Field: "service", Description: "not a service that erases"})
	}
	err := e.repo.Confirm(ctx, clientID, service, at.UTC().Truncate(time.Millisecond))
	if errors.Is(err, docstore.ErrNotFound) {
		return nil
	}
	return err
}

// refuseErased answers FailedPrecondition for a client whose erasure was
// requested: their id is retired, nothing is created for it again.
func refuseErased(ctx context.Context, marks ErasureMarks, clientID string) error {
	if marks == nil {
		return nil
	}
	erased, err := marks.Erased(ctx, clientID)
	if err != nil {
		return err
	}
	if erased {
		return errErased()
	}
	return nil
}

// ErasureMarks tells whether a client was erased.
type ErasureMarks interface {
	Erased(ctx context.Context, clientID string) (bool, error)
}

// WithErasures makes Create refuse erased clients, and undo a plan whose
// client's erasure was requested while it was being created.
func (s *Plans) WithErasures(marks ErasureMarks, data ClientEraser) *Plans {
	s.erasures, s.erasedData = marks, data
	return s
}

// undoIfErased runs after a plan was inserted: when the client's erasure
// was requested meanwhile, the plan is deleted again. With the check before
// the insert, this closes the race with the erasure under any interleaving:
// the eraser writes its marker, then deletes; a creator inserts, then reads
// the marker. If the creator does not see the marker, the marker was
// written after the insert, so the eraser's delete finds the plan.
func (s *Plans) undoIfErased(ctx context.Context, clientID, planID string) error {
	if s.erasures == nil {
		return nil
	}
	s.hooks.run(s.hooks.afterCreate)
	erased, err := s.erasures.Erased(ctx, clientID)
	if err != nil {
		return err
	}
	if !erased {
		return nil
	}
	if err := s.erasedData.DeletePlan(ctx, planID); err != nil {
		return err
	}
	return errErased()
}

// PlanHooks run in Create, for tests that force an interleaving.
type PlanHooks struct {
	// AfterCheck runs between the erasure check and the insert.
	AfterCheck func()
	// AfterCreate runs between the insert and the second check.
	AfterCreate func()
}

type planHooks struct{ afterCheck, afterCreate func() }

func (planHooks) run(f func()) {
	if f != nil {
		f()
	}
}

// WithHooks installs test hooks.
func (s *Plans) WithHooks(h PlanHooks) *Plans {
	s.hooks = planHooks{afterCheck: h.AfterCheck, afterCreate: h.AfterCreate}
	return s
}

// errErased is the answer to a create for an erased client.
func errErased() error {
	return apperr.FailedPrecondition("this account was erased: sign up again for a new account")
}

// guardErased runs create for clientID between two reads of the erasure
// marker, as Plans.Create does (see undoIfErased): nothing is created for
// an erased client, and what a create raced into the erasure is deleted
// again with the rest of the client's data.
func guardErased(ctx context.Context, marks ErasureMarks, data ClientEraser, clientID string, create func() error) error {
	if marks == nil {
		return create()
	}
	if err := refuseErased(ctx, marks, clientID); err != nil {
		return err
	}
	if err := create(); err != nil {
		return err
	}
	erased, err := marks.Erased(ctx, clientID)
	if err != nil || !erased {
		return err
	}
	if _, err := data.Delete(ctx, clientID); err != nil {
		return err
	}
	return errErased()
}

// WithErasures makes the care commands refuse erased clients.
func (c *Care) WithErasures(marks ErasureMarks, data ClientEraser) *Care {
	c.erasures, c.erasedData = marks, data
	return c
}

// CreateAssignment assigns a counsellor to a client (createAssignment),
// never to an erased one.
func (c *Care) CreateAssignment(ctx context.Context, caller Caller, clientID, counsellorID string) (care.Assignment, error) {
	var out care.Assignment
	err := guardErased(ctx, c.erasures, c.erasedData, strings.TrimSpace(clientID), func() error {
		var err error
		out, err = c.createAssignment(ctx, caller, clientID, counsellorID)
		return err
	})
	return out, err
}

// SetConsent grants or revokes a scope (setConsent); an erased client has
// none to change.
func (c *Care) SetConsent(ctx context.Context, caller Caller, clientID string, scope care.Scope, grant bool) (care.Consents, error) {
	var out care.Consents
	err := guardErased(ctx, c.erasures, c.erasedData, clientID, func() error {
		var err error
		out, err = c.setConsent(ctx, caller, clientID, scope, grant)
		return err
	})
	return out, err
}
