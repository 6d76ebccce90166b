// Package app holds the journal service's use cases: who may see what
// (asked of the plans service, which owns the care team and consent, on
// every counsellor access), check-ins, entries, urges with the SOS answer,
// insights, prompts and risk flags.
package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/outbox"
)

// Caller is who is calling (platform/auth).
type Caller = auth.Caller

// CallerFrom reads the verified identity of the call.
func CallerFrom(ctx context.Context) (Caller, error) { return auth.CallerFrom(ctx) }

// Consent scopes as the plans events name them.
const (
	ScopePlanProgress  = careview.ScopePlanProgress
	ScopeMoodInsights  = careview.ScopeMoodInsights
	ScopeSharedJournal = careview.ScopeSharedJournal
	ScopeRiskAlerts    = careview.ScopeRiskAlerts
)

// AccessRecord is a stored access-log record waiting to reach the plans
// service's access log (through its outbox event).
type AccessRecord struct {
	ActorID  string    `bson:"actor_id"`
	ClientID string    `bson:"client_id"`
	Action   string    `bson:"action"`
	Allowed  bool      `bson:"allowed"`
	Time     time.Time `bson:"time"`
}

// CareAuthority answers whether a counsellor may see a scope of a client's data
// at this moment. In production it is the plans service, which owns the
// care team and consent (adapters/plansclient, asking with the caller's
// token): a revocation or an ended assignment that plans has answered OK
// holds here from the next call on, on every replica, whatever NATS or any
// projection has seen. An error means no answer, and the access is refused
// as Unavailable (fail closed).
type CareAuthority interface {
	Allowed(ctx context.Context, clientID, counsellorID, scope string) (bool, error)
	// AllowedAll answers every query for the caller in one question to
	// plans (one CheckCareAccess call), in order. With asCareTeam the
	// caller is a client asking about themself and each answer is whether
	// their care team may see that scope under the current consents.
	AllowedAll(ctx context.Context, callerID string, queries []CareQuery, asCareTeam bool) ([]bool, error)
}

// CareQuery is one question of AllowedAll: this scope of this client.
type CareQuery struct {
	ClientID string
	Scope    string
}

// Access decides who may see a client's journal data.
type Access struct {
	team    CareAuthority
	records *docstore.Store[AccessRecord]
	clk     clock.Clock
}

// NewAccess builds the access checker over the care team's authority.
func NewAccess(team CareAuthority, records *docstore.Store[AccessRecord], clk clock.Clock) *Access {
	return &Access{team: team, records: records, clk: clk}
}

// Decision is an access outcome.
type Decision int

// Decisions.
const (
	Deny Decision = iota
	Owner
	CareTeam
	Admin
)

// Decide applies the rule: the client sees everything of theirs; a
// counsellor sees a scope only under an active assignment and a granted
// consent; an admin only what adminAllowed says (risk flags, never
// content). It records nothing: the caller may know more (a private entry,
// a flag of another client) and records the outcome it answers with.
func (a *Access) Decide(ctx context.Context, c Caller, clientID, scope string, adminAllowed bool) (Decision, error) {
	if c.Role == auth.RoleClient && c.ID == clientID {
		return Owner, nil
	}
	switch c.Role {
	case auth.RoleCounsellor:
		ok, err := a.careTeamMay(ctx, clientID, c.ID, scope)
		if err != nil {
			return Deny, err
		}
		if ok {
			return CareTeam, nil
		}
	case auth.RoleAdmin:
		if adminAllowed {
			return Admin, nil
		}
	}
	return Deny, nil
}

// Check is Decide and Record in one, for a read whose answer is the
// decision. Every access by someone else is logged, allowed or not, before
// anything is shown; a refusal is for the caller to answer NotFound.
func (a *Access) Check(ctx context.Context, c Caller, clientID, scope, resource, action string, adminAllowed bool) (Decision, error) {
	d, err := a.Decide(ctx, c, clientID, scope, adminAllowed)
	if err != nil {
		return Deny, err
	}
	if err := a.Record(ctx, c, clientID, resource, action, d != Deny); err != nil {
		return Deny, err
	}
	return d, nil
}

// OwnerOnly lets only the client through; anyone else's attempt is logged
// as denied and answered NotFound.
func (a *Access) OwnerOnly(ctx context.Context, c Caller, clientID, resource, action string) error {
	if c.Role == auth.RoleClient && c.ID == clientID {
		return nil
	}
	if err := a.Record(ctx, c, clientID, resource, action, false); err != nil {
		return err
	}
	return notFoundClient(clientID)
}

func (a *Access) careTeamMay(ctx context.Context, clientID, counsellorID, scope string) (bool, error) {
	ok, err := a.team.Allowed(ctx, clientID, counsellorID, scope)
	if err != nil {
		return false, apperr.Wrap(apperr.KindUnavailable, err, "the care team's access to this client could not be checked; try again")
	}
	return ok, nil
}

// Record stores one access by someone other than the client (nothing for
// the client themself) with its event in one write; the plans service adds
// it to the client's access log.
func (a *Access) Record(ctx context.Context, c Caller, clientID, resource, action string, allowed bool) error {
	if (c.Role == auth.RoleClient && c.ID == clientID) || clientID == "" {
		return nil
	}
	now := storedNow(a.clk)
	id := uuid.NewString()
	msg, err := newEvent("journal.access.recorded", clientID, c.RequestID, now, "", "", &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_AccessRecorded{AccessRecorded: &eventsv1.AccessRecorded{
			ActorId: c.ID, ActorRole: string(c.Role), Resource: resource, Action: action, Allowed: allowed, RequestId: c.RequestID,
		}},
	})
	if err != nil {
		return err
	}
	rec := AccessRecord{ActorID: c.ID, ClientID: clientID, Action: action, Allowed: allowed, Time: now}
	if err := a.records.Create(ctx, id, rec, msg); err != nil {
		return fmt.Errorf("record access: %w", err)
	}
	return nil
}

// Granted is what a caller may see of each named client, decided at once
// for a batch: the scopes per client, and whether the caller is the client
// (who sees everything of theirs, unless asking as their care team).
type Granted struct {
	Scopes map[string]map[string]bool
	Owner  bool
}

// Has reports whether scope of clientID was granted.
func (g Granted) Has(clientID, scope string) bool { return g.Scopes[clientID][scope] }

// Any reports whether any scope of clientID was granted.
func (g Granted) Any(clientID string) bool { return len(g.Scopes[clientID]) > 0 }

// DecideAll decides, for many clients and scopes, with at most one
// question to plans: the client sees all of their own (nothing of anyone
// else's), a counsellor what plans answers now, an admin nothing (these
// views are health data). asCareTeam is for a client naming only
// themselves: plans then answers what their care team sees. A counsellor
// or admin setting it, or a client naming anyone else with it, is
// InvalidArgument. It records nothing (see RecordAll).
func (a *Access) DecideAll(ctx context.Context, c Caller, clientIDs, scopes []string, asCareTeam bool) (Granted, error) {
	g := Granted{Scopes: map[string]map[string]bool{}}
	if asCareTeam {
		if c.Role != auth.RoleClient {
			return g, apperr.InvalidArgument(apperr.FieldViolation{Field: "as_care_team", Description: "is only for a client asking what their own care team sees"})
		}
		if len(clientIDs) != 1 || clientIDs[0] != c.ID {
			return g, apperr.InvalidArgument(apperr.FieldViolation{Field: "client_ids", Description: "with as_care_team, must name only yourself"})
		}
	}
	var queries []CareQuery
	switch {
	case c.Role == auth.RoleClient && !asCareTeam:
		for _, id := range clientIDs {
			if id == c.ID {
				g.Owner = true
				g.Scopes[id] = map[string]bool{}
				for _, s := range scopes {
					g.Scopes[id][s] = true
				}
			}
		}
		return g, nil
	case c.Role == auth.RoleCounsellor || asCareTeam:
		for _, id := range clientIDs {
			for _, s := range scopes {
				queries = append(queries, CareQuery{ClientID: id, Scope: s})
			}
		}
	default:
		return g, nil
	}
	if len(queries) == 0 {
		return g, nil
	}
	allowed, err := a.team.AllowedAll(ctx, c.ID, queries, asCareTeam)
	if err != nil {
		return g, apperr.Wrap(apperr.KindUnavailable, err, "the care team's access to these clients could not be checked; try again")
	}
	for i, q := range queries {
		if !allowed[i] {
			continue
		}
		if g.Scopes[q.ClientID] == nil {
			g.Scopes[q.ClientID] = map[string]bool{}
		}
		g.Scopes[q.ClientID][q.Scope] = true
	}
	return g, nil
}

// RecordAll stores one access record per client named by someone other
// than the client (ALLOWED when any scope of theirs was granted, DENIED
// otherwise), each with its event, in one insert.
func (a *Access) RecordAll(ctx context.Context, c Caller, g Granted, clientIDs []string, resource, action string) error {
	now := storedNow(a.clk)
	var drafts []docstore.Draft[AccessRecord]
	for _, clientID := range clientIDs {
		if (c.Role == auth.RoleClient && c.ID == clientID) || clientID == "" {
			continue
		}
		allowed := g.Any(clientID)
		msg, err := newEvent("journal.access.recorded", clientID, c.RequestID, now, "", "", &eventsv1.Envelope{
			Payload: &eventsv1.Envelope_AccessRecorded{AccessRecorded: &eventsv1.AccessRecorded{
				ActorId: c.ID, ActorRole: string(c.Role), Resource: resource, Action: action, Allowed: allowed, RequestId: c.RequestID,
			}},
		})
		if err != nil {
			return err
		}
		drafts = append(drafts, docstore.Draft[AccessRecord]{
			ID:     uuid.NewString(),
			Doc:    AccessRecord{ActorID: c.ID, ClientID: clientID, Action: action, Allowed: allowed, Time: now},
			Events: []outbox.Message{msg},
		})
	}
	if err := a.records.CreateMany(ctx, drafts); err != nil {
		return fmt.Errorf("record access: %w", err)
	}
	return nil
}
