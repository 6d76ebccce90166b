package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// Slip, void, the same slip again: the milestone is superseded twice, and
// both events are published (neither collides with the other in the outbox
// nor is dropped as a duplicate).
func TestSupersededTwiceIsPublishedTwice(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	id := createActive(t, r, "Europe/Berlin", t0.Add(-10*24*time.Hour), 30) // reaches 1, 3, 7
	slip := plan.ContactParams{Direction: plan.Outbound, OccurredAt: t0.Add(-5 * 24 * time.Hour)}
	first, _, err := r.plans.RecordContact(ctx, client, id, slip, app.RequestKey{ID: "slip-1", Hash: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.plans.VoidContact(ctx, client, id, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.plans.RecordContact(ctx, client, id, slip, app.RequestKey{ID: "slip-2", Hash: "h2"}); err != nil {
		t.Fatalf("the same slip again: %v", err)
	}
	if _, err := r.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range f.events(t, "plans.milestone.superseded") {
		if e.GetMilestoneSuperseded().GetDay() == 7 {
			n++
		}
	}
	if n != 2 {
		t.Errorf("day 7 superseded events published = %d, want 2", n)
	}
}
