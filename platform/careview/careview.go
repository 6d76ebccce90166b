// Package careview is a service's local projection of the care team and the
// client's consent, kept from the plans events (plans.care.*,
// plans.consent.changed), so that every query can check access, and every
// event find its recipients, without asking the plans service.
//
// Each projection document keeps the PLANS stream sequence of the event it
// last applied: a redelivered or older event changes nothing.
package careview

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
)

// Collections of the projection, in the owning service's database.
const (
	CollLinks    = "care_links"
	CollConsents = "consents"
)

// Scopes as the plans events name them.
const (
	ScopePlanProgress  = "PLAN_PROGRESS"
	ScopeMoodInsights  = "MOOD_INSIGHTS"
	ScopeSharedJournal = "SHARED_JOURNAL"
	ScopeRiskAlerts    = "RISK_ALERTS"
)

// Link is one (client, counsellor) assignment.
type Link struct {
	ClientID     string `bson:"client_id"`
	CounsellorID string `bson:"counsellor_id"`
	Active       bool   `bson:"active"`
	Seq          int64  `bson:"seq"`
}

// Consent is a client's granted scopes.
type Consent struct {
	ClientID string   `bson:"client_id"`
	Scopes   []string `bson:"scopes"`
	Seq      int64    `bson:"seq"`
}

// View reads and keeps the projection.
type View struct {
	links, consents *mongo.Collection
}

// New returns the view over db's projection collections.
func New(db *mongo.Database) *View {
	return &View{links: db.Collection(CollLinks), consents: db.Collection(CollConsents)}
}

// Indexes of the projection collections.
func Indexes() map[string][]mongo.IndexModel {
	return map[string][]mongo.IndexModel{
		CollLinks: {{Keys: bson.D{{Key: "client_id", Value: 1}, {Key: "active", Value: 1}}, Options: options.Index().SetName("client_active")}},
	}
}

// linkID is the projection document id of one (client, counsellor) pair,
// unambiguous whatever the ids hold: a pair without "|" keeps the plain
// "client|counsellor" of the documents already stored (exactly one "|"); any
// other pair gets a length-prefixed id, which always holds two or more "|"
// and so can equal neither a plain id nor another pair's.
func linkID(clientID, counsellorID string) string {
	if !strings.Contains(clientID, "|") && !strings.Contains(counsellorID, "|") {
		return clientID + "|" + counsellorID
	}
	return fmt.Sprintf("%d:%s|%s", len(clientID), clientID, counsellorID)
}

// Allowed reports whether the counsellor is actively assigned to the client
// and the client granted scope.
func (v *View) Allowed(ctx context.Context, clientID, counsellorID, scope string) (bool, error) {
	var l Link
	err := v.links.FindOne(ctx, bson.D{{Key: "_id", Value: linkID(clientID, counsellorID)}}).Decode(&l)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load care link: %w", err)
	}
	// The stored pair must be the asked one, whatever the id says.
	if !l.Active || l.ClientID != clientID || l.CounsellorID != counsellorID {
		return false, nil
	}
	return v.granted(ctx, clientID, scope)
}

// Counsellors lists the client's active counsellors when scope is granted
// (scope "" means any: the assignment alone).
func (v *View) Counsellors(ctx context.Context, clientID, scope string) ([]string, error) {
	if scope != "" {
		ok, err := v.granted(ctx, clientID, scope)
		if err != nil || !ok {
			return nil, err
		}
	}
	cur, err := v.links.Find(ctx, bson.D{{Key: "client_id", Value: clientID}, {Key: "active", Value: true}}, options.Find().SetLimit(100))
	if err != nil {
		return nil, fmt.Errorf("find care links: %w", err)
	}
	var links []Link
	if err := cur.All(ctx, &links); err != nil {
		return nil, fmt.Errorf("read care links: %w", err)
	}
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.CounsellorID
	}
	return out, nil
}

func (v *View) granted(ctx context.Context, clientID, scope string) (bool, error) {
	var c Consent
	err := v.consents.FindOne(ctx, bson.D{{Key: "_id", Value: clientID}}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	if c.ClientID != clientID {
		return false, nil
	}
	for _, s := range c.Scopes {
		if s == scope {
			return true, nil
		}
	}
	return false, nil
}

// ApplyAssignment applies an assignment event at PLANS stream sequence seq.
func (v *View) ApplyAssignment(ctx context.Context, clientID, counsellorID string, active bool, seq int64) error {
	id := linkID(clientID, counsellorID)
	return apply(ctx, v.links, id, seq, Link{ClientID: clientID, CounsellorID: counsellorID, Active: active, Seq: seq})
}

// ApplyConsent applies a consent event (the whole granted set) at seq.
func (v *View) ApplyConsent(ctx context.Context, clientID string, scopes []string, seq int64) error {
	if scopes == nil {
		scopes = []string{}
	}
	return apply(ctx, v.consents, clientID, seq, Consent{ClientID: clientID, Scopes: scopes, Seq: seq})
}

// beforeInsert, when set (tests only), runs between apply's conditional
// update missing and its insert: the window in which another replica can
// create the document.
var beforeInsert func()

// apply sets doc when the stored sequence is older, and creates it the
// first time. Correct under any interleaving of replicas on MongoDB: when
// the insert finds the document created meanwhile (by another replica
// applying another event), the conditional update runs again, so a newer
// event is never dropped for an older one that happened to insert first.
// After that second update, matching nothing means the stored event is as
// new or newer (projection documents are never deleted).
func apply(ctx context.Context, coll *mongo.Collection, id string, seq int64, doc any) error {
	update := func() (bool, error) {
		res, err := coll.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: seq}}}},
			bson.D{{Key: "$set", Value: doc}})
		if err != nil {
			return false, fmt.Errorf("update projection: %w", err)
		}
		return res.MatchedCount > 0, nil
	}
	if done, err := update(); done || err != nil {
		return err
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	var m bson.D
	if err := bson.Unmarshal(raw, &m); err != nil {
		return err
	}
	m = append(bson.D{{Key: "_id", Value: id}}, m...)
	if beforeInsert != nil {
		beforeInsert()
	}
	_, err = coll.InsertOne(ctx, m)
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("insert projection: %w", err)
	}
	_, err = update()
	return err
}

// Subjects are the plans events the projection needs.
var Subjects = []string{"plans.care.>", "plans.consent.changed"}

// Spec is the durable consumer of those events for one service.
func Spec(durable string) natsx.ConsumerSpec {
	return natsx.ConsumerSpec{Stream: "PLANS", Durable: durable, FilterSubjects: Subjects}
}

// Handler applies care and consent events to v; other events are ignored.
func Handler(v *View) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, seq int64) error {
		return Apply(ctx, v, env, seq)
	})
}

// Apply applies one decoded event at stream sequence seq (consumers that
// read more than the care events call it from their own handler).
func Apply(ctx context.Context, v *View, env *eventsv1.Envelope, seq int64) error {
	switch p := env.GetPayload().(type) {
	case *eventsv1.Envelope_CareAssignmentChanged:
		a := p.CareAssignmentChanged
		active := a.GetStatus() == plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE
		return v.ApplyAssignment(ctx, env.GetClientId(), a.GetCounsellorId(), active, seq)
	case *eventsv1.Envelope_ConsentChanged:
		scopes := make([]string, 0, len(p.ConsentChanged.GetGrantedScopes()))
		for _, s := range p.ConsentChanged.GetGrantedScopes() {
			scopes = append(scopes, s.String())
		}
		return v.ApplyConsent(ctx, env.GetClientId(), scopes, seq)
	}
	return nil
}

// Query is one question to the plans service's CheckCareAccess: may the
// caller see this scope (a ConsentScope name, e.g. ScopeSharedJournal) of
// this client now?
type Query struct {
	ClientID string
	Scope    string
}

// Ask puts queries to plans' CheckCareAccess with the caller's token (ctx
// of a call made through platform/grpcclient, which forwards it) and
// answers them in order. It is the one way the other services ask plans
// for the care team's access.
func Ask(ctx context.Context, care plansv1.CareServiceClient, queries []Query) ([]bool, error) {
	req := &plansv1.CheckCareAccessRequest{}
	for _, q := range queries {
		s, ok := plansv1.ConsentScope_value[q.Scope]
		if !ok || s == 0 {
			return nil, fmt.Errorf("unknown consent scope %q", q.Scope)
		}
		req.Queries = append(req.Queries, &plansv1.CareAccessQuery{ClientId: q.ClientID, Scope: plansv1.ConsentScope(s)})
	}
	resp, err := care.CheckCareAccess(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("plans care access: %w", err)
	}
	if len(resp.GetAllowed()) != len(queries) {
		return nil, fmt.Errorf("plans care access: %d answers to %d questions", len(resp.GetAllowed()), len(queries))
	}
	return resp.GetAllowed(), nil
}
