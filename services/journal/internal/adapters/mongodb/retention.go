package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/retention"
)

// Retention removes the journal's data past its retention period, a
// bounded batch per call (platform/retention turns each into a job).
type Retention struct {
	access *mongo.Collection
}

// NewRetention returns the sweeps over db's collections.
func NewRetention(db *mongo.Database) *Retention {
	return &Retention{access: db.Collection(CollAccess)}
}

// SentAccessRecords deletes access records from before cutoff whose
// AccessRecorded event has been published (outbox sent) and so reached the
// plans service's access log, which keeps it for six years. A record still
// pending is kept whatever its age: no attempt leaves the log unrecorded.
func (r *Retention) SentAccessRecords(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return retention.DeleteBatch(ctx, r.access, bson.D{
		{Key: "time", Value: bson.D{{Key: "$lt", Value: cutoff}}},
		{Key: outbox.FieldPending, Value: false},
	}, limit)
}
