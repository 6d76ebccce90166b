package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/plan"
	"github.com/nocontact/backend/services/plans/internal/scheduler"
)

// activePlans creates n active plans of one client, each with a request id
// of its own, started at start.
func activePlans(t *testing.T, r *replica, n int, start time.Time) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range ids {
		c := app.Caller{ID: "client-1", Role: auth.RoleClient, RequestID: fmt.Sprintf("req-%d", i)}
		v, err := r.plans.Create(ctx, c, plan.NewPlanParams{TimeZone: "Europe/Berlin", StartTime: start, TargetDays: 30, Reasons: []string{"peace"}}, app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.plans.Move(ctx, c, v.Plan.ID, app.Activate, "", 0); err != nil {
			t.Fatal(err)
		}
		ids[i] = v.Plan.ID
	}
	return ids
}

// Two scheduler replicas over one store, driven in lockstep so that both
// claim before either writes (the interleaving in which, without a lease,
// both take the same oldest plan): they claim different plans, share the
// work, and every due milestone is announced exactly once.
func TestTwoSchedulersInLockstepShareTheWorkAndEmitEachMilestoneOnce(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	a, b := f.replica(), f.replica()
	ids := activePlans(t, a, 6, t0)
	f.clk.Advance(2 * 24 * time.Hour) // day 1 is due on every plan

	claimedBy := map[string]string{}
	work := map[string]int{}
	for round := 0; ; round++ {
		idA, okA, err := a.plans.ClaimDue(ctx, f.clk.Now(), scheduler.Lease)
		if err != nil {
			t.Fatal(err)
		}
		idB, okB, err := b.plans.ClaimDue(ctx, f.clk.Now(), scheduler.Lease)
		if err != nil {
			t.Fatal(err)
		}
		if !okA && !okB {
			break
		}
		if okA && okB && idA == idB {
			t.Fatalf("round %d: both replicas claimed plan %s", round, idA)
		}
		for name, claim := range map[string]struct {
			id string
			ok bool
			r  *replica
		}{"a": {idA, okA, a}, "b": {idB, okB, b}} {
			if !claim.ok {
				continue
			}
			if prev, dup := claimedBy[claim.id]; dup {
				t.Fatalf("plan %s claimed by %s after %s had it", claim.id, name, prev)
			}
			claimedBy[claim.id] = name
			work[name]++
			if _, _, err := claim.r.plans.AdvancePlan(ctx, claim.id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(claimedBy) != len(ids) {
		t.Fatalf("%d plans claimed, want all %d", len(claimedBy), len(ids))
	}
	if work["a"] == 0 || work["b"] == 0 {
		t.Fatalf("work per replica = %v, want both to get some", work)
	}
	for _, r := range []*replica{a, b} {
		if _, err := r.relay.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := milestoneDays(f.events(t, "plans.milestone.reached"))
	if len(got) != 1 || got[1] != len(ids) {
		t.Fatalf("milestone events by day = %v, want day 1 once per plan (%d)", got, len(ids))
	}
}

// A replica that claims a plan and then stalls holds it only for the
// lease: the other replica takes it over afterwards, and the milestone is
// still announced once.
func TestAStalledClaimIsTakenOverAfterTheLease(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	stalled, live := f.replica(), f.replica()
	ids := activePlans(t, stalled, 1, t0)
	f.clk.Advance(2 * 24 * time.Hour)

	if id, ok, err := stalled.plans.ClaimDue(ctx, f.clk.Now(), scheduler.Lease); err != nil || !ok || id != ids[0] {
		t.Fatalf("claim = %q %v %v", id, ok, err)
	}
	if n, err := live.sched.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("tick within the lease = %d, %v; want nothing to do", n, err)
	}
	f.clk.Advance(scheduler.Lease)
	if n, err := live.sched.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("tick after the lease = %d, %v; want the plan advanced", n, err)
	}
	if _, err := live.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := milestoneDays(f.events(t, "plans.milestone.reached")); len(got) != 1 || got[1] != 1 {
		t.Fatalf("milestone events by day = %v, want day 1 once", got)
	}
}
