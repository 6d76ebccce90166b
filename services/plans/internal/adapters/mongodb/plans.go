package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// PlanStore keeps each plan, with its contact log and milestone records,
// as one document: every change is one version-checked write that also
// carries its events (see docstore).
type PlanStore struct {
	*docstore.Store[plan.Plan]
}

// NewPlanStore returns the plan store over coll; kick wakes the relay.
func NewPlanStore(coll *mongo.Collection, kick func()) *PlanStore {
	return &PlanStore{Store: docstore.New[plan.Plan](coll, kick)}
}

// ListByClient lists a client's plans, newest first.
func (s *PlanStore) ListByClient(ctx context.Context, clientID string, skip, limit int) ([]plan.Plan, error) {
	return s.Find(ctx, bson.D{{Key: "client_id", Value: clientID}}, options.Find().
		SetSort(bson.D{{Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}).
		SetSkip(int64(skip)).SetLimit(int64(limit)))
}

// ClaimDue leases the longest overdue active plan with something due at
// or before now that no scheduler holds (docstore.Claim); ErrNotFound when
// there is none. Served by the status_due_claim index.
func (s *PlanStore) ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (string, error) {
	return s.Claim(ctx,
		bson.D{{Key: "status", Value: string(plan.StatusActive)}, {Key: "next_due_time", Value: bson.D{{Key: "$lte", Value: now}}}},
		bson.D{{Key: "next_due_time", Value: 1}}, now, lease)
}
