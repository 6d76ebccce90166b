package plan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

// BenchmarkProgress derives what GetPlanProgress answers from a plan with n
// contacts (one in ten a slip), over a year, in the domain alone.
func BenchmarkProgress(b *testing.B) {
	loc := mustLoc(b, "Europe/Berlin")
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, loc)
	now := start.AddDate(0, 0, 300)
	for _, n := range []int{10, 2000} {
		p := newActive(b, baseParams("Europe/Berlin", start), now)
		step := now.Sub(start) / time.Duration(n+1)
		for i := 0; i < n; i++ {
			c := plan.ContactParams{ID: fmt.Sprintf("c%d", i), Direction: plan.Inbound, OccurredAt: start.Add(step * time.Duration(i+1))}
			if i%10 == 0 {
				c.Direction = plan.Outbound
			}
			p.Contacts = append(p.Contacts, plan.Contact{ID: c.ID, Direction: c.Direction, OccurredAt: c.OccurredAt,
				Classification: p.Classify(c), Response: plan.ResponseNone})
		}
		p.Advance(now)
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = p.Progress(now)
			}
		})
	}
}
