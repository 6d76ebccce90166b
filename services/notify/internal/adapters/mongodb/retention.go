// Package mongodb holds notify's stores that live beside the app's own
// queries: here, what the retention sweeps remove.
package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/retention"
)

// Retention removes notify's data past its retention period, a bounded
// batch per call (platform/retention turns each into a job).
type Retention struct {
	notifications, deliveries, access, caps *mongo.Collection
}

// NewRetention returns the sweeps over the notifications, webhook
// deliveries, access records and daily caps collections.
func NewRetention(notifications, deliveries, access, caps *mongo.Collection) *Retention {
	return &Retention{notifications: notifications, deliveries: deliveries, access: access, caps: caps}
}

func before(t time.Time) bson.D { return bson.D{{Key: "$lt", Value: t}} }

// finished are the delivery states after which nothing is sent any more; a
// pending delivery keeps its payload for its next attempt.
var finished = bson.D{{Key: "$in", Value: bson.A{"delivered", "failed"}}}

// Notifications deletes notifications created before cutoff, delivered or
// not (one still held after its period is of no use to anyone), except
// those whose webhooks are still to be enqueued.
func (r *Retention) Notifications(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return retention.DeleteBatch(ctx, r.notifications, bson.D{
		{Key: "create_time", Value: before(cutoff)},
		{Key: "webhooks_due", Value: bson.D{{Key: "$exists", Value: false}}},
	}, limit)
}

// DeliveryPayloads clears the payload (the notification's text as sent to
// the receiver) of finished deliveries created before cutoff; the record
// of the attempt (status, attempts, HTTP status) stays until Deliveries.
func (r *Retention) DeliveryPayloads(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return retention.UpdateBatch(ctx, r.deliveries, bson.D{
		{Key: "create_time", Value: before(cutoff)},
		{Key: "status", Value: finished},
		{Key: "payload", Value: bson.D{{Key: "$exists", Value: true}}},
	}, bson.D{{Key: "$unset", Value: bson.D{{Key: "payload", Value: ""}}}}, limit)
}

// Deliveries deletes finished deliveries created before cutoff.
func (r *Retention) Deliveries(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return retention.DeleteBatch(ctx, r.deliveries, bson.D{
		{Key: "create_time", Value: before(cutoff)},
		{Key: "status", Value: finished},
	}, limit)
}

// SentAccessRecords deletes access records from before cutoff whose event
// has reached the plans service's access log (outbox sent); one still
// pending is kept whatever its age, so no attempt leaves the log unrecorded.
func (r *Retention) SentAccessRecords(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return retention.DeleteBatch(ctx, r.access, bson.D{
		{Key: "time", Value: before(cutoff)},
		{Key: outbox.FieldPending, Value: false},
	}, limit)
}

// DailyCaps deletes the daily cap's counters of local days before
// cutoff's UTC date. A local date is at most 14 hours off its UTC one; the
// caller's period leaves room for that and for any event still to arrive
// about such a day.
func (r *Retention) DailyCaps(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return retention.DeleteBatch(ctx, r.caps, bson.D{
		{Key: "date", Value: bson.D{{Key: "$lt", Value: cutoff.UTC().Format(time.DateOnly)}}},
	}, limit)
}
