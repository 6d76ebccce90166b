// Package app holds the journal service's use cases: who may see what
// (from a projection of the care team and consent kept from the plans
// events), check-ins, entries, urges with the SOS answer, insights, prompts
// and risk flags.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/logging"
)

// Caller is who is calling, from the verified token.
type Caller struct {
	ID        string
	Role      auth.Role
	RequestID string
}

// CallerFrom reads the verified identity from ctx.
func CallerFrom(ctx context.Context) (Caller, error) {
	id, ok := auth.FromContext(ctx)
	if !ok || id.Subject == "" {
		return Caller{}, apperr.Unauthenticated("authentication required")
	}
	return Caller{ID: id.Subject, Role: id.Role, RequestID: logging.RequestID(ctx)}, nil
}

// Consent scopes as the plans events name them.
const (
	ScopeMoodInsights  = "MOOD_INSIGHTS"
	ScopeSharedJournal = "SHARED_JOURNAL"
	ScopeRiskAlerts    = "RISK_ALERTS"
)

// CareLink is the projection of one (client, counsellor) assignment.
type CareLink struct {
	ClientID     string `bson:"client_id"`
	CounsellorID string `bson:"counsellor_id"`
	Active       bool   `bson:"active"`
	Seq          int64  `bson:"seq"`
}

// ConsentState is the projection of a client's granted scopes.
type ConsentState struct {
	ClientID string   `bson:"client_id"`
	Scopes   []string `bson:"scopes"`
	Seq      int64    `bson:"seq"`
}

// LinkID is the projection id of a (client, counsellor) pair.
func LinkID(clientID, counsellorID string) string { return clientID + "|" + counsellorID }

// AccessRecord is a stored access-log record waiting to reach the plans
// service's access log (through its outbox event).
type AccessRecord struct {
	ActorID  string    `bson:"actor_id"`
	ClientID string    `bson:"client_id"`
	Action   string    `bson:"action"`
	Allowed  bool      `bson:"allowed"`
	Time     time.Time `bson:"time"`
}

// Access decides who may see a client's journal data.
type Access struct {
	links    *mongo.Collection
	consents *mongo.Collection
	records  *docstore.Store[AccessRecord]
	clk      clock.Clock
}

// NewAccess builds the access checker.
func NewAccess(links, consents *mongo.Collection, records *docstore.Store[AccessRecord], clk clock.Clock) *Access {
	return &Access{links: links, consents: consents, records: records, clk: clk}
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

// Check applies the rule: the client sees everything of theirs; a
// counsellor sees a scope only under an active assignment and a granted
// consent; an admin only what adminAllowed says (risk flags, never
// content). Every access by someone else is logged, allowed or not; a
// refusal answers NotFound.
func (a *Access) Check(ctx context.Context, c Caller, clientID, scope, resource, action string, adminAllowed bool) (Decision, error) {
	if c.Role == auth.RoleClient && c.ID == clientID {
		return Owner, nil
	}
	d := Deny
	switch c.Role {
	case auth.RoleCounsellor:
		ok, err := a.careTeamMay(ctx, clientID, c.ID, scope)
		if err != nil {
			return Deny, err
		}
		if ok {
			d = CareTeam
		}
	case auth.RoleAdmin:
		if adminAllowed {
			d = Admin
		}
	}
	if err := a.record(ctx, c, clientID, resource, action, d != Deny); err != nil {
		return Deny, err
	}
	return d, nil
}

func (a *Access) careTeamMay(ctx context.Context, clientID, counsellorID, scope string) (bool, error) {
	var link CareLink
	err := a.links.FindOne(ctx, bson.D{{Key: "_id", Value: LinkID(clientID, counsellorID)}}).Decode(&link)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load care link: %w", err)
	}
	if !link.Active {
		return false, nil
	}
	var cs ConsentState
	err = a.consents.FindOne(ctx, bson.D{{Key: "_id", Value: clientID}}).Decode(&cs)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	for _, s := range cs.Scopes {
		if s == scope {
			return true, nil
		}
	}
	return false, nil
}

// record stores the access with its event in one write; the plans service
// adds it to the client's access log.
func (a *Access) record(ctx context.Context, c Caller, clientID, resource, action string, allowed bool) error {
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

// ApplyAssignment updates the care-team projection from a plans event. seq
// is the event's PLANS stream sequence: an event older than what the
// projection holds changes nothing, so redelivery is harmless.
func (a *Access) ApplyAssignment(ctx context.Context, clientID, counsellorID string, active bool, seq int64) error {
	id := LinkID(clientID, counsellorID)
	link := CareLink{ClientID: clientID, CounsellorID: counsellorID, Active: active, Seq: seq}
	_, err := a.links.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: seq}}}},
		bson.D{{Key: "$set", Value: link}})
	if err != nil {
		return fmt.Errorf("update care link: %w", err)
	}
	return a.insertIfMissing(ctx, a.links, id, link)
}

// ApplyConsent updates the consent projection from a plans event (the event
// carries the whole granted set); seq as for ApplyAssignment.
func (a *Access) ApplyConsent(ctx context.Context, clientID string, scopes []string, seq int64) error {
	if scopes == nil {
		scopes = []string{}
	}
	cs := ConsentState{ClientID: clientID, Scopes: scopes, Seq: seq}
	_, err := a.consents.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: clientID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: seq}}}},
		bson.D{{Key: "$set", Value: cs}})
	if err != nil {
		return fmt.Errorf("update consent: %w", err)
	}
	return a.insertIfMissing(ctx, a.consents, clientID, cs)
}

// insertIfMissing creates the projection document the first time; when it
// exists already (the update above applied, or a newer event is held) the
// duplicate key is the expected answer.
func (a *Access) insertIfMissing(ctx context.Context, coll *mongo.Collection, id string, doc any) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	var m bson.D
	if err := bson.Unmarshal(raw, &m); err != nil {
		return err
	}
	m = append(bson.D{{Key: "_id", Value: id}}, m...)
	if _, err := coll.InsertOne(ctx, m); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("insert projection: %w", err)
	}
	return nil
}
