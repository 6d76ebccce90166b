package plan_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// seqIDs makes ids id-1, id-2, ...
func seqIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("id-%d", n) }
}

func ptr[T any](v T) *T { return &v }

// baseParams is a valid plan for client c1 in tz starting at start.
func baseParams(tz string, start time.Time) plan.NewPlanParams {
	return plan.NewPlanParams{
		ID:         "p1",
		ClientID:   "c1",
		TimeZone:   tz,
		StartTime:  start,
		TargetDays: plan.MaxTargetDays,
		Reasons:    []string{"I deserve peace"},
	}
}

// newDraft creates a draft and drops its creation event.
func newDraft(t testing.TB, p plan.NewPlanParams, now time.Time) *plan.Plan {
	t.Helper()
	pl, err := plan.NewPlan(p, seqIDs(), now)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	pl.PopEvents()
	return pl
}

// newActive creates and activates a plan at now and drops the events.
func newActive(t testing.TB, p plan.NewPlanParams, now time.Time) *plan.Plan {
	t.Helper()
	pl := newDraft(t, p, now)
	if err := pl.Activate(now); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	pl.PopEvents()
	return pl
}

func mustRecord(t testing.TB, p *plan.Plan, c plan.ContactParams, now time.Time) plan.Contact {
	t.Helper()
	ct, err := p.RecordContact(c, now)
	if err != nil {
		t.Fatalf("RecordContact(%+v): %v", c, err)
	}
	return ct
}

func eventKinds(es []plan.Event) []plan.EventKind {
	out := make([]plan.EventKind, len(es))
	for i, e := range es {
		out[i] = e.Kind
	}
	return out
}

func countKind(es []plan.Event, k plan.EventKind) int {
	n := 0
	for _, e := range es {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func eventsOf(es []plan.Event, k plan.EventKind) []plan.Event {
	var out []plan.Event
	for _, e := range es {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// violationFields returns the sorted field names of a *ValidationError,
// failing the test when err is not one.
func violationFields(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatalf("want a *ValidationError, got nil")
	}
	var ve *plan.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %T: %v", err, err)
	}
	if !errors.Is(err, plan.ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
	}
	fields := make([]string, len(ve.Violations))
	for i, v := range ve.Violations {
		fields[i] = v.Field
		if v.Description == "" {
			t.Errorf("violation of %s has no description", v.Field)
		}
	}
	sort.Strings(fields)
	return fields
}

func wantFields(t testing.TB, err error, want ...string) {
	t.Helper()
	got := violationFields(t, err)
	want = slices.Clone(want)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("violation fields = %v, want %v (err: %v)", got, want, err)
	}
}

func milestoneByDay(ms []plan.Milestone, day int) (plan.Milestone, bool) {
	for _, m := range ms {
		if m.Day == day {
			return m, true
		}
	}
	return plan.Milestone{}, false
}

func days(ms []plan.Milestone) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Day
	}
	return out
}
