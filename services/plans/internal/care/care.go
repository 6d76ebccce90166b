// Package care holds the care-team rules: counsellor assignments, the
// client's consent scopes, and the access decision that every read of a
// client's data goes through.
package care

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// Scope is a part of a client's data the care team may see.
type Scope int

// The consent scopes.
const (
	ScopePlanProgress Scope = iota + 1
	ScopeMoodInsights
	ScopeSharedJournal
	ScopeRiskAlerts
)

// AllScopes lists every scope, in display order.
var AllScopes = []Scope{ScopePlanProgress, ScopeMoodInsights, ScopeSharedJournal, ScopeRiskAlerts}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s >= ScopePlanProgress && s <= ScopeRiskAlerts }

// Key is the stable storage key of a scope.
func (s Scope) Key() string {
	switch s {
	case ScopePlanProgress:
		return "plan_progress"
	case ScopeMoodInsights:
		return "mood_insights"
	case ScopeSharedJournal:
		return "shared_journal"
	case ScopeRiskAlerts:
		return "risk_alerts"
	}
	return ""
}

// Status is an assignment's state.
type Status string

// Assignment states.
const (
	StatusPending Status = "pending"
	StatusActive  Status = "active"
	StatusEnded   Status = "ended"
)

// ErrIllegal is returned for a move the assignment's state does not allow.
var ErrIllegal = errors.New("illegal care assignment change")

// Assignment links a counsellor to a client. There is one per pair: a
// counsellor who was removed and is assigned again reuses it.
type Assignment struct {
	ID           string     `bson:"id"`
	ClientID     string     `bson:"client_id"`
	CounsellorID string     `bson:"counsellor_id"`
	Status       Status     `bson:"status"`
	CreatedBy    string     `bson:"created_by"`
	CreateTime   time.Time  `bson:"create_time"`
	AcceptTime   *time.Time `bson:"accept_time,omitempty"`
	EndTime      *time.Time `bson:"end_time,omitempty"`
}

// AssignmentID is the deterministic id of the (client, counsellor) pair, so
// two concurrent creates for one pair cannot make two assignments.
func AssignmentID(clientID, counsellorID string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + counsellorID))
	return "ca-" + hex.EncodeToString(sum[:12])
}

// NewAssignment starts an assignment: active at once when an admin makes
// it, pending until the client accepts when a counsellor asks.
func NewAssignment(clientID, counsellorID, createdBy string, byAdmin bool, now time.Time) Assignment {
	a := Assignment{
		ID:           AssignmentID(clientID, counsellorID),
		ClientID:     clientID,
		CounsellorID: counsellorID,
		Status:       StatusPending,
		CreatedBy:    createdBy,
		CreateTime:   now,
	}
	if byAdmin {
		a.Status = StatusActive
		a.AcceptTime = &now
	}
	return a
}

// Reopen makes an ended assignment new again (same rules as NewAssignment).
// An assignment that is pending or active is left alone and reported as
// unchanged.
func (a *Assignment) Reopen(createdBy string, byAdmin bool, now time.Time) (changed bool) {
	switch {
	case a.Status == StatusEnded:
		*a = NewAssignment(a.ClientID, a.CounsellorID, createdBy, byAdmin, now)
		return true
	case a.Status == StatusPending && byAdmin:
		a.Status = StatusActive
		a.AcceptTime = &now
		return true
	}
	return false
}

// Accept is the client accepting a pending assignment.
func (a *Assignment) Accept(now time.Time) error {
	if a.Status != StatusPending {
		return fmt.Errorf("%w: only a pending assignment can be accepted (it is %s)", ErrIllegal, a.Status)
	}
	a.Status = StatusActive
	a.AcceptTime = &now
	return nil
}

// End ends a pending or active assignment.
func (a *Assignment) End(now time.Time) error {
	if a.Status == StatusEnded {
		return fmt.Errorf("%w: the assignment has already ended", ErrIllegal)
	}
	a.Status = StatusEnded
	a.EndTime = &now
	return nil
}

// ConsentState is one scope's state.
type ConsentState struct {
	Granted    bool       `bson:"granted"`
	GrantTime  *time.Time `bson:"grant_time,omitempty"`
	RevokeTime *time.Time `bson:"revoke_time,omitempty"`
}

// Consents is a client's consent for their care team, by scope key.
type Consents struct {
	ClientID string                  `bson:"client_id"`
	Scopes   map[string]ConsentState `bson:"scopes"`
}

// Grant grants a scope; it reports whether anything changed.
func (c *Consents) Grant(s Scope, now time.Time) bool {
	if c.Scopes == nil {
		c.Scopes = map[string]ConsentState{}
	}
	st := c.Scopes[s.Key()]
	if st.Granted {
		return false
	}
	st.Granted = true
	st.GrantTime = &now
	c.Scopes[s.Key()] = st
	return true
}

// Revoke revokes a scope; it reports whether anything changed.
func (c *Consents) Revoke(s Scope, now time.Time) bool {
	st, ok := c.Scopes[s.Key()]
	if !ok || !st.Granted {
		return false
	}
	st.Granted = false
	st.RevokeTime = &now
	c.Scopes[s.Key()] = st
	return true
}

// Has reports whether a scope is granted.
func (c *Consents) Has(s Scope) bool {
	return c != nil && c.Scopes[s.Key()].Granted
}

// Granted lists the granted scopes in display order.
func (c *Consents) Granted() []Scope {
	var out []Scope
	for _, s := range AllScopes {
		if c.Has(s) {
			out = append(out, s)
		}
	}
	return out
}

// Decision is the outcome of an access check.
type Decision int

// Decisions.
const (
	// Deny: the caller may not see the data; answer NotFound.
	Deny Decision = iota
	// AllowOwner: the client's own data.
	AllowOwner
	// AllowCareTeam: a counsellor under an active assignment and consent.
	AllowCareTeam
	// AllowAdmin: an admin, for status data only (no notes, no journal).
	AllowAdmin
)

// Decide is the access rule, deny by default: a client sees only their own
// data; a counsellor sees a client's data only under an active assignment
// and only within a granted scope; an admin sees status data when
// adminAllowed says the resource is one an admin manages.
func Decide(callerID string, role auth.Role, clientID string, scope Scope, assignment *Assignment, consents *Consents, adminAllowed bool) Decision {
	switch role {
	case auth.RoleClient:
		if callerID == clientID && callerID != "" {
			return AllowOwner
		}
	case auth.RoleCounsellor:
		if assignment != nil && assignment.Status == StatusActive &&
			assignment.CounsellorID == callerID && assignment.ClientID == clientID &&
			consents.Has(scope) {
			return AllowCareTeam
		}
	case auth.RoleAdmin:
		if adminAllowed {
			return AllowAdmin
		}
	}
	return Deny
}

// Outcome is whether an access was allowed.
type Outcome string

// Outcomes.
const (
	OutcomeAllowed Outcome = "allowed"
	OutcomeDenied  Outcome = "denied"
)

// AccessEntry records one read or change of a client's data by someone
// other than the client. Entries are only ever appended.
type AccessEntry struct {
	ID        string    `bson:"_id"`
	ActorID   string    `bson:"actor_id"`
	ActorRole auth.Role `bson:"actor_role"`
	ClientID  string    `bson:"client_id"`
	Resource  string    `bson:"resource"`
	Action    string    `bson:"action"`
	Outcome   Outcome   `bson:"outcome"`
	Time      time.Time `bson:"time"`
	RequestID string    `bson:"request_id,omitempty"`
}
