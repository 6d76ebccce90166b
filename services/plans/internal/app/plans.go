package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// PlanRepository stores plans (mongodb.PlanStore in production; the same
// store over FerretDB in tests).
type PlanRepository interface {
	Create(ctx context.Context, id string, p plan.Plan, events ...outbox.Message) error
	// CreateOnce is Create under a request id (docstore.Store.CreateOnce).
	CreateOnce(ctx context.Context, id, requestHash string, p plan.Plan, events ...outbox.Message) (plan.Plan, bool, error)
	Get(ctx context.Context, id string) (plan.Plan, int64, error)
	Update(ctx context.Context, id string, fn func(*plan.Plan) ([]outbox.Message, error)) (plan.Plan, error)
	ListByClient(ctx context.Context, clientID string, skip, limit int) ([]plan.Plan, error)
	// Contact returns one contact of a plan's log; ok is false when the
	// plan has none with the id.
	Contact(ctx context.Context, planID, contactID string) (c plan.Contact, ok bool, err error)
	// ListContacts lists up to limit contacts of a plan numbered below
	// beforeSeq (0: from the newest), newest first.
	ListContacts(ctx context.Context, planID string, beforeSeq int64, limit int) ([]plan.Contact, error)
	// ListByClients lists the plans of several clients in one query.
	ListByClients(ctx context.Context, clientIDs []string) ([]plan.Plan, error)
	// ContactsSince lists the contacts (not voided) of several plans that
	// occurred at or after since, in one query, without their notes.
	ContactsSince(ctx context.Context, planIDs []string, since time.Time) ([]plan.PlanContact, error)
	// ClaimDue leases one active plan with something due (docstore.Claim);
	// docstore.ErrNotFound when none is left unclaimed.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (string, error)
}

// Plans is the plan use cases.
type Plans struct {
	repo        PlanRepository
	assignments *docstore.Store[care.Assignment]
	access      *Access
	clk         clock.Clock
	// erasures and erasedData keep an erased client's id retired (erasure.go).
	erasures   ErasureMarks
	erasedData ClientEraser
	hooks      planHooks
}

// NewPlans builds the plan use cases.
func NewPlans(repo PlanRepository, assignments *docstore.Store[care.Assignment], access *Access, clk clock.Clock) *Plans {
	return &Plans{repo: repo, assignments: assignments, access: access, clk: clk}
}

// View is a plan as one caller may see it, at one instant.
type View struct {
	Plan plan.Plan
	Now  time.Time
	// CounsellorID is the client's active counsellor, if any.
	CounsellorID string
	// Owner is true for the client; everyone else sees no notes and no end
	// or pause reason (the client's own words).
	Owner bool
	// Admin is true for an admin, who manages the care team and sees plan
	// status only: none of the client's own words (reasons, goals,
	// boundaries, exceptions) and none of their support contacts.
	Admin bool
}

func newID() string { return uuid.NewString() }

// deterministicID makes an id from a caller-chosen request id, so a retried
// create lands on the same document.
func deterministicID(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + hex.EncodeToString(sum[:12])
}

// RequestKey is a create's AIP-155 idempotency key (idempotency.Key).
type RequestKey = idempotency.Key

// Create makes a draft plan for the calling client. With a request id, a
// retry of the same request answers the plan created the first time and a
// different request under the same id is refused (idempotency.ErrReused).
func (s *Plans) Create(ctx context.Context, c Caller, params plan.NewPlanParams, key RequestKey) (View, error) {
	if c.Role != auth.RoleClient {
		return View{}, apperr.PermissionDenied("only a client can create their plan")
	}
	if err := refuseErased(ctx, s.erasures, c.ID); err != nil {
		return View{}, err
	}
	s.hooks.run(s.hooks.afterCheck)
	now := storedNow(s.clk)
	params.ClientID = c.ID
	params.ID = newID()
	if key.ID != "" {
		params.ID = deterministicID("pl-", c.ID, key.ID)
	}
	p, err := plan.NewPlan(params, newID, now)
	if err != nil {
		return View{}, domainErr(err, "plan.")
	}
	events, err := s.outboxEvents(p, c)
	if err != nil {
		return View{}, err
	}
	if key.ID == "" {
		if err := s.repo.Create(ctx, p.ID, *p, events...); err != nil {
			return View{}, err
		}
		if err := s.undoIfErased(ctx, c.ID, p.ID); err != nil {
			return View{}, err
		}
		return s.view(ctx, *p, care.AllowOwner)
	}
	stored, _, err := s.repo.CreateOnce(ctx, p.ID, key.Hash, *p, events...)
	if err != nil {
		return View{}, err
	}
	if err := s.undoIfErased(ctx, c.ID, p.ID); err != nil {
		return View{}, err
	}
	return s.view(ctx, stored, care.AllowOwner)
}

// Get returns a plan the caller may see: the client, their counsellor under
// the progress scope, or an admin (who gets the status-only view).
func (s *Plans) Get(ctx context.Context, c Caller, id, action string) (View, error) {
	return s.get(ctx, c, id, action, true)
}

// Contacts returns a plan for its contact log: the client or their
// counsellor under the progress scope. An admin manages the care team from
// the plan's status and its contact count (View.Plan on GetPlan); the log
// itself (when, how and how the client answered) is not theirs to read.
func (s *Plans) Contacts(ctx context.Context, c Caller, id string) (View, error) {
	return s.get(ctx, c, id, "ListContacts", false)
}

// Most contacts one ListContacts page answers (a larger page_size is
// lowered to it), and the default.
const (
	MaxContactsPage     = 100
	defaultContactsPage = 20
)

// ListContacts pages over a plan's contact log, newest first: the client
// or their counsellor under the progress scope (see Contacts).
func (s *Plans) ListContacts(ctx context.Context, c Caller, id string, pageSize int, pageToken string) ([]plan.Contact, View, string, error) {
	v, err := s.Contacts(ctx, c, id)
	if err != nil {
		return nil, View{}, "", err
	}
	cursor, err := decodePageToken(pageToken)
	if err != nil {
		return nil, View{}, "", err
	}
	size := min(pageSizeOr(pageSize, defaultContactsPage), MaxContactsPage)
	list, err := s.repo.ListContacts(ctx, id, cursor.BeforeSeq, size+1)
	if err != nil {
		return nil, View{}, "", err
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		next = encodePageToken(pageCursor{BeforeSeq: list[size-1].Seq})
	}
	return list, v, next, nil
}

func (s *Plans) get(ctx context.Context, c Caller, id, action string, adminAllowed bool) (View, error) {
	p, _, err := s.repo.Get(ctx, id)
	if errors.Is(err, docstore.ErrNotFound) {
		return View{}, planNotFound(id)
	}
	if err != nil {
		return View{}, err
	}
	d, err := s.access.Check(ctx, c, p.ClientID, care.ScopePlanProgress, "plan/"+id, action, adminAllowed)
	if err != nil {
		return View{}, err
	}
	if d == care.Deny {
		return View{}, planNotFound(id)
	}
	return s.view(ctx, p, d)
}

// List lists a client's plans, newest first: the caller's own, or, for
// their counsellor (under the progress scope) or an admin, the named
// client's.
func (s *Plans) List(ctx context.Context, c Caller, clientID string, pageSize int, pageToken string) ([]View, string, error) {
	if clientID == "" {
		if c.Role != auth.RoleClient {
			return nil, "", apperr.InvalidArgument(apperr.FieldViolation{Field: "client_id", Description: "is required for counsellors and admins"})
		}
		clientID = c.ID
	}
	d, err := s.access.Check(ctx, c, clientID, care.ScopePlanProgress, "plans", "ListPlans", true)
	if err != nil {
		return nil, "", err
	}
	if d == care.Deny {
		return nil, "", apperr.NotFound("client %q not found", clientID)
	}
	cursor, err := decodePageToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	size := pageSizeOr(pageSize, 20)
	list, err := s.repo.ListByClient(ctx, clientID, cursor.Skip, size+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		next = encodePageToken(pageCursor{Skip: cursor.Skip + size})
	}
	counsellor, err := s.activeCounsellor(ctx, clientID)
	if err != nil {
		return nil, "", err
	}
	now := storedNow(s.clk)
	out := make([]View, len(list))
	for i, p := range list {
		out[i] = View{Plan: p, Now: now, CounsellorID: counsellor, Owner: d == care.AllowOwner, Admin: d == care.AllowAdmin}
	}
	return out, next, nil
}

// Update changes the fields named in patch.Fields (the client only).
func (s *Plans) Update(ctx context.Context, c Caller, id string, patch plan.Patch) (View, error) {
	return s.change(ctx, c, id, "UpdatePlan", ownerOnly, func(p *plan.Plan, now time.Time) error {
		if err := p.Apply(patch, newID, now); err != nil {
			return domainErr(err, "plan.")
		}
		return nil
	})
}

// Transition names a lifecycle move.
type Transition string

// Lifecycle moves.
const (
	Activate Transition = "activate"
	Pause    Transition = "pause"
	Resume   Transition = "resume"
	End      Transition = "end"
	Extend   Transition = "extend"
	Close    Transition = "close"
	Cancel   Transition = "cancel"
)

// action is the move's RPC, as the access log names it.
func (t Transition) action() string {
	return strings.ToUpper(string(t[:1])) + string(t[1:]) + "Plan"
}

// Move applies a lifecycle move. Pause and resume are the counsellor's to
// approve: the assigned counsellor (with the progress scope) or an admin
// may make them, and the client only while no counsellor is assigned.
func (s *Plans) Move(ctx context.Context, c Caller, id string, t Transition, reason string, targetDays int) (View, error) {
	who := ownerOnly
	if t == Pause || t == Resume {
		who = careTeamOrSelfGuided
	}
	return s.change(ctx, c, id, t.action(), who, func(p *plan.Plan, now time.Time) error {
		var err error
		switch t {
		case Activate:
			err = p.Activate(now)
		case Pause:
			err = p.Pause(reason, now)
		case Resume:
			err = p.Resume(now)
		case End:
			err = p.End(reason, now)
		case Extend:
			err = p.Extend(targetDays, now)
		case Close:
			err = p.Close(now)
		case Cancel:
			err = p.Cancel(now)
		default:
			err = fmt.Errorf("unknown transition %q", t)
		}
		return domainErr(err, "")
	})
}

// RecordContact logs a contact (the client only). With a request id, a
// retry of the same request answers the contact logged the first time, and
// another request under the same id is refused (idempotency.ErrReused).
func (s *Plans) RecordContact(ctx context.Context, c Caller, planID string, params plan.ContactParams, key RequestKey) (plan.Contact, View, error) {
	params.ID = newID()
	if key.ID != "" {
		params.ID = deterministicID("ct-", planID, key.ID)
		params.RequestHash = key.Hash
	}
	var recorded plan.Contact
	v, err := s.change(ctx, c, planID, "RecordContact", ownerOnly, func(p *plan.Plan, now time.Time) error {
		if key.ID != "" {
			// The store has copied whatever the plan committed before fn
			// runs, so the log answers for every earlier write, whichever
			// replica made it.
			existing, ok, err := s.repo.Contact(ctx, planID, params.ID)
			if err != nil {
				return err
			}
			if ok {
				if existing.RequestHash == "" || existing.RequestHash != key.Hash {
					return idempotency.ErrReused
				}
				recorded = existing
				return nil
			}
		}
		ct, err := p.RecordContact(params, now)
		if err != nil {
			return domainErr(err, "")
		}
		recorded = ct
		return nil
	})
	return recorded, v, err
}

// CorrectContact changes a logged contact (the client only).
func (s *Plans) CorrectContact(ctx context.Context, c Caller, planID, contactID string, patch plan.ContactPatch) (plan.Contact, View, error) {
	var out plan.Contact
	v, err := s.change(ctx, c, planID, "UpdateContact", ownerOnly, func(p *plan.Plan, now time.Time) error {
		if err := s.loadContact(ctx, p, contactID); err != nil {
			return err
		}
		ct, err := p.CorrectContact(contactID, patch, now)
		if err != nil {
			return domainErr(err, "")
		}
		out = ct
		return nil
	})
	return out, v, err
}

// VoidContact voids a logged contact (the client only).
func (s *Plans) VoidContact(ctx context.Context, c Caller, planID, contactID string) (plan.Contact, View, error) {
	var out plan.Contact
	v, err := s.change(ctx, c, planID, "VoidContact", ownerOnly, func(p *plan.Plan, now time.Time) error {
		if err := s.loadContact(ctx, p, contactID); err != nil {
			return err
		}
		ct, err := p.VoidContact(contactID, now)
		if err != nil {
			return domainErr(err, "")
		}
		out = ct
		return nil
	})
	return out, v, err
}

// loadContact puts a contact of the log into the plan's working set for a
// correction (the store has copied every contact the plan committed before
// the command runs; one not found is the domain's NotFound).
func (s *Plans) loadContact(ctx context.Context, p *plan.Plan, contactID string) error {
	ct, ok, err := s.repo.Contact(ctx, p.ID, contactID)
	if err != nil || !ok {
		return err
	}
	p.Contacts = append(p.Contacts, ct)
	return nil
}

// AcknowledgeMilestone marks a reached milestone as seen (the client only).
func (s *Plans) AcknowledgeMilestone(ctx context.Context, c Caller, planID, milestoneID string) (plan.Milestone, error) {
	var out plan.Milestone
	_, err := s.change(ctx, c, planID, "AcknowledgeMilestone", ownerOnly, func(p *plan.Plan, now time.Time) error {
		m, err := p.AcknowledgeMilestone(milestoneID, now)
		if err != nil {
			return domainErr(err, "")
		}
		out = m
		return nil
	})
	return out, err
}

// SupportInfo is what the client wrote down for hard moments, from their
// most recent plan that is not a cancelled draft.
type SupportInfo struct {
	Plan          *plan.Plan
	CurrentStreak int
}

// Support returns the client's reasons and support contacts. Only the
// client may read them (the journal service asks with the client's token).
func (s *Plans) Support(ctx context.Context, c Caller, clientID string) (SupportInfo, error) {
	if c.Role != auth.RoleClient || c.ID != clientID {
		return SupportInfo{}, s.access.RecordDenied(ctx, c, clientID, "support", "GetSupportInfo", apperr.NotFound("client %q not found", clientID))
	}
	list, err := s.repo.ListByClient(ctx, clientID, 0, 20)
	if err != nil {
		return SupportInfo{}, err
	}
	now := storedNow(s.clk)
	for i := range list {
		p := list[i]
		if p.Status == plan.StatusCancelled {
			continue
		}
		return SupportInfo{Plan: &p, CurrentStreak: p.CurrentStreakDays(now)}, nil
	}
	return SupportInfo{}, nil
}

// ClaimDue leases one plan with milestones or a completion due, the
// longest overdue first (scheduler); ok is false when none is left.
func (s *Plans) ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (string, bool, error) {
	id, err := s.repo.ClaimDue(ctx, now, lease)
	if errors.Is(err, docstore.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return id, true, nil
}

// AdvancePlan records whatever is due on one plan (scheduler). Two
// replicas advancing the same plan write through the version check, so
// only one records each milestone. It returns, for each milestone it
// recorded, the moment the milestone fell due (the scheduler's lag).
func (s *Plans) AdvancePlan(ctx context.Context, id string) (bool, []time.Time, error) {
	changed := false
	var reachedDue []time.Time
	_, err := s.repo.Update(ctx, id, func(p *plan.Plan) ([]outbox.Message, error) {
		now := storedNow(s.clk)
		before := p.NextDueTime
		known := make(map[string]bool, len(p.MilestoneRecords))
		for key := range p.MilestoneRecords {
			known[key] = true
		}
		p.Advance(now)
		// The milestones this write reaches are the records Advance added
		// (the write may be retried on a fresh read: start over each time).
		reachedDue = reachedDue[:0]
		for key, rec := range p.MilestoneRecords {
			if !known[key] {
				reachedDue = append(reachedDue, rec.DueTime)
			}
		}
		events, err := s.outboxEvents(p, Caller{ID: "scheduler", Role: "system"})
		if err != nil {
			return nil, err
		}
		changed = len(events) > 0 || !sameTime(before, p.NextDueTime)
		return events, nil
	})
	if err != nil {
		return false, nil, err
	}
	return changed, reachedDue, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// who decides which callers may change a plan.
type who int

const (
	ownerOnly who = iota
	careTeamOrSelfGuided
)

// change loads the plan, checks who may change it, applies fn and stores the
// plan with its events in one write.
func (s *Plans) change(ctx context.Context, c Caller, id, action string, allowed who, fn func(*plan.Plan, time.Time) error) (View, error) {
	p, _, err := s.repo.Get(ctx, id)
	if errors.Is(err, docstore.ErrNotFound) {
		return View{}, planNotFound(id)
	}
	if err != nil {
		return View{}, err
	}
	owner := c.Role == auth.RoleClient && c.ID == p.ClientID
	d := care.AllowOwner
	if !owner {
		// The outcome logged is the answer given: a caller who may read the
		// plan but not make this change is refused, and logged so.
		d, err = s.access.Decide(ctx, c, p.ClientID, care.ScopePlanProgress, true)
		if err != nil {
			return View{}, err
		}
		var refusal error
		switch {
		case d == care.Deny:
			refusal = planNotFound(id)
		case allowed == ownerOnly:
			refusal = apperr.PermissionDenied("only the client can do this on their plan")
		}
		if err := s.access.Record(ctx, c, p.ClientID, "plan/"+id, action, OutcomeOf(refusal == nil)); err != nil {
			return View{}, err
		}
		if refusal != nil {
			return View{}, refusal
		}
	} else if allowed == careTeamOrSelfGuided {
		counsellor, err := s.activeCounsellor(ctx, p.ClientID)
		if err != nil {
			return View{}, err
		}
		if counsellor != "" {
			return View{}, apperr.PermissionDenied("your counsellor approves pauses: ask them to pause or resume the plan")
		}
	}
	updated, err := s.repo.Update(ctx, id, func(p *plan.Plan) ([]outbox.Message, error) {
		now := storedNow(s.clk)
		if err := fn(p, now); err != nil {
			return nil, err
		}
		return s.outboxEvents(p, c)
	})
	if errors.Is(err, docstore.ErrNotFound) {
		return View{}, planNotFound(id)
	}
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, updated, d)
}

// view is the plan as the access decision d lets its caller see it. Every
// answer that carries a plan goes through here, so an admin gets the
// status-only view whatever the RPC.
func (s *Plans) view(ctx context.Context, p plan.Plan, d care.Decision) (View, error) {
	counsellor, err := s.activeCounsellor(ctx, p.ClientID)
	if err != nil {
		return View{}, err
	}
	return View{Plan: p, Now: storedNow(s.clk), CounsellorID: counsellor, Owner: d == care.AllowOwner, Admin: d == care.AllowAdmin}, nil
}

// activeCounsellor is the client's active counsellor ("" when none; the
// most recently assigned when several).
func (s *Plans) activeCounsellor(ctx context.Context, clientID string) (string, error) {
	list, err := s.assignments.Find(ctx,
		bson.D{{Key: "client_id", Value: clientID}, {Key: "status", Value: string(care.StatusActive)}},
		options.Find().SetSort(bson.D{{Key: "create_time", Value: -1}}).SetLimit(1))
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return "", nil
	}
	return list[0].CounsellorID, nil
}

func planNotFound(id string) error { return apperr.NotFound("plan %q not found", id) }

// domainErr maps the domain's errors to application errors; prefix turns
// the domain's field names into request paths ("plan.target_days").
func domainErr(err error, prefix string) error {
	if err == nil {
		return nil
	}
	var ve *plan.ValidationError
	switch {
	case errors.As(err, &ve):
		vs := make([]apperr.FieldViolation, len(ve.Violations))
		for i, v := range ve.Violations {
			field := v.Field
			if prefix != "" && !strings.HasPrefix(field, prefix) && field != "update_mask" {
				field = prefix + field
			}
			vs[i] = apperr.FieldViolation{Field: field, Description: v.Description}
		}
		return apperr.InvalidArgument(vs...)
	case errors.Is(err, plan.ErrIllegalTransition):
		return apperr.Wrap(apperr.KindFailedPrecondition, err, "%s", strings.TrimPrefix(err.Error(), plan.ErrIllegalTransition.Error()+": "))
	case errors.Is(err, plan.ErrNotFound):
		return apperr.Wrap(apperr.KindNotFound, err, "%s", strings.TrimPrefix(err.Error(), plan.ErrNotFound.Error()+": ")+" not found")
	}
	return err
}

// RecordUrgeContact logs, on the client's current plan, the contact the
// client reported when resolving an urge as CONTACTED (from the journal
// event). The event id is the request id, so a redelivered event logs
// nothing twice. A client without an active or paused plan has nothing to
// record: that is not an error.
func (s *Plans) RecordUrgeContact(ctx context.Context, clientID, eventID string, at time.Time) error {
	list, err := s.repo.ListByClient(ctx, clientID, 0, 20)
	if err != nil {
		return err
	}
	for _, p := range list {
		if p.Status != plan.StatusActive && p.Status != plan.StatusPaused {
			continue
		}
		c := Caller{ID: clientID, Role: auth.RoleClient, RequestID: eventID}
		_, _, err := s.RecordContact(ctx, c, p.ID, plan.ContactParams{Direction: plan.Outbound, OccurredAt: at},
			// A redelivery is the same request: the event is its fingerprint.
			RequestKey{ID: eventID, Hash: "event:" + eventID})
		return err
	}
	return nil
}
