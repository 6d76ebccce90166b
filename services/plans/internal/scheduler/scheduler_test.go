package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/services/plans/internal/scheduler"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type advancer struct {
	dueErr error
	due    map[string][]time.Time
	failed map[string]bool
	// spans records the span each plan was advanced in.
	spans map[string]trace.SpanContext
	// claimed holds the plans leased so far (leases never run out here).
	claimed map[string]bool
}

func (a *advancer) ClaimDue(context.Context, time.Time, time.Duration) (string, bool, error) {
	if a.dueErr != nil {
		return "", false, a.dueErr
	}
	if a.claimed == nil {
		a.claimed = map[string]bool{}
	}
	ids := slices.Sorted(maps.Keys(a.due))
	for _, id := range ids {
		if !a.claimed[id] {
			a.claimed[id] = true
			return id, true, nil
		}
	}
	return "", false, nil
}

func (a *advancer) AdvancePlan(ctx context.Context, id string) (bool, []time.Time, error) {
	if a.spans != nil {
		a.spans[id] = trace.SpanContextFromContext(ctx)
	}
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
	adv.dueErr, adv.claimed = nil, nil
	if _, err := scheduler.New(adv, clk, slog.New(slog.DiscardHandler), time.Second).Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Each plan is advanced in a span of its own, the root of the trace its
// milestone events (and the notifications about them) then join; a failed
// advance is marked as an error.
func TestEachAdvanceIsTraced(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 30, 0, time.UTC)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	adv := &advancer{
		due:    map[string][]time.Time{"p1": {now}, "p2": {now}},
		failed: map[string]bool{"p2": true},
		spans:  map[string]trace.SpanContext{},
	}
	s := scheduler.New(adv, clock.NewFake(now), slog.New(slog.DiscardHandler), time.Second).
		WithHooks(scheduler.Hooks{Tracer: tp.Tracer("test")})
	if _, err := s.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want one per plan", len(ended))
	}
	for _, sp := range ended {
		var plan string
		for _, kv := range sp.Attributes() {
			if kv.Key == "nocontact.plan_id" {
				plan = kv.Value.AsString()
			}
		}
		if adv.spans[plan].SpanID() != sp.SpanContext().SpanID() {
			t.Errorf("plan %q was not advanced inside its span", plan)
		}
		if failed := sp.Status().Code.String() == "Error"; failed != adv.failed[plan] {
			t.Errorf("plan %q: span status %v, failed %v", plan, sp.Status(), adv.failed[plan])
		}
	}
}

// A backlog longer than any batch is worked through in one scan: the
// scheduler claims again at once instead of waiting for the next tick.
func TestOneTickDrainsABacklog(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 30, 0, time.UTC)
	adv := &advancer{due: map[string][]time.Time{}}
	for i := range 1000 {
		adv.due[fmt.Sprintf("p%04d", i)] = []time.Time{now}
	}
	s := scheduler.New(adv, clock.NewFake(now), slog.New(slog.DiscardHandler), time.Hour)
	if n, err := s.Tick(context.Background()); err != nil || n != 1000 {
		t.Fatalf("Tick = %d, %v; want all 1000 due plans advanced in one scan", n, err)
	}
}

// Run scans at once and returns when its context ends (goleak checks that
// nothing it started is left behind).
func TestRunStopsWithItsContext(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 30, 0, time.UTC)
	ran := make(chan time.Time, 1)
	s := scheduler.New(&advancer{}, clock.NewFake(now), slog.New(slog.DiscardHandler), time.Hour).
		WithHooks(scheduler.Hooks{Ran: func(t time.Time) { ran <- t }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	<-ran // the first scan ran
	cancel()
	<-done
}
