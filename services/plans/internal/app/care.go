package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/care"
)

// Care is the care-team use cases: assignments and consent.
type Care struct {
	assignments *docstore.Store[care.Assignment]
	consents    *docstore.Store[care.Consents]
	access      *Access
	clk         clock.Clock
	// erasures and erasedData keep an erased client's id retired (erasure.go).
	erasures   ErasureMarks
	erasedData ClientEraser
}

// NewCare builds the care use cases.
func NewCare(assignments *docstore.Store[care.Assignment], consents *docstore.Store[care.Consents], access *Access, clk clock.Clock) *Care {
	return &Care{assignments: assignments, consents: consents, access: access, clk: clk}
}

// createAssignment is CreateAssignment without the erasure guard. It
// assigns a counsellor to a client: an admin's assignment is active at
// once; a counsellor may ask to join a client's care team (counsellorID
// empty or their own), which waits for the client to accept. Creating an
// assignment that already exists answers it unchanged.
func (c *Care) createAssignment(ctx context.Context, caller Caller, clientID, counsellorID string) (care.Assignment, error) {
	clientID, counsellorID = strings.TrimSpace(clientID), strings.TrimSpace(counsellorID)
	if caller.Role == auth.RoleCounsellor && counsellorID == "" {
		counsellorID = caller.ID
	}
	var violations []apperr.FieldViolation
	if clientID == "" {
		violations = append(violations, apperr.FieldViolation{Field: "care_assignment.client_id", Description: "is required"})
	}
	if counsellorID == "" {
		violations = append(violations, apperr.FieldViolation{Field: "care_assignment.counsellor_id", Description: "is required"})
	}
	if clientID != "" && clientID == counsellorID {
		violations = append(violations, apperr.FieldViolation{Field: "care_assignment.counsellor_id", Description: "must differ from the client"})
	}
	if len(violations) > 0 {
		return care.Assignment{}, apperr.InvalidArgument(violations...)
	}
	byAdmin := caller.Role == auth.RoleAdmin
	resource := "care-assignment/" + care.AssignmentID(clientID, counsellorID)
	// Every attempt is logged before anything is written, so a re-created
	// (ended, now active again) assignment is in the client's log too.
	allowed := byAdmin || (caller.Role == auth.RoleCounsellor && counsellorID == caller.ID)
	if err := c.access.Record(ctx, caller, clientID, resource, "CreateCareAssignment", OutcomeOf(allowed)); err != nil {
		return care.Assignment{}, err
	}
	if !allowed {
		return care.Assignment{}, apperr.PermissionDenied("only an admin, or the counsellor themself, can create a care assignment")
	}

	now := storedNow(c.clk)
	a := care.NewAssignment(clientID, counsellorID, caller.ID, byAdmin, now)
	ev, err := c.assignmentEvent(caller, a, now)
	if err != nil {
		return care.Assignment{}, err
	}
	err = c.assignments.Create(ctx, a.ID, a, ev)
	if errors.Is(err, docstore.ErrExists) {
		return c.assignments.Update(ctx, a.ID, func(cur *care.Assignment) ([]outbox.Message, error) {
			if !cur.Reopen(caller.ID, byAdmin, now) {
				return nil, nil
			}
			return one(c.assignmentEvent(caller, *cur, now))
		})
	}
	if err != nil {
		return care.Assignment{}, err
	}
	return a, nil
}

// AcceptAssignment is the client accepting a counsellor's request.
func (c *Care) AcceptAssignment(ctx context.Context, caller Caller, id string) (care.Assignment, error) {
	return c.changeAssignment(ctx, caller, id, "AcceptCareAssignment", false, func(a *care.Assignment, now time.Time) error { return a.Accept(now) })
}

// EndAssignment ends an assignment (the client or an admin).
func (c *Care) EndAssignment(ctx context.Context, caller Caller, id string) (care.Assignment, error) {
	return c.changeAssignment(ctx, caller, id, "EndCareAssignment", true, func(a *care.Assignment, now time.Time) error { return a.End(now) })
}

func (c *Care) changeAssignment(ctx context.Context, caller Caller, id, action string, adminMay bool, change func(*care.Assignment, time.Time) error) (care.Assignment, error) {
	notFound := apperr.NotFound("care assignment %q not found", id)
	may := func(a *care.Assignment) bool {
		return (caller.Role == auth.RoleClient && caller.ID == a.ClientID) || (adminMay && caller.Role == auth.RoleAdmin)
	}
	// The assignment names the client whose log the attempt lands in; the
	// decision is logged before the change is written.
	cur, _, err := c.assignments.Get(ctx, id)
	if errors.Is(err, docstore.ErrNotFound) {
		return care.Assignment{}, notFound
	}
	if err != nil {
		return care.Assignment{}, err
	}
	if err := c.access.Record(ctx, caller, cur.ClientID, "care-assignment/"+id, action, OutcomeOf(may(&cur))); err != nil {
		return care.Assignment{}, err
	}
	if !may(&cur) {
		return care.Assignment{}, notFound
	}
	now := storedNow(c.clk)
	a, err := c.assignments.Update(ctx, id, func(a *care.Assignment) ([]outbox.Message, error) {
		if !may(a) {
			return nil, notFound
		}
		if err := change(a, now); err != nil {
			return nil, apperr.Wrap(apperr.KindFailedPrecondition, err, "%s", err.Error())
		}
		return one(c.assignmentEvent(caller, *a, now))
	})
	if errors.Is(err, docstore.ErrNotFound) {
		return care.Assignment{}, notFound
	}
	return a, err
}

// ListAssignments lists assignments: a client sees their own, a counsellor
// their roster, an admin any (filtered by client or counsellor).
func (c *Care) ListAssignments(ctx context.Context, caller Caller, clientID, counsellorID string, pageSize int, pageToken string) ([]care.Assignment, string, error) {
	// A list that names a client other than the caller is an access to that
	// client's care team, logged: allowed for an admin, and for a
	// counsellor on their own link with the client.
	allowed, named := true, clientID
	switch caller.Role {
	case auth.RoleClient:
		allowed = clientID == "" || clientID == caller.ID
		clientID = caller.ID
	case auth.RoleCounsellor:
		allowed = counsellorID == "" || counsellorID == caller.ID
		counsellorID = caller.ID
		if allowed && clientID != "" {
			_, _, err := c.assignments.Get(ctx, care.AssignmentID(clientID, caller.ID))
			if err != nil && !errors.Is(err, docstore.ErrNotFound) {
				return nil, "", err
			}
			allowed = err == nil
		}
	case auth.RoleAdmin:
	default:
		return nil, "", apperr.PermissionDenied("unknown role")
	}
	if err := c.access.Record(ctx, caller, named, "care-assignments", "ListCareAssignments", OutcomeOf(allowed)); err != nil {
		return nil, "", err
	}
	if !allowed {
		return nil, "", nil
	}
	cursor, err := decodePageToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	size := pageSizeOr(pageSize, 50)
	filter := bson.D{}
	if clientID != "" {
		filter = append(filter, bson.E{Key: "client_id", Value: clientID})
	}
	if counsellorID != "" {
		filter = append(filter, bson.E{Key: "counsellor_id", Value: counsellorID})
	}
	list, err := c.assignments.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}).
		SetSkip(int64(cursor.Skip)).SetLimit(int64(size+1)))
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		next = encodePageToken(pageCursor{Skip: cursor.Skip + size})
	}
	return list, next, nil
}

// Consents lists the client's scopes. Only the client, or their active
// counsellor (who needs to know what they may see), may read them.
func (c *Care) Consents(ctx context.Context, caller Caller, clientID string) (care.Consents, error) {
	if !(caller.Role == auth.RoleClient && caller.ID == clientID) {
		allowed := false
		if caller.Role == auth.RoleCounsellor {
			a, _, err := c.assignments.Get(ctx, care.AssignmentID(clientID, caller.ID))
			if err != nil && !errors.Is(err, docstore.ErrNotFound) {
				return care.Consents{}, err
			}
			allowed = err == nil && a.Status == care.StatusActive
		}
		if err := c.access.Record(ctx, caller, clientID, "consents", "ListConsents", OutcomeOf(allowed)); err != nil {
			return care.Consents{}, err
		}
		if !allowed {
			return care.Consents{}, apperr.NotFound("client %q not found", clientID)
		}
	}
	cs, _, err := c.consents.Get(ctx, clientID)
	if errors.Is(err, docstore.ErrNotFound) {
		return care.Consents{ClientID: clientID}, nil
	}
	return cs, err
}

// setConsent is SetConsent without the erasure guard. It grants or
// revokes a scope. Only the client may; the change holds from the next
// query on.
func (c *Care) setConsent(ctx context.Context, caller Caller, clientID string, scope care.Scope, grant bool) (care.Consents, error) {
	if caller.Role != auth.RoleClient || caller.ID != clientID {
		action := "RevokeConsent"
		if grant {
			action = "GrantConsent"
		}
		return care.Consents{}, c.access.RecordDenied(ctx, caller, clientID, "consents", action, apperr.NotFound("client %q not found", clientID))
	}
	if !scope.Valid() {
		return care.Consents{}, apperr.InvalidArgument(apperr.FieldViolation{Field: "scope", Description: "is not a known consent scope"})
	}
	now := storedNow(c.clk)
	apply := func(cs *care.Consents) ([]outbox.Message, error) {
		cs.ClientID = clientID
		changed := cs.Revoke(scope, now)
		if grant {
			changed = cs.Grant(scope, now)
		}
		if !changed {
			return nil, nil
		}
		return one(c.consentEvent(caller, *cs, scope, grant, now))
	}
	cs, err := c.consents.Update(ctx, clientID, apply)
	if errors.Is(err, docstore.ErrNotFound) {
		fresh := care.Consents{ClientID: clientID}
		events, err := apply(&fresh)
		if err != nil {
			return care.Consents{}, err
		}
		err = c.consents.Create(ctx, clientID, fresh, events...)
		if errors.Is(err, docstore.ErrExists) {
			// Created by a concurrent call: apply on top of it.
			return c.consents.Update(ctx, clientID, apply)
		}
		return fresh, err
	}
	return cs, err
}

func (c *Care) assignmentEvent(caller Caller, a care.Assignment, now time.Time) (outbox.Message, error) {
	subject := "plans.care.requested"
	switch a.Status {
	case care.StatusActive:
		subject = "plans.care.assigned"
	case care.StatusEnded:
		subject = "plans.care.ended"
	}
	return newEvent(subject, a.ClientID, caller.RequestID, now, nil, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_CareAssignmentChanged{CareAssignmentChanged: &eventsv1.CareAssignmentChanged{
			AssignmentId: a.ID,
			CounsellorId: a.CounsellorID,
			Status:       AssignmentStatusProto(a.Status),
			ActorId:      caller.ID,
		}},
	})
}

func (c *Care) consentEvent(caller Caller, cs care.Consents, scope care.Scope, granted bool, now time.Time) (outbox.Message, error) {
	var scopes []plansv1.ConsentScope
	for _, s := range cs.Granted() {
		scopes = append(scopes, ScopeProto(s))
	}
	return newEvent("plans.consent.changed", cs.ClientID, caller.RequestID, now, nil, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_ConsentChanged{ConsentChanged: &eventsv1.ConsentChanged{
			Scope:         ScopeProto(scope),
			Granted:       granted,
			GrantedScopes: scopes,
		}},
	})
}

// AssignmentStatusProto maps an assignment state to its proto enum.
func AssignmentStatusProto(s care.Status) plansv1.CareAssignmentStatus {
	switch s {
	case care.StatusPending:
		return plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_PENDING
	case care.StatusActive:
		return plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE
	case care.StatusEnded:
		return plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ENDED
	}
	return plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_UNSPECIFIED
}

// ScopeProto maps a consent scope to its proto enum.
func ScopeProto(s care.Scope) plansv1.ConsentScope {
	switch s {
	case care.ScopePlanProgress:
		return plansv1.ConsentScope_PLAN_PROGRESS
	case care.ScopeMoodInsights:
		return plansv1.ConsentScope_MOOD_INSIGHTS
	case care.ScopeSharedJournal:
		return plansv1.ConsentScope_SHARED_JOURNAL
	case care.ScopeRiskAlerts:
		return plansv1.ConsentScope_RISK_ALERTS
	}
	return plansv1.ConsentScope_CONSENT_SCOPE_UNSPECIFIED
}

// ScopeFromProto maps a proto consent scope to the domain (0 when unknown).
func ScopeFromProto(s plansv1.ConsentScope) care.Scope {
	for _, d := range care.AllScopes {
		if ScopeProto(d) == s {
			return d
		}
	}
	return 0
}
