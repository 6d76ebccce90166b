package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var start = time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// counter records which replica ran each period of a job.
type counter struct {
	mu   sync.Mutex
	runs []string
}

func (c *counter) add(holder string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs = append(c.runs, holder)
}

func (c *counter) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.runs...)
}

// replica is a runner of one job named "cleanup" whose runs go to c; body,
// when set, runs inside the job.
func replica(db *mongo.Database, clk clock.Clock, holder string, c *counter, body func(ctx context.Context, l *jobs.Lease) error) *jobs.Runner {
	return jobs.New(db, clk, quiet(), jobs.Options{Holder: holder}, jobs.Job{
		Name:     "cleanup",
		Interval: time.Hour,
		Lease:    5 * time.Minute,
		Run: func(ctx context.Context, l *jobs.Lease) error {
			c.add(holder)
			if body != nil {
				return body(ctx, l)
			}
			return nil
		},
	})
}

func runDue(t *testing.T, ctx context.Context, r *jobs.Runner) []string {
	t.Helper()
	ran, err := r.RunDue(ctx)
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	return ran
}

func TestTwoReplicasRunEachPeriodOnce(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	clk := clock.NewFake(start)
	var c counter
	a := replica(db, clk, "a", &c, nil)
	b := replica(db, clk, "b", &c, nil)

	runDue(t, ctx, a)
	runDue(t, ctx, b)
	if got := c.get(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("first period ran by %v, want once by a", got)
	}

	clk.Advance(59 * time.Minute)
	runDue(t, ctx, b)
	runDue(t, ctx, a)
	if got := c.get(); len(got) != 1 {
		t.Fatalf("before the interval passed the job ran %d times, want 1", len(got))
	}

	clk.Advance(time.Minute)
	runDue(t, ctx, b)
	runDue(t, ctx, a)
	if got := c.get(); len(got) != 2 || got[1] != "b" {
		t.Fatalf("second period ran by %v, want once more, by b", got)
	}

	st, err := jobs.Statuses(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	s := st["cleanup"]
	if s.Running || !s.LastOK || s.Runs != 2 || !s.NextRun.Equal(start.Add(2*time.Hour)) {
		t.Errorf("status = %+v, want released, ok, 2 runs, next run at %v", s, start.Add(2*time.Hour))
	}
}

// Two replicas read the document as due; the second claims between the
// first one's read and its claim. Without the conditional claim both would
// run the period.
func TestClaimBetweenReadAndClaimLoses(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	clk := clock.NewFake(start)
	var c counter
	a := replica(db, clk, "a", &c, nil)
	b := replica(db, clk, "b", &c, nil)

	var once sync.Once
	var bRan []string
	var bErr error
	defer jobs.SetHook(func(stage jobs.Stage, job, holder string) error {
		if stage == jobs.BeforeClaim && holder == "a" {
			once.Do(func() { bRan, bErr = b.RunDue(ctx) })
		}
		return nil
	})()

	aRan := runDue(t, ctx, a)
	if bErr != nil {
		t.Fatal(bErr)
	}
	if len(aRan) != 0 || len(bRan) != 1 {
		t.Errorf("a ran %v, b ran %v; want only b, which claimed first", aRan, bRan)
	}
	if got := c.get(); len(got) != 1 || got[0] != "b" {
		t.Errorf("period ran by %v, want exactly once, by b", got)
	}
}

// A holder that dies mid-run (its release never reaches the database)
// keeps the others away until its lease expires; then one of them takes
// over and runs the period again.
func TestCrashedHolderIsTakenOverAfterItsLease(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	clk := clock.NewFake(start)
	var c counter
	a := replica(db, clk, "a", &c, nil)
	b := replica(db, clk, "b", &c, nil)
	errCrash := errors.New("crash")
	restore := jobs.SetHook(func(stage jobs.Stage, _, holder string) error {
		if stage == jobs.BeforeRelease && holder == "a" {
			return errCrash // the process dies: nothing it does after this reaches the database
		}
		return nil
	})
	defer restore()

	if _, err := a.RunDue(ctx); !errors.Is(err, errCrash) {
		t.Fatalf("RunDue = %v, want the crash", err)
	}
	st, _ := jobs.Statuses(ctx, db)
	if s := st["cleanup"]; !s.Running || s.Holder != "a" {
		t.Fatalf("after the crash status = %+v, want still running under a", s)
	}

	clk.Advance(4 * time.Minute)
	if ran := runDue(t, ctx, b); len(ran) != 0 {
		t.Fatalf("b ran %v while a's lease was live", ran)
	}
	clk.Advance(time.Minute)
	if ran := runDue(t, ctx, b); len(ran) != 1 {
		t.Fatalf("b ran %v after a's lease expired, want the job taken over", ran)
	}
	if got := c.get(); len(got) != 2 || got[1] != "b" {
		t.Errorf("runs = %v, want a (crashed) then b", got)
	}
	st, _ = jobs.Statuses(ctx, db)
	if s := st["cleanup"]; s.Running || !s.LastOK {
		t.Errorf("after the takeover status = %+v, want released and ok", s)
	}
}

// A replica shut down mid-period (its context ends) gives the lease up at
// once: another replica takes the period over without waiting for the
// lease to run out, and the next period is still an interval away.
func TestShutdownMidPeriodHandsTheJobOverAtOnce(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	clk := clock.NewFake(start)
	var c counter
	runCtx, shutdown := context.WithCancel(ctx)
	a := replica(db, clk, "a", &c, func(ctx context.Context, _ *jobs.Lease) error {
		shutdown()
		return ctx.Err()
	})
	b := replica(db, clk, "b", &c, nil)

	if _, err := a.RunDue(runCtx); err != nil {
		t.Fatalf("RunDue at shutdown = %v, want the lease given up", err)
	}
	if ran := runDue(t, ctx, b); len(ran) != 1 {
		t.Fatalf("b ran %v right after a's shutdown, want the period taken over", ran)
	}
	clk.Advance(59 * time.Minute)
	if ran := runDue(t, ctx, b); len(ran) != 0 {
		t.Errorf("b ran %v again before the interval", ran)
	}
	if got := c.get(); len(got) != 2 {
		t.Errorf("runs = %v, want a (cut short) then b", got)
	}
}

// A long job extends its lease between batches and keeps the others away
// past the first lease; once a slow holder has lost its lease, Extend says
// so and its late release does not undo the new holder's claim.
func TestExtendKeepsTheLeaseAndReportsItsLoss(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	clk := clock.NewFake(start)
	var c counter
	var b *jobs.Runner
	var extendErrs []error
	var bRanDuring [][]string
	a := replica(db, clk, "a", &c, func(ctx context.Context, l *jobs.Lease) error {
		for range 3 { // three batches of four minutes, extending after each
			clk.Advance(4 * time.Minute)
			if err := l.Extend(ctx); err != nil {
				return err
			}
			bRanDuring = append(bRanDuring, runDue(t, ctx, b))
		}
		clk.Advance(6 * time.Minute) // a stall longer than the lease
		bRanDuring = append(bRanDuring, runDue(t, ctx, b))
		err := l.Extend(ctx)
		extendErrs = append(extendErrs, err)
		return err
	})
	b = replica(db, clk, "b", &c, nil)

	runDue(t, ctx, a)
	for i, ran := range bRanDuring[:3] {
		if len(ran) != 0 {
			t.Errorf("batch %d: b ran %v under a's extended lease", i, ran)
		}
	}
	if len(bRanDuring[3]) != 1 {
		t.Errorf("after a stalled past its lease b ran %v, want a takeover", bRanDuring[3])
	}
	if len(extendErrs) != 1 || !errors.Is(extendErrs[0], jobs.ErrLeaseLost) {
		t.Errorf("Extend after the takeover = %v, want ErrLeaseLost", extendErrs)
	}
	st, _ := jobs.Statuses(ctx, db)
	if s := st["cleanup"]; s.Holder != "b" || s.Running || s.Runs != 2 {
		t.Errorf("status = %+v, want b's finished takeover, 2 runs", s)
	}
}

func TestRunPollsUntilCancelled(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	clk := clock.NewFake(start)
	ran := make(chan struct{}, 1)
	r := jobs.New(db, clk, quiet(), jobs.Options{PollInterval: time.Millisecond}, jobs.Job{
		Name: "cleanup", Interval: time.Hour,
		Run: func(context.Context, *jobs.Lease) error {
			select {
			case ran <- struct{}{}:
			default:
			}
			return nil
		},
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	select {
	case <-ran:
	case <-ctx.Done():
		t.Fatal("Run never ran the due job")
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRejectsBadJobs(t *testing.T) {
	db := testenv.Mongo(t)
	ok := func(context.Context, *jobs.Lease) error { return nil }
	for name, js := range map[string][]jobs.Job{
		"no name":       {{Interval: time.Hour, Run: ok}},
		"no interval":   {{Name: "x", Run: ok}},
		"no run":        {{Name: "x", Interval: time.Hour}},
		"duplicate job": {{Name: "x", Interval: time.Hour, Run: ok}, {Name: "x", Interval: time.Hour, Run: ok}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New accepted it")
				}
			}()
			jobs.New(db, clock.NewFake(start), quiet(), jobs.Options{}, js...)
		})
	}
}
