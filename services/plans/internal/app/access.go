// Package app holds the plans service's use cases: who may do what
// (authorization and the access log), the plan commands and queries, and
// the care-team commands. It speaks domain types; ports map them to proto.
package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/services/plans/internal/care"
)

// Caller is who is calling (platform/auth).
type Caller = auth.Caller

// CallerFrom reads the verified identity of the call.
func CallerFrom(ctx context.Context) (Caller, error) { return auth.CallerFrom(ctx) }

// Access decides whether a caller may touch a client's data and records
// every access by someone other than the client.
type Access struct {
	assignments *docstore.Store[care.Assignment]
	consents    *docstore.Store[care.Consents]
	log         *mongo.Collection
	clk         clock.Clock
}

// NewAccess builds the access checker.
func NewAccess(assignments *docstore.Store[care.Assignment], consents *docstore.Store[care.Consents], accessLog *mongo.Collection, clk clock.Clock) *Access {
	return &Access{assignments: assignments, consents: consents, log: accessLog, clk: clk}
}

// Decide applies the access rule (care.Decide) for one scope of a
// client's data. It records nothing: the caller knows more (whether the
// RPC is the client's alone, whether the resource is there) and records
// the outcome it answers with (Record), before it answers.
func (a *Access) Decide(ctx context.Context, c Caller, clientID string, scope care.Scope, adminAllowed bool) (care.Decision, error) {
	if c.Role == auth.RoleClient && c.ID == clientID {
		return care.AllowOwner, nil
	}
	assignment, consents, err := a.careState(ctx, c, clientID)
	if err != nil {
		return care.Deny, err
	}
	return care.Decide(c.ID, c.Role, clientID, scope, assignment, consents, adminAllowed), nil
}

// careState loads what the rule needs for a counsellor: their assignment
// to the client and, when there is one, the client's consents (nil when
// absent, and nothing for any other role).
func (a *Access) careState(ctx context.Context, c Caller, clientID string) (*care.Assignment, *care.Consents, error) {
	if c.Role != auth.RoleCounsellor {
		return nil, nil, nil
	}
	as, _, err := a.assignments.Get(ctx, care.AssignmentID(clientID, c.ID))
	switch {
	case errors.Is(err, docstore.ErrNotFound):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("load assignment: %w", err)
	}
	cs, _, err := a.consents.Get(ctx, clientID)
	switch {
	case errors.Is(err, docstore.ErrNotFound):
		return &as, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("load consents: %w", err)
	}
	return &as, &cs, nil
}

// careStates loads, in two queries whatever their number, the calling
// counsellor's assignments to the clients and the clients' consents
// (maps keyed by client id; absent when there is none).
func (a *Access) careStates(ctx context.Context, c Caller, clientIDs []string) (map[string]care.Assignment, map[string]care.Consents, error) {
	assignments := map[string]care.Assignment{}
	consents := map[string]care.Consents{}
	if c.Role != auth.RoleCounsellor || len(clientIDs) == 0 {
		return assignments, consents, nil
	}
	ids := make([]string, len(clientIDs))
	for i, id := range clientIDs {
		ids[i] = care.AssignmentID(id, c.ID)
	}
	list, err := a.assignments.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, nil, fmt.Errorf("load assignments: %w", err)
	}
	for _, as := range list {
		if as.CounsellorID == c.ID {
			assignments[as.ClientID] = as
		}
	}
	cs, err := a.loadConsents(ctx, clientIDs)
	if err != nil {
		return nil, nil, err
	}
	return assignments, cs, nil
}

// loadConsents reads the consents of the clients in one query.
func (a *Access) loadConsents(ctx context.Context, clientIDs []string) (map[string]care.Consents, error) {
	out := map[string]care.Consents{}
	list, err := a.consents.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: clientIDs}}}})
	if err != nil {
		return nil, fmt.Errorf("load consents: %w", err)
	}
	for _, cs := range list {
		out[cs.ClientID] = cs
	}
	return out, nil
}

// AccessQuery is one question of Allowed: may the caller see this scope of
// this client now?
type AccessQuery struct {
	ClientID string
	Scope    care.Scope
}

// Allowed answers each query for the caller from this service's own
// records, read now: the answer the journal and notify services rest every
// counsellor read on (CheckCareAccess), so that a revocation or an ended
// assignment that has answered OK here holds there at once, whatever their
// event projections have seen. An admin gets false (the other services
// apply their own admin rules, which need no consent); nothing is logged,
// as no client data is read.
//
// The records of every client named are read in two queries, whatever
// their number (a roster of 500 clients asks 2000 questions in one call).
// With asCareTeam, a client asking about their own id only learns what
// their care team may see: the scopes they granted, assignment or not.
func (a *Access) Allowed(ctx context.Context, c Caller, queries []AccessQuery, asCareTeam bool) ([]bool, error) {
	var ids []string
	seen := map[string]bool{}
	for i, q := range queries {
		if asCareTeam && (c.Role != auth.RoleClient || q.ClientID != c.ID) {
			return nil, apperr.InvalidArgument(apperr.FieldViolation{Field: "as_care_team",
				Description: "only a client asking about their own id may ask what their care team sees"})
		}
		if !seen[q.ClientID] {
			seen[q.ClientID] = true
			ids = append(ids, q.ClientID)
		}
		_ = i
	}
	out := make([]bool, len(queries))
	if asCareTeam {
		cs, err := a.loadConsents(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i, q := range queries {
			c := cs[q.ClientID]
			out[i] = c.Has(q.Scope)
		}
		return out, nil
	}
	assignments, consents, err := a.careStates(ctx, c, ids)
	if err != nil {
		return nil, err
	}
	for i, q := range queries {
		if c.Role == auth.RoleClient && c.ID == q.ClientID {
			out[i] = true
			continue
		}
		var as *care.Assignment
		var cs *care.Consents
		if v, ok := assignments[q.ClientID]; ok {
			as = &v
			if w, ok := consents[q.ClientID]; ok {
				cs = &w
			}
		}
		out[i] = care.Decide(c.ID, c.Role, q.ClientID, q.Scope, as, cs, false) != care.Deny
	}
	return out, nil
}

// Check is Decide and Record in one, for a read whose answer is the
// decision: a caller other than the client is recorded with the outcome
// decided, and the write of the log entry must succeed for the access to
// proceed (health data is not shown unaudited). A refusal is for the
// caller to answer NotFound, so that ids cannot be probed.
func (a *Access) Check(ctx context.Context, c Caller, clientID string, scope care.Scope, resource, action string, adminAllowed bool) (care.Decision, error) {
	d, err := a.Decide(ctx, c, clientID, scope, adminAllowed)
	if err != nil {
		return care.Deny, err
	}
	if err := a.Record(ctx, c, clientID, resource, action, OutcomeOf(d != care.Deny)); err != nil {
		return care.Deny, err
	}
	return d, nil
}

// OutcomeOf is the logged outcome of an attempt that was allowed or not.
func OutcomeOf(allowed bool) care.Outcome {
	if allowed {
		return care.OutcomeAllowed
	}
	return care.OutcomeDenied
}

// RecordDenied records a refused attempt by someone other than the client
// (Record with OutcomeDenied); it answers refusal, or the error of the
// write when the log could not be written.
func (a *Access) RecordDenied(ctx context.Context, c Caller, clientID, resource, action string, refusal error) error {
	if err := a.Record(ctx, c, clientID, resource, action, care.OutcomeDenied); err != nil {
		return err
	}
	return refusal
}

// Record appends one access-log entry for an actor other than the client
// (nothing for the client themself, or when no client is named).
func (a *Access) Record(ctx context.Context, c Caller, clientID, resource, action string, outcome care.Outcome) error {
	if (c.Role == auth.RoleClient && c.ID == clientID) || clientID == "" {
		return nil
	}
	entry := care.AccessEntry{
		ID:        uuid.NewString(),
		ActorID:   c.ID,
		ActorRole: c.Role,
		ClientID:  clientID,
		Resource:  resource,
		Action:    action,
		Outcome:   outcome,
		Time:      storedNow(a.clk),
		RequestID: c.RequestID,
	}
	if _, err := a.log.InsertOne(ctx, entry); err != nil {
		return fmt.Errorf("write access log: %w", err)
	}
	return nil
}

// Attempt is one client's outcome in a batch read.
type Attempt struct {
	ClientID string
	Outcome  care.Outcome
}

// RecordMany appends one access-log entry per attempt in one write (a
// batch read of many clients), skipping the caller's own id.
func (a *Access) RecordMany(ctx context.Context, c Caller, resource, action string, attempts []Attempt) error {
	now := storedNow(a.clk)
	var docs []any
	for _, at := range attempts {
		if (c.Role == auth.RoleClient && c.ID == at.ClientID) || at.ClientID == "" {
			continue
		}
		docs = append(docs, care.AccessEntry{
			ID: uuid.NewString(), ActorID: c.ID, ActorRole: c.Role, ClientID: at.ClientID,
			Resource: resource, Action: action, Outcome: at.Outcome, Time: now, RequestID: c.RequestID,
		})
	}
	if len(docs) == 0 {
		return nil
	}
	if _, err := a.log.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("write access log: %w", err)
	}
	return nil
}

// ByActor lists the entries of the client's log made by actorID, newest
// first, at most limit (a counsellor's own reads of a client's data).
func (a *Access) ByActor(ctx context.Context, clientID, actorID string, limit int) ([]care.AccessEntry, error) {
	cur, err := a.log.Find(ctx, bson.D{{Key: "client_id", Value: clientID}, {Key: "actor_id", Value: actorID}},
		options.Find().SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list access log: %w", err)
	}
	var entries []care.AccessEntry
	if err := cur.All(ctx, &entries); err != nil {
		return nil, fmt.Errorf("read access log: %w", err)
	}
	return entries, nil
}

// AccessLogPage is one page of the access log.
type AccessLogPage struct {
	Entries       []care.AccessEntry
	NextPageToken string
}

// ListAccessLog lists who else touched the client's data, newest first.
// Only the client may list it.
func (a *Access) ListAccessLog(ctx context.Context, c Caller, clientID string, pageSize int, pageToken string) (AccessLogPage, error) {
	if c.Role != auth.RoleClient || c.ID != clientID {
		return AccessLogPage{}, a.RecordDenied(ctx, c, clientID, "access-log", "ListAccessLog", apperr.NotFound("client %q not found", clientID))
	}
	size := pageSizeOr(pageSize, 50)
	offset, err := decodePageToken(pageToken)
	if err != nil {
		return AccessLogPage{}, err
	}
	// Entries are only appended at the head (newest first), so an offset
	// cursor could repeat an entry across pages when new ones arrive. The
	// token therefore pins the newest time seen on the first page.
	filter := bson.D{{Key: "client_id", Value: clientID}}
	if offset.Before != nil {
		filter = append(filter, bson.E{Key: "time", Value: bson.D{{Key: "$lte", Value: *offset.Before}}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64(offset.Skip)).
		SetLimit(int64(size + 1))
	cur, err := a.log.Find(ctx, filter, opts)
	if err != nil {
		return AccessLogPage{}, fmt.Errorf("list access log: %w", err)
	}
	var entries []care.AccessEntry
	if err := cur.All(ctx, &entries); err != nil {
		return AccessLogPage{}, fmt.Errorf("read access log: %w", err)
	}
	page := AccessLogPage{Entries: entries}
	if len(entries) > size {
		page.Entries = entries[:size]
		before := offset.Before
		if before == nil {
			t := entries[0].Time
			before = &t
		}
		page.NextPageToken = encodePageToken(pageCursor{Skip: offset.Skip + size, Before: before})
	}
	return page, nil
}

// Append adds an entry recorded by another service (the journal's access
// events). The entry id is the event id, so a redelivery adds nothing.
func (a *Access) Append(ctx context.Context, e care.AccessEntry) error {
	if _, err := a.log.InsertOne(ctx, e); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("append access log: %w", err)
	}
	return nil
}
