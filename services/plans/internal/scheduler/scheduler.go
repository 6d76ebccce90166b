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

	"github.com/nocontact/backend/platform/clock"
)

// Advancer is what the scheduler drives (the plans app).
type Advancer interface {
	// DuePlans lists plans with something due at or before now, oldest due
	// first, at most limit.
	DuePlans(ctx context.Context, now time.Time, limit int) ([]string, error)
	// AdvancePlan records what is due on one plan; it reports whether
	// anything changed.
	AdvancePlan(ctx context.Context, planID string) (bool, error)
}

// batch bounds one scan; a longer backlog is worked through scan after scan.
const batch = 200

// Scheduler periodically advances due plans.
type Scheduler struct {
	adv      Advancer
	clk      clock.Clock
	log      *slog.Logger
	interval time.Duration
}

// New returns a scheduler that scans every interval.
func New(adv Advancer, clk clock.Clock, log *slog.Logger, interval time.Duration) *Scheduler {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	return &Scheduler{adv: adv, clk: clk, log: log, interval: interval}
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
	ids, err := s.adv.DuePlans(ctx, s.clk.Now(), batch)
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			return changed, ctx.Err()
		}
		ok, err := s.adv.AdvancePlan(ctx, id)
		if err != nil {
			s.log.WarnContext(ctx, "advance plan failed", "plan_id", id, "error", err)
			continue
		}
		if ok {
			changed++
		}
	}
	return changed, nil
}
