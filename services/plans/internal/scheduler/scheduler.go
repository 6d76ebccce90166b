// Package scheduler reaches due milestones, completes plans whose target
// day has come and gives the note the day before a hard date, while nobody
// is calling. Every replica runs one, and they
// share the work: each claims one due plan at a time with a lease (see
// docstore.Claim), so two replicas never take the same plan while the
// lease holds, and a scan goes on claiming at once until nothing due is
// left, however long the backlog (100,000 milestones at one local midnight
// do not wait for tick after tick). Each plan is still advanced through a
// version-checked write and milestone events carry deterministic ids, so
// a replica that outlives its lease cannot record a milestone twice.
// Claiming by due time also catches up whatever fell due while every
// replica was down.
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
	// ClaimDue leases one plan with something due at or before now, the
	// longest overdue first, for lease; ok is false when none is left
	// unclaimed.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (planID string, ok bool, err error)
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

// Lease is how long a claimed plan is left to the replica that claimed it;
// advancing one plan takes milliseconds, so only a replica that stalls or
// dies lets its plans go to another (at the next scan after the lease).
const Lease = time.Minute

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

// Tick claims and advances due plans one at a time until none is left
// unclaimed, and reports how many changed. A failure on one plan is logged
// and does not stop the others (that plan is tried again once its lease
// has run out).
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := s.clk.Now()
	changed := 0
	for {
		if ctx.Err() != nil {
			return changed, ctx.Err()
		}
		claimed, ok, err := s.Step(ctx)
		if err != nil {
			return changed, err
		}
		if !claimed {
			break
		}
		if ok {
			changed++
		}
	}
	if s.hooks.Ran != nil {
		s.hooks.Ran(now)
	}
	return changed, nil
}

// Step claims one due plan and advances it. It reports whether it claimed
// one and whether that plan changed; err is a failure to claim (a failure
// to advance is logged).
func (s *Scheduler) Step(ctx context.Context) (claimed, changed bool, err error) {
	id, ok, err := s.adv.ClaimDue(ctx, s.clk.Now(), Lease)
	if err != nil || !ok {
		return false, false, err
	}
	planCtx, span := ctx, trace.SpanFromContext(ctx)
	if s.hooks.Tracer != nil {
		planCtx, span = s.hooks.Tracer.Start(ctx, "scheduler advance plan", trace.WithAttributes(attribute.String("nocontact.plan_id", id)))
	}
	changed, reachedDue, err := s.adv.AdvancePlan(planCtx, id)
	if s.hooks.Tracer != nil {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "advance failed")
		}
		span.End()
	}
	if err != nil {
		s.log.WarnContext(planCtx, "advance plan failed; it is tried again when its lease runs out", "plan_id", id, "error", err)
		return true, false, nil
	}
	if s.hooks.Lag != nil && len(reachedDue) > 0 {
		recorded := s.clk.Now()
		for _, due := range reachedDue {
			s.hooks.Lag(recorded.Sub(due))
		}
	}
	return true, changed, nil
}
