package plan_test

import (
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

func TestStreak_BackdatedPlanCountsLocalDaysSinceStart(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	now := time.Date(2026, 6, 20, 15, 0, 0, 0, loc)
	for _, n := range []int{0, 1, 2, 7, 30, 100, 364} {
		t.Run("", func(t *testing.T) {
			start := time.Date(2026, 6, 20-n, 10, 0, 0, 0, loc)
			p := newActive(t, baseParams("Europe/Berlin", start), now)
			s := p.Streaks(now)
			if s.Current != n || s.Longest != n || s.Total != n {
				t.Errorf("started %d days ago: streaks = %+v, want all %d", n, s, n)
			}
			if got := p.CurrentStreakDays(now); got != n {
				t.Errorf("CurrentStreakDays = %d, want %d", got, n)
			}
			as := p.Attempts(now)
			if len(as) != 1 || as[0].Number != 1 || !as[0].Start.Equal(start) || as[0].End != nil {
				t.Errorf("attempts = %+v, want one open attempt #1 from %v", as, start)
			}
		})
	}
}

func TestStreak_DraftHasNoAttempts(t *testing.T) {
	now := time.Date(2026, 6, 20, 15, 0, 0, 0, time.UTC)
	p := newDraft(t, baseParams("UTC", now.AddDate(0, 0, -5)), now)
	if as := p.Attempts(now); len(as) != 0 {
		t.Errorf("draft attempts = %+v, want none", as)
	}
	if s := p.Streaks(now); s != (plan.Streaks{}) {
		t.Errorf("draft streaks = %+v, want zero", s)
	}
}

func TestStreak_SlipsSplitAttempts(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	// day(n, h, m): n local days after the start date, at h:m.
	day := func(n, h, m int) time.Time { return time.Date(2026, 1, 5+n, h, m, 0, 0, loc) }
	start := day(0, 10, 0)

	type slip struct {
		at       time.Time
		recommit *time.Time
	}
	type att struct {
		start time.Time
		end   *time.Time // nil: running
		days  int
	}
	cases := []struct {
		name  string
		slips []slip
		now   time.Time
		want  []att
		ws    plan.Streaks
	}{
		{
			name: "no slip",
			now:  day(12, 15, 0),
			want: []att{{start, nil, 12}},
			ws:   plan.Streaks{Current: 12, Longest: 12, Total: 12},
		},
		{
			name:  "slip restarts at the slip time by default",
			slips: []slip{{at: day(5, 12, 0)}},
			now:   day(12, 15, 0),
			want:  []att{{start, ptr(day(5, 12, 0)), 5}, {day(5, 12, 0), nil, 7}},
			ws:    plan.Streaks{Current: 7, Longest: 7, Total: 12},
		},
		{
			name:  "later recommit delays the new start",
			slips: []slip{{at: day(5, 12, 0), recommit: ptr(day(6, 9, 0))}},
			now:   day(12, 15, 0),
			want:  []att{{start, ptr(day(5, 12, 0)), 5}, {day(6, 9, 0), nil, 6}},
			ws:    plan.Streaks{Current: 6, Longest: 6, Total: 11},
		},
		{
			name:  "recommit later the same day keeps the same start date",
			slips: []slip{{at: day(5, 9, 0), recommit: ptr(day(5, 22, 0))}},
			now:   day(12, 15, 0),
			want:  []att{{start, ptr(day(5, 9, 0)), 5}, {day(5, 22, 0), nil, 7}},
			ws:    plan.Streaks{Current: 7, Longest: 7, Total: 12},
		},
		{
			name: "three slips: longest and total across attempts",
			slips: []slip{
				{at: day(2, 8, 0)},
				{at: day(4, 20, 0), recommit: ptr(day(5, 7, 0))},
				{at: day(15, 10, 0)},
			},
			now: day(20, 12, 0),
			want: []att{
				{start, ptr(day(2, 8, 0)), 2},
				{day(2, 8, 0), ptr(day(4, 20, 0)), 2},
				{day(5, 7, 0), ptr(day(15, 10, 0)), 10},
				{day(15, 10, 0), nil, 5},
			},
			ws: plan.Streaks{Current: 5, Longest: 10, Total: 19},
		},
		{
			name: "slip in the gap before a recommit ends no attempt but delays the start",
			slips: []slip{
				{at: day(5, 9, 0), recommit: ptr(day(7, 9, 0))},
				{at: day(6, 10, 0), recommit: ptr(day(8, 10, 0))},
			},
			now:  day(12, 15, 0),
			want: []att{{start, ptr(day(5, 9, 0)), 5}, {day(8, 10, 0), nil, 4}},
			ws:   plan.Streaks{Current: 4, Longest: 5, Total: 9},
		},
		{
			name:  "slip on the start day gives a zero-day first attempt",
			slips: []slip{{at: day(0, 18, 0)}},
			now:   day(3, 12, 0),
			want:  []att{{start, ptr(day(0, 18, 0)), 0}, {day(0, 18, 0), nil, 3}},
			ws:    plan.Streaks{Current: 3, Longest: 3, Total: 3},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newActive(t, baseParams("Europe/Berlin", start), start)
			ids := map[time.Time]string{}
			for i, s := range tc.slips {
				id := "ct-" + string(rune('a'+i))
				ids[s.at] = id
				mustRecord(t, p, plan.ContactParams{ID: id, Direction: plan.Outbound, Channel: plan.ChannelText,
					OccurredAt: s.at, RecommitTime: s.recommit}, tc.now)
			}
			as := p.Attempts(tc.now)
			if len(as) != len(tc.want) {
				t.Fatalf("got %d attempts %+v, want %d", len(as), as, len(tc.want))
			}
			for i, w := range tc.want {
				a := as[i]
				if a.Number != i+1 {
					t.Errorf("attempt %d: Number = %d, want %d", i, a.Number, i+1)
				}
				if !a.Start.Equal(w.start) {
					t.Errorf("attempt %d: Start = %v, want %v", i+1, a.Start.In(loc), w.start)
				}
				if a.Days != w.days {
					t.Errorf("attempt %d: Days = %d, want %d", i+1, a.Days, w.days)
				}
				switch {
				case w.end == nil && a.End != nil:
					t.Errorf("attempt %d: ended at %v, want running", i+1, a.End.In(loc))
				case w.end != nil && (a.End == nil || !a.End.Equal(*w.end)):
					t.Errorf("attempt %d: End = %v, want %v", i+1, a.End, w.end.In(loc))
				case w.end != nil:
					if a.EndReason != plan.EndSlip {
						t.Errorf("attempt %d: EndReason = %q, want slip", i+1, a.EndReason)
					}
					if a.SlipContactID != ids[*w.end] {
						t.Errorf("attempt %d: SlipContactID = %q, want %q", i+1, a.SlipContactID, ids[*w.end])
					}
				}
			}
			if s := p.Streaks(tc.now); s != tc.ws {
				t.Errorf("streaks = %+v, want %+v", s, tc.ws)
			}
			// Nothing is erased: every slip stays in the contact log.
			if len(p.Contacts) != len(tc.slips) {
				t.Errorf("contact log has %d entries, want %d", len(p.Contacts), len(tc.slips))
			}
		})
	}
}

func TestStreak_SlipsRecordedOutOfOrderGiveTheSameHistory(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 1, 5+n, h, 0, 0, 0, loc) }
	now := day(20, 12)
	p := newActive(t, baseParams("Europe/Berlin", day(0, 10)), now)
	// The later slip is logged first; the earlier one is logged late.
	mustRecord(t, p, plan.ContactParams{ID: "late", Direction: plan.Outbound, OccurredAt: day(15, 10)}, now)
	mustRecord(t, p, plan.ContactParams{ID: "early", Direction: plan.Outbound, OccurredAt: day(3, 10)}, now)
	as := p.Attempts(now)
	if len(as) != 3 {
		t.Fatalf("attempts = %+v, want 3", as)
	}
	if as[0].SlipContactID != "early" || as[1].SlipContactID != "late" || as[2].End != nil {
		t.Errorf("attempts out of order: %+v", as)
	}
	if s := p.Streaks(now); s != (plan.Streaks{Current: 5, Longest: 12, Total: 20}) {
		t.Errorf("streaks = %+v, want {5 12 20}", s)
	}
}

func TestStreak_EndedPlanStopsCounting(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, loc)
	p := newActive(t, baseParams("Europe/Berlin", start), start)
	endAt := start.AddDate(0, 0, 10)
	if err := p.End("moving on with a therapist", endAt); err != nil {
		t.Fatal(err)
	}
	later := endAt.AddDate(0, 0, 30)
	s := p.Streaks(later)
	if s.Current != 0 || s.Longest != 10 || s.Total != 10 {
		t.Errorf("after End: streaks = %+v, want {0 10 10}", s)
	}
	as := p.Attempts(later)
	if len(as) != 1 || as[0].End == nil || !as[0].End.Equal(endAt) || as[0].EndReason != plan.EndPlanEnded {
		t.Errorf("after End: attempts = %+v", as)
	}
}
