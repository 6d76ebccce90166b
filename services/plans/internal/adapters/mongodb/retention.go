package mongodb

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/retention"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// Retention removes the plans service's data past its retention period, a
// bounded batch per call (platform/retention turns each into a job).
type Retention struct {
	plans, contacts, accessLog *mongo.Collection
}

// NewRetention returns the sweeps over db's collections.
func NewRetention(db *mongo.Database) *Retention {
	return &Retention{plans: db.Collection(CollPlans), contacts: db.Collection(CollContacts), accessLog: db.Collection(CollAccessLog)}
}

// EndedPlansFilter selects plans that stopped (ended, cancelled, closed)
// before cutoff and whose events have all been published. A completed plan
// still counts days and is kept; a plan without an end time (none is
// written so) is never selected.
func EndedPlansFilter(cutoff time.Time) bson.D {
	return bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{string(plan.StatusEnded), string(plan.StatusCancelled), string(plan.StatusClosed)}}}},
		{Key: "end_time", Value: bson.D{{Key: "$lt", Value: cutoff}}},
		{Key: outbox.FieldPending, Value: false},
	}
}

// EndedPlans deletes at most limit plans that ended before cutoff, each
// with its contact log (its milestone records live in the plan document).
// The contacts go first, then the plan under the same filter: a stopped
// plan accepts no contact (plan.Plan refuses them once ended), so nothing
// can be added between the two deletes, and a crash between them leaves
// the plan, which the next pass selects again and finishes.
func (r *Retention) EndedPlans(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	filter := EndedPlansFilter(cutoff)
	ids, err := retention.IDs(ctx, r.plans, filter, limit)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, id := range ids {
		var planID string
		if err := id.Unmarshal(&planID); err != nil {
			return deleted, fmt.Errorf("plan id: %w", err)
		}
		if _, err := r.contacts.DeleteMany(ctx, bson.D{{Key: "plan_id", Value: planID}}); err != nil {
			return deleted, fmt.Errorf("delete contacts of plan %s: %w", planID, err)
		}
		res, err := r.plans.DeleteOne(ctx, append(bson.D{{Key: "_id", Value: planID}}, filter...))
		if err != nil {
			return deleted, fmt.Errorf("delete plan %s: %w", planID, err)
		}
		deleted += int(res.DeletedCount)
	}
	return deleted, nil
}

// AccessLog deletes access-log entries recorded before cutoff.
func (r *Retention) AccessLog(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return retention.DeleteBatch(ctx, r.accessLog, bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: cutoff}}}}, limit)
}
