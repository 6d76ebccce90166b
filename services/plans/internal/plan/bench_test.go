package plan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

var benchSizes = []int{10, 10000}

// benchPlan is an active Berlin plan with n contacts logged over 300 days
// through RecordContact (one in ten a slip), as the store would hand it to
// a command: the summary only, no working set, nothing pending.
func benchPlan(b *testing.B, n int) (*plan.Plan, time.Time) {
	b.Helper()
	loc := mustLoc(b, "Europe/Berlin")
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, loc)
	now := start.AddDate(0, 0, 300)
	p := newActive(b, baseParams("Europe/Berlin", start), start)
	step := now.Sub(start) / time.Duration(n+1)
	for i := 0; i < n; i++ {
		at := start.Add(step * time.Duration(i+1))
		c := plan.ContactParams{ID: fmt.Sprintf("c%d", i), Direction: plan.Inbound, OccurredAt: at}
		if i%10 == 0 {
			c.Direction = plan.Outbound
		}
		if _, err := p.RecordContact(c, at); err != nil {
			b.Fatalf("contact %d: %v", i, err)
		}
		p.Contacts, p.PendingContacts = nil, nil
		p.PopEvents()
	}
	p.Advance(now)
	p.PopEvents()
	return p, now
}

// BenchmarkProgress derives what GetPlanProgress answers from a plan with n
// contacts, in the domain alone.
func BenchmarkProgress(b *testing.B) {
	for _, n := range benchSizes {
		p, now := benchPlan(b, n)
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = p.Progress(now)
			}
		})
	}
}

// BenchmarkRecordContact logs one more contact (an inbound message
// handled, the common case; and a slip) on a plan with n contacts, in the
// domain alone: validation, classification, the summary and the attempts
// derived before and after.
func BenchmarkRecordContact(b *testing.B) {
	for _, n := range benchSizes {
		for _, dir := range []plan.Direction{plan.Inbound, plan.Outbound} {
			p, now := benchPlan(b, n)
			b.Run(fmt.Sprintf("contacts=%d/%s", n, dir), func(b *testing.B) {
				b.ReportAllocs()
				for i := range b.N {
					// Each iteration works on the same plan as the store
					// would load it: the slip summary as built, no working
					// set.
					slips, count, seq := p.Slips, p.ContactCount, p.ContactSeq
					c := plan.ContactParams{ID: fmt.Sprintf("b%d", i), Direction: dir, OccurredAt: now.Add(-time.Hour)}
					if _, err := p.RecordContact(c, now); err != nil {
						b.Fatal(err)
					}
					p.Slips, p.ContactCount, p.ContactSeq = slips, count, seq
					p.Contacts, p.PendingContacts = nil, nil
					p.PopEvents()
				}
			})
		}
	}
}
