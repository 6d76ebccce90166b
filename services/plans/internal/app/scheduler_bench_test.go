package app_test

// Benchmarks of the milestone scheduler's work, counted rather than only
// timed: FerretDB executes one command at a time and scans rather than
// seeks, so its wall-clock figures say little about MongoDB; what the
// scheduler asks of the store (claims, reads, writes) is what carries over.
// Results and commands: docs/benchmarks.md.
//
//	cd services/plans && go test -run '^$' -bench 'BenchmarkScheduler' -benchtime 3x ./internal/app/
//
// BENCH_PLANS (default 1000,10000) sets the collection sizes of the
// per-tick benchmark; 100000 works, slowly, on FerretDB.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/scheduler"
)

// countingAdvancer counts what a scheduler asks of the plans app.
type countingAdvancer struct {
	next             scheduler.Advancer
	mu               sync.Mutex
	claims, advances int
}

func (c *countingAdvancer) ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (string, bool, error) {
	c.mu.Lock()
	c.claims++
	c.mu.Unlock()
	return c.next.ClaimDue(ctx, now, lease)
}

func (c *countingAdvancer) AdvancePlan(ctx context.Context, id string) (bool, []time.Time, error) {
	c.mu.Lock()
	c.advances++
	c.mu.Unlock()
	return c.next.AdvancePlan(ctx, id)
}

// seedPlans stores total copies of one real active plan (made through the
// app), of which due have their day-1 milestone due now and the rest
// nothing due before 2100. It returns the due plans' ids and their
// documents as seeded, to reset between iterations.
func seedPlans(b *testing.B, f *fixture, total, due int) (dueIDs []string, template bson.M) {
	b.Helper()
	ctx := context.Background()
	r := f.replica()
	t0 := f.clk.Now()
	id := createActive(b, r, "Europe/Berlin", t0, 30)
	if _, err := r.relay.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	coll := f.db.Collection(mongodb.CollPlans)
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&template); err != nil {
		b.Fatal(err)
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		b.Fatal(err)
	}
	later := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]any, 0, 1000)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := coll.InsertMany(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range total {
		doc := bson.M{}
		for k, v := range template {
			doc[k] = v
		}
		pid := fmt.Sprintf("bench-%07d", i)
		doc["_id"], doc["id"] = pid, pid
		if i < due {
			dueIDs = append(dueIDs, pid)
		} else {
			doc["next_due_time"] = later
		}
		batch = append(batch, doc)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	return dueIDs, template
}

// versions sums the version of the given plans: its growth is the number
// of documents written.
func versions(b *testing.B, coll *mongo.Collection, ids []string) int64 {
	b.Helper()
	cur, err := coll.Find(context.Background(), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		b.Fatal(err)
	}
	var docs []struct {
		Version int64 `bson:"version"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		b.Fatal(err)
	}
	var sum int64
	for _, d := range docs {
		sum += d.Version
	}
	return sum
}

func schedulerBenchSizes(b *testing.B) []int {
	spec := os.Getenv("BENCH_PLANS")
	if spec == "" {
		spec = "1000,10000"
	}
	var out []int
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 100 {
			b.Fatalf("BENCH_PLANS: %q is not a size of at least 100", s)
		}
		out = append(out, n)
	}
	return out
}

// One scheduler tick with 100 plans due, in collections of different
// sizes: the claims, advances and documents written per tick are the same
// whatever the size (the work follows what is due, not what is stored).
func BenchmarkSchedulerTick(b *testing.B) {
	const due = 100
	for _, total := range schedulerBenchSizes(b) {
		b.Run(fmt.Sprintf("plans=%d/due=%d", total, due), func(b *testing.B) {
			t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			f := newFixture(b, t0)
			dueIDs, template := seedPlans(b, f, total, due)
			coll := f.db.Collection(mongodb.CollPlans)
			f.clk.Advance(2 * 24 * time.Hour) // day 1 is due on the due plans
			r := f.replica()
			var claims, advances int
			var written int64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for _, id := range dueIDs { // back to "day 1 due", unclaimed
					doc := bson.M{}
					for k, v := range template {
						doc[k] = v
					}
					doc["_id"], doc["id"] = id, id
					if _, err := coll.ReplaceOne(context.Background(), bson.D{{Key: "_id", Value: id}}, doc); err != nil {
						b.Fatal(err)
					}
				}
				before := versions(b, coll, dueIDs)
				counter := &countingAdvancer{next: r.plans}
				s := scheduler.New(counter, f.clk, quiet, time.Hour)
				b.StartTimer()
				changed, err := s.Tick(context.Background())
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if changed != due {
					b.Fatalf("tick changed %d plans, want %d", changed, due)
				}
				claims += counter.claims
				advances += counter.advances
				written += versions(b, coll, dueIDs) - before
				b.StartTimer()
			}
			b.ReportMetric(float64(claims)/float64(b.N), "claims/tick")
			b.ReportMetric(float64(advances)/float64(b.N), "advances/tick")
			b.ReportMetric(float64(written)/float64(b.N), "docs-written/tick")
		})
	}
}

// A backlog of due plans drained by one and by two scheduler replicas
// running at once: each replica's share of the work (plans claimed and
// advanced) is counted; with two, each does about half, so on a store that
// serves them in parallel (MongoDB) the backlog drains about twice as fast.
func BenchmarkSchedulerBacklogDrain(b *testing.B) {
	backlog := 10000
	if s := os.Getenv("BENCH_BACKLOG"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			backlog = n
		}
	}
	for _, replicas := range []int{1, 2} {
		b.Run(fmt.Sprintf("backlog=%d/replicas=%d", backlog, replicas), func(b *testing.B) {
			var maxShare, total float64
			for range b.N {
				b.StopTimer()
				t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
				f := newFixture(b, t0)
				seedPlans(b, f, backlog, backlog)
				f.clk.Advance(2 * 24 * time.Hour)
				counters := make([]*countingAdvancer, replicas)
				for i := range counters {
					counters[i] = &countingAdvancer{next: f.replica().plans}
				}
				b.StartTimer()
				var wg sync.WaitGroup
				changed := make([]int, replicas)
				errs := make([]error, replicas)
				for i, c := range counters {
					wg.Go(func() {
						changed[i], errs[i] = scheduler.New(c, f.clk, quiet, time.Hour).Tick(context.Background())
					})
				}
				wg.Wait()
				b.StopTimer()
				sum, most := 0, 0
				for i := range counters {
					if errs[i] != nil {
						b.Fatal(errs[i])
					}
					sum += changed[i]
					most = max(most, counters[i].advances)
				}
				if sum != backlog {
					b.Fatalf("%d replicas advanced %d plans, want the backlog of %d once each", replicas, sum, backlog)
				}
				maxShare += float64(most)
				total += float64(sum)
				b.StartTimer()
			}
			b.ReportMetric(maxShare/float64(b.N), "advances-busiest-replica")
			b.ReportMetric(maxShare/total, "share-busiest-replica")
		})
	}
}
