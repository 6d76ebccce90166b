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
)

// Caller is who is calling (platform/auth).
type Caller = auth.Caller

// CallerFrom reads the verified identity of the call.
func CallerFrom(ctx context.Context) (Caller, error) { return auth.CallerFrom(ctx) }

// Consent scopes as the plans events name them.
const (
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
