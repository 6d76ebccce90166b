// Package jobs runs periodic jobs once across the replicas of a service.
//
// Every replica of a service runs a Runner over the same jobs collection
// (one document per job name, in the service's own database). A replica runs
// a job's period only after winning a conditional update of that document:
// it reads the document, decides the job is due (next_run has passed and no
// live lease is held), and claims it with an update whose filter is the
// version it read. MongoDB applies that update atomically to one document,
// so of two replicas that read the same version, exactly one claims; the
// other's update matches nothing and it skips the period. The claim moves
// next_run one interval on and takes a lease; a holder that crashes leaves
// its lease to expire, after which another replica takes the job over and
// runs the period again. Jobs must therefore be idempotent and resumable
// (retention cleanup deletes what is past; a re-wrap skips what is done).
//
// FerretDB has no TTL indexes, which is why retention needs jobs at all.
// Time comes from an injected clock.Clock: tests move a clock.Fake and call
// RunDue, with no sleeps; Run polls with a real timer in production.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/mongox"
)

// Collection is the name of the jobs collection in each service's database.
const Collection = "jobs"

// Defaults.
const (
	// DefaultPollInterval is how often Run checks whether a job is due.
	DefaultPollInterval = time.Minute
	// DefaultLease is how long a claim keeps other replicas away when the
	// Job does not say; a job that runs longer must call Lease.Extend.
	DefaultLease = 10 * time.Minute
)

// ErrLeaseLost is returned by Lease.Extend (and so, usually, by a job) when
// another replica took the job over: the caller must stop working.
var ErrLeaseLost = errors.New("jobs: lease lost to another replica")

// Job is a unit of periodic work.
type Job struct {
	// Name identifies the job across replicas (the document's _id).
	Name string
	// Interval between the starts of two periods; must be > 0.
	Interval time.Duration
	// Lease is how long a claim holds before another replica may take the
	// job over (DefaultLease when 0). It must exceed the time between two
	// Extend calls of the job.
	Lease time.Duration
	// Run does one period's work. It receives the claim's Lease so that a
	// long job can extend it between bounded batches and stop when it is
	// lost. A returned error is logged; the period is not retried before
	// next_run (the job's next period redoes what is left).
	Run func(ctx context.Context, l *Lease) error
}

// Options tune a Runner.
type Options struct {
	// Holder names this replica in the job documents (a random id when
	// empty). Only for operators reading the collection.
	Holder string
	// PollInterval of Run (DefaultPollInterval when 0).
	PollInterval time.Duration
	// Observe, when set, is called after each period a replica ran, with
	// the job's name, how long it took by the clock and its error.
	Observe func(name string, took time.Duration, err error)
}

// Runner runs jobs on one jobs collection. Several runners (replicas) may
// share the collection.
type Runner struct {
	coll  *mongo.Collection
	clock clock.Clock
	log   *slog.Logger
	opts  Options
	jobs  []Job
}

// New returns a runner of jobs on db's jobs collection. It panics on a job
// without a name, Run or positive Interval, or on two jobs of one name:
// those are programming errors of the wiring.
func New(db *mongo.Database, clk clock.Clock, log *slog.Logger, opts Options, jobs ...Job) *Runner {
	if opts.Holder == "" {
		opts.Holder = uuid.NewString()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if log == nil {
		log = slog.Default()
	}
	seen := map[string]bool{}
	for i, j := range jobs {
		if j.Name == "" || j.Run == nil || j.Interval <= 0 {
			panic(fmt.Sprintf("jobs: job %d (%q) needs a name, a Run and a positive Interval", i, j.Name))
		}
		if seen[j.Name] {
			panic(fmt.Sprintf("jobs: job %q given twice", j.Name))
		}
		seen[j.Name] = true
		if j.Lease <= 0 {
			jobs[i].Lease = DefaultLease
		}
	}
	return &Runner{
		coll:  db.Collection(Collection),
		clock: clk,
		log:   log.With("component", "jobs", "holder", opts.Holder),
		opts:  opts,
		jobs:  jobs,
	}
}

// IndexModels are the jobs collection's indexes: none beyond _id, which is
// the job's name and the only key any query uses.
func IndexModels() []mongo.IndexModel { return nil }

// state is a job's document.
type state struct {
	Name    string `bson:"_id"`
	Version int64  `bson:"version"`
	// NextRun is when the next period may start.
	NextRun time.Time `bson:"next_run"`
	// Running is true from a claim until its holder finishes.
	Running    bool      `bson:"running"`
	Holder     string    `bson:"holder,omitempty"`
	LeaseUntil time.Time `bson:"lease_until"`
	// Runs counts the claims, takeovers included.
	Runs         int64     `bson:"runs"`
	LastStarted  time.Time `bson:"last_started"`
	LastFinished time.Time `bson:"last_finished"`
	LastOK       bool      `bson:"last_ok"`
}

// Lease is a replica's claim of one job's period.
type Lease struct {
	r       *Runner
	job     Job
	version int64 // the version this claim wrote; every later write is conditional on it
	until   time.Time
}

// Until is when the lease expires unless extended.
func (l *Lease) Until() time.Time { return l.until }

// Extend moves the lease's expiry to now + the job's Lease, if this replica
// still holds it; otherwise it returns ErrLeaseLost. A job calls it between
// bounded batches of work.
func (l *Lease) Extend(ctx context.Context) error {
	now := l.r.clock.Now()
	until := now.Add(l.job.Lease)
	res, err := l.r.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: l.job.Name}, {Key: "version", Value: l.version}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "version", Value: l.version + 1},
			{Key: "lease_until", Value: until},
		}}})
	if err != nil {
		return fmt.Errorf("extend lease of job %s: %w", l.job.Name, err)
	}
	if res.MatchedCount == 0 {
		return ErrLeaseLost
	}
	l.version++
	l.until = until
	return nil
}

// Stage names a point of a runner's work on a job where a test hook runs
// (SetHook).
type Stage int

const (
	// BeforeClaim is after a runner read a job's document and found it due,
	// and before its conditional claim: another replica claiming here must
	// make this claim lose.
	BeforeClaim Stage = iota + 1
	// BeforeRelease is after a job's period returned and before its holder
	// releases the lease: a crash here leaves the lease to expire.
	BeforeRelease
)

// Hook is called by every runner of the process at each Stage with the
// job's name and the runner's holder. A non-nil error stops the runner
// there as a crash would: nothing after it reaches the database.
type Hook func(stage Stage, job, holder string) error

var hook atomic.Pointer[Hook]

// SetHook installs h for every runner of the process (nil removes it) and
// returns a function that restores the previous one. It exists for tests of
// interleavings; production never sets it.
func SetHook(h Hook) (restore func()) {
	var p *Hook
	if h != nil {
		p = &h
	}
	prev := hook.Swap(p)
	return func() { hook.Store(prev) }
}

func callHook(stage Stage, job, holder string) error {
	if h := hook.Load(); h != nil {
		return (*h)(stage, job, holder)
	}
	return nil
}

// RunDue runs, one after another, every job that is due and that this
// runner claims, and returns the names of those it ran. Errors of the jobs
// themselves are logged, not returned; the error is about the jobs
// collection (claims, reads).
func (r *Runner) RunDue(ctx context.Context) (ran []string, err error) {
	var errs []error
	for _, j := range r.jobs {
		l, err := r.claim(ctx, j)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if l == nil {
			continue
		}
		ran = append(ran, j.Name)
		if err := r.runClaimed(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	return ran, errors.Join(errs...)
}

// Run calls RunDue every PollInterval until ctx is cancelled, then returns
// nil. It is meant to run in its own goroutine per replica.
func (r *Runner) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("jobs pass failed", "err", err)
		}
		timer.Reset(r.opts.PollInterval)
	}
}

// claim returns the lease of j's period when this runner won it, nil when
// the job is not due or another replica holds or won it.
func (r *Runner) claim(ctx context.Context, j Job) (*Lease, error) {
	now := r.clock.Now()
	s, err := r.read(ctx, j.Name, now)
	if err != nil {
		return nil, err
	}
	leased := s.Running && now.Before(s.LeaseUntil)
	due := !now.Before(s.NextRun)
	takeover := s.Running && !leased
	if leased || (!due && !takeover) {
		return nil, nil
	}
	if err := callHook(BeforeClaim, j.Name, r.opts.Holder); err != nil {
		return nil, err
	}

	until := now.Add(j.Lease)
	res, err := r.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: j.Name}, {Key: "version", Value: s.Version}},
		bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "version", Value: s.Version + 1},
				{Key: "next_run", Value: now.Add(j.Interval)},
				{Key: "running", Value: true},
				{Key: "holder", Value: r.opts.Holder},
				{Key: "lease_until", Value: until},
				{Key: "last_started", Value: now},
			}},
			{Key: "$inc", Value: bson.D{{Key: "runs", Value: int64(1)}}},
		})
	if err != nil {
		return nil, fmt.Errorf("claim job %s: %w", j.Name, err)
	}
	if res.MatchedCount == 0 {
		return nil, nil // another replica claimed between our read and our update
	}
	if takeover {
		r.log.Info("job taken over after an expired lease", "job", j.Name, "previous_holder", s.Holder)
	}
	return &Lease{r: r, job: j, version: s.Version + 1, until: until}, nil
}

// read returns the job's document, creating it due at now on the job's
// first start anywhere (a duplicate key: another replica just did).
func (r *Runner) read(ctx context.Context, name string, now time.Time) (state, error) {
	var s state
	err := r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&s)
	if !errors.Is(err, mongo.ErrNoDocuments) {
		if err != nil {
			return s, fmt.Errorf("read job %s: %w", name, err)
		}
		return s, nil
	}
	s = state{Name: name, NextRun: now}
	if _, err := r.coll.InsertOne(ctx, s); err == nil {
		return s, nil
	} else if !mongox.IsDuplicateKey(err) {
		return s, fmt.Errorf("create job %s: %w", name, err)
	}
	if err := r.coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&s); err != nil {
		return s, fmt.Errorf("read job %s: %w", name, err)
	}
	return s, nil
}

// releaseTimeout bounds the release of a lease after the runner's context
// ended (shutdown).
const releaseTimeout = 5 * time.Second

// runClaimed runs the job under its lease and releases the lease after. A
// period cut short by the end of ctx (shutdown) is not finished: its lease
// is made to expire at once, so another replica takes the job over now and
// runs the period again, instead of waiting for the next one.
func (r *Runner) runClaimed(ctx context.Context, l *Lease) error {
	start := r.clock.Now()
	jobErr := l.job.Run(ctx, l)
	end := r.clock.Now()
	if r.opts.Observe != nil {
		r.opts.Observe(l.job.Name, end.Sub(start), jobErr)
	}
	if jobErr != nil && ctx.Err() == nil {
		r.log.Warn("job failed", "job", l.job.Name, "err", jobErr)
	}
	if errors.Is(jobErr, ErrLeaseLost) {
		return nil // the new holder owns the document now
	}
	if err := callHook(BeforeRelease, l.job.Name, r.opts.Holder); err != nil {
		return err
	}
	release := bson.D{
		{Key: "version", Value: l.version + 1},
		{Key: "running", Value: false},
		{Key: "last_finished", Value: end},
		{Key: "last_ok", Value: jobErr == nil},
	}
	if ctx.Err() != nil {
		release = bson.D{{Key: "version", Value: l.version + 1}, {Key: "lease_until", Value: end}}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
	}
	res, err := r.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: l.job.Name}, {Key: "version", Value: l.version}},
		bson.D{{Key: "$set", Value: release}})
	if err != nil {
		return fmt.Errorf("release job %s: %w", l.job.Name, err)
	}
	if res.MatchedCount == 0 {
		r.log.Warn("job finished after its lease was taken over", "job", l.job.Name)
	}
	return nil
}

// Status is what the jobs collection says about one job, for operators and
// tests.
type Status struct {
	Name       string
	NextRun    time.Time
	Running    bool
	Holder     string
	LeaseUntil time.Time
	Runs       int64
	LastOK     bool
}

// Statuses reads the state of every job of db's jobs collection, by name.
func Statuses(ctx context.Context, db *mongo.Database) (map[string]Status, error) {
	cur, err := db.Collection(Collection).Find(ctx, bson.D{}, options.Find().SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var docs []state
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make(map[string]Status, len(docs))
	for _, s := range docs {
		out[s.Name] = Status{
			Name: s.Name, NextRun: s.NextRun, Running: s.Running, Holder: s.Holder,
			LeaseUntil: s.LeaseUntil, Runs: s.Runs, LastOK: s.LastOK,
		}
	}
	return out, nil
}
