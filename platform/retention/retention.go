// Package retention removes data once its kind's retention period has
// passed. FerretDB has no TTL indexes (DESIGN §6), so each kind is swept by
// a platform/jobs job, which runs once across replicas; a sweep works in
// bounded batches (a bounded read of ids, then one delete of those ids
// under the same filter), extending its lease between batches, so one pass
// holds bounded memory and a crashed pass is simply resumed by the next.
//
// What is removed, and how, is each service's own adapter's business (a
// Sweep); this package only turns a Sweep into a job.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/jobs"
)

// Config is how often the sweeps run and how much each batch takes; every
// service's Config embeds it. The periods themselves are per kind, in each
// service's Config.
type Config struct {
	// Interval between two passes of each kind's sweep.
	Interval time.Duration `env:"RETENTION_INTERVAL" envDefault:"1h"`
	// BatchSize bounds the documents one batch of a sweep reads and removes.
	BatchSize int `env:"RETENTION_BATCH_SIZE" envDefault:"500"`
}

// Validate refuses an interval or batch size that is not positive.
func (c Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, errors.New("RETENTION_INTERVAL must be positive"))
	}
	if c.BatchSize <= 0 {
		errs = append(errs, errors.New("RETENTION_BATCH_SIZE must be positive"))
	}
	return errors.Join(errs...)
}

// Sweep removes (or clears) at most limit items that are older than cutoff
// and returns how many it removed. A Sweep is idempotent: removing what is
// already gone removes nothing.
type Sweep func(ctx context.Context, cutoff time.Time, limit int) (int, error)

// Kind is one kind of data with its retention period.
type Kind struct {
	// Name of the kind ("notifications"); the job is "retention.<Name>".
	Name string
	// Period is how long an item is kept; must be positive.
	Period time.Duration
	// Sweep removes what is past.
	Sweep Sweep
}

// JobName is the jobs.Job name of kind's sweep.
func JobName(kind string) string { return "retention." + kind }

// Jobs returns one job per kind, running every cfg.Interval. Each pass
// takes its cutoff (now minus the period) once, then sweeps batches of
// cfg.BatchSize until a batch comes back short, extending its lease after
// every full one. observe, when set, is told how many items each pass
// removed.
func Jobs(cfg Config, clk clock.Clock, log *slog.Logger, observe func(kind string, removed int), kinds ...Kind) []jobs.Job {
	if log == nil {
		log = slog.Default()
	}
	batch := max(cfg.BatchSize, 1)
	out := make([]jobs.Job, 0, len(kinds))
	for _, k := range kinds {
		if k.Period <= 0 || k.Sweep == nil {
			panic(fmt.Sprintf("retention: kind %q needs a positive period and a sweep", k.Name))
		}
		out = append(out, jobs.Job{
			Name:     JobName(k.Name),
			Interval: cfg.Interval,
			Run: func(ctx context.Context, l *jobs.Lease) error {
				cutoff := clk.Now().Add(-k.Period)
				total := 0
				for {
					n, err := k.Sweep(ctx, cutoff, batch)
					total += n
					if err != nil {
						return fmt.Errorf("retention %s: %w", k.Name, err)
					}
					if n < batch {
						break
					}
					if err := l.Extend(ctx); err != nil {
						return err
					}
				}
				if observe != nil {
					observe(k.Name, total)
				}
				if total > 0 {
					log.InfoContext(ctx, "retention sweep", "kind", k.Name, "removed", total)
				}
				return nil
			},
		})
	}
	return out
}

// DeleteBatch deletes at most limit documents of coll that match filter:
// it reads their ids (a bounded read), then deletes those ids where filter
// still holds, so a document that changed in between (no longer matching)
// is kept. It returns how many it deleted.
func DeleteBatch(ctx context.Context, coll *mongo.Collection, filter bson.D, limit int) (int, error) {
	ids, err := batchIDs(ctx, coll, filter, limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	res, err := coll.DeleteMany(ctx, withIDs(filter, ids))
	if err != nil {
		return 0, fmt.Errorf("delete from %s: %w", coll.Name(), err)
	}
	return int(res.DeletedCount), nil
}

// UpdateBatch applies update to at most limit documents of coll that match
// filter, the same way as DeleteBatch; update must make a document stop
// matching filter (e.g. unset the field the filter asks to exist), or the
// sweep would never end. It returns how many it changed.
func UpdateBatch(ctx context.Context, coll *mongo.Collection, filter, update bson.D, limit int) (int, error) {
	ids, err := batchIDs(ctx, coll, filter, limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	res, err := coll.UpdateMany(ctx, withIDs(filter, ids), update)
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", coll.Name(), err)
	}
	return int(res.ModifiedCount), nil
}

// IDs returns the ids of at most limit documents of coll matching filter,
// for a sweep that removes each one in several steps.
func IDs(ctx context.Context, coll *mongo.Collection, filter bson.D, limit int) ([]bson.RawValue, error) {
	return batchIDs(ctx, coll, filter, limit)
}

func batchIDs(ctx context.Context, coll *mongo.Collection, filter bson.D, limit int) ([]bson.RawValue, error) {
	cur, err := coll.Find(ctx, filter, options.Find().
		SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", coll.Name(), err)
	}
	var docs []struct {
		ID bson.RawValue `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find in %s: %w", coll.Name(), err)
	}
	ids := make([]bson.RawValue, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

func withIDs(filter bson.D, ids []bson.RawValue) bson.D {
	out := append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, filter...)
	return out
}
