// Package scheduler reaches due milestones and completes plans whose target
// day has come, while nobody is calling. Every replica runs one; they need
// no coordination because each plan is advanced through a version-checked
// write: the first replica to write wins, the others find nothing due, and
// milestone events carry deterministic ids besides. Scanning by due time
// also catches up whatever fell due while every replica was down.
package scheduler

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nocontact/backend/platform/clock"
)

// Advancer is what the scheduler drives (the plans app).
type Advancer interface {
	// DuePlans lists plans with something due at or before now, oldest due
	// first, at most limit.
	DuePlans(ctx context.Context, now time.Time, limit int) ([]string, error)
	// AdvancePlan records what is due on one plan; it reports whether
	// anything changed and, for each milestone it recorded, the moment that
	// milestone fell due.
	AdvancePlan(ctx context.Context, planID string) (changed bool, reachedDue []time.Time, err error)
}

// Hooks observe the scheduler's work, e.g. for metrics; each may be nil.
// They must be cheap and must not block.
type Hooks struct {
	// Lag is called for each milestone the scheduler records, with how
	// late it was: the clock's now after recording it minus the moment it
	// fell due (its local midnight). Catching up after downtime shows as
	// a long lag.
	Lag func(lag time.Duration)
	// Ran is called with the scan's now after each scan that completed
	// without error (failures on single plans are logged, not errors).
	Ran func(now time.Time)
	// Tracer, when set, starts a span around each plan's advance: the
	// root of the trace its milestone events and their notifications
	// join.
	Tracer trace.Tracer
}

// batch bounds one scan; a longer backlog is worked through scan after scan.
const batch = 200

// Scheduler periodically advances due plans.
type Scheduler struct {
	adv      Advancer
	clk      clock.Clock
	log      *slog.Logger
	interval time.Duration
	hooks    Hooks
}

// New returns a scheduler that scans every interval.
func New(adv Advancer, clk clock.Clock, log *slog.Logger, interval time.Duration) *Scheduler {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	return &Scheduler{adv: adv, clk: clk, log: log, interval: interval}
}

// WithHooks sets the scheduler's observers; call it before Run.
func (s *Scheduler) WithHooks(h Hooks) *Scheduler {
	s.hooks = h
	return s
}

// Run scans at once, then every interval, until ctx is done.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "milestone scan failed; retrying at the next tick", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick runs one scan and reports how many plans changed. A failure on one
// plan is logged and does not stop the others.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := s.clk.Now()
	ids, err := s.adv.DuePlans(ctx, now, batch)
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return changed, ctx.Err()
		}
		planCtx, span := ctx, trace.SpanFromContext(ctx)
		if s.hooks.Tracer != nil {
			planCtx, span = s.hooks.Tracer.Start(ctx, "scheduler advance plan", trace.WithAttributes(attribute.String("nocontact.plan_id", id)))
		}
		ok, reachedDue, err := s.adv.AdvancePlan(planCtx, id)
		if s.hooks.Tracer != nil {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "advance failed")
			}
			span.End()
		}
		if err != nil {
			s.log.WarnContext(planCtx, "advance plan failed", "plan_id", id, "error", err)
			continue
		}
		if ok {
			changed++
		}
		if s.hooks.Lag != nil && len(reachedDue) > 0 {
			recorded := s.clk.Now()
			for _, due := range reachedDue {
				s.hooks.Lag(recorded.Sub(due))
			}
		}
	}
	if s.hooks.Ran != nil {
		s.hooks.Ran(now)
	}
	return changed, nil
}
