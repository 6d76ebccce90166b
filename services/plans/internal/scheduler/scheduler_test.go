package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/services/plans/internal/scheduler"
)

type advancer struct {
	dueErr error
	due    map[string][]time.Time
	failed map[string]bool
}

func (a *advancer) DuePlans(context.Context, time.Time, int) ([]string, error) {
	if a.dueErr != nil {
		return nil, a.dueErr
	}
	var ids []string
	for id := range a.due {
		ids = append(ids, id)
	}
	return ids, nil
}

func (a *advancer) AdvancePlan(_ context.Context, id string) (bool, []time.Time, error) {
	if a.failed[id] {
		return false, []time.Time{time.Unix(0, 0)}, errors.New("version conflict")
	}
	return true, a.due[id], nil
}

// The last-run hook marks completed scans only: a scan that could not even
// list what is due leaves the gauge where it was, so an alert on its age
// fires. A plan that failed to advance reports no lag.
func TestHooks(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 30, 0, time.UTC)
	clk := clock.NewFake(now)
	adv := &advancer{
		due:    map[string][]time.Time{"p1": {now.Add(-30 * time.Second), now.Add(-24 * time.Hour)}, "p2": nil, "p3": {now}},
		failed: map[string]bool{"p3": true},
	}
	var lags []time.Duration
	var runs []time.Time
	s := scheduler.New(adv, clk, slog.New(slog.DiscardHandler), time.Second).WithHooks(scheduler.Hooks{
		Lag: func(d time.Duration) { lags = append(lags, d) },
		Ran: func(t time.Time) { runs = append(runs, t) },
	})
	if n, err := s.Tick(context.Background()); err != nil || n != 2 {
		t.Fatalf("Tick = %d, %v; want 2", n, err)
	}
	if len(lags) != 2 || lags[0]+lags[1] != 30*time.Second+24*time.Hour {
		t.Errorf("lags = %v, want 30s and 24h", lags)
	}
	if len(runs) != 1 || !runs[0].Equal(now) {
		t.Errorf("runs = %v, want [%v]", runs, now)
	}

	adv.dueErr = errors.New("database unreachable")
	clk.Advance(time.Minute)
	if _, err := s.Tick(context.Background()); err == nil {
		t.Fatal("Tick succeeded without its due list")
	}
	if len(runs) != 1 {
		t.Errorf("a failed scan was reported as run: %v", runs)
	}

	// Without hooks nothing breaks.
	adv.dueErr = nil
	if _, err := scheduler.New(adv, clk, slog.New(slog.DiscardHandler), time.Second).Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}
