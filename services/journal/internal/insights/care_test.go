package insights

import (
	"slices"
	"testing"
	"time"
)

func TestMissedInARow(t *testing.T) {
	for _, tc := range []struct {
		name, first, latestDaily, today string
		want                            int
	}{
		{"never checked in", "", "", "2026-03-10", 0},
		{"started today", "2026-03-10", "", "2026-03-10", 0},
		{"daily yesterday", "2026-03-01", "2026-03-09", "2026-03-10", 0},
		{"three days without", "2026-03-01", "2026-03-06", "2026-03-10", 3},
		{"no daily one since the first", "2026-03-07", "", "2026-03-10", 3},
		{"across a month end", "2026-01-01", "2026-02-27", "2026-03-02", 2},
		{"across a year end", "2026-01-01", "2026-12-30", "2027-01-02", 2},
	} {
		if got := MissedInARow(tc.first, tc.latestDaily, tc.today); got != tc.want {
			t.Errorf("%s: MissedInARow = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestMoodTrendIgnoresDaysOutsideTheWeekAndWeighsDaysEqually(t *testing.T) {
	today := "2026-03-10"
	cis := []CheckIn{
		{LocalDate: "2026-03-01", Mood: 3}, // 9 days ago: outside
		{LocalDate: "2026-03-05", Mood: -1},
		{LocalDate: "2026-03-05", Mood: -1},
		{LocalDate: "2026-03-05", Mood: -1},
		{LocalDate: "2026-03-10", Mood: -1},
		{LocalDate: "2026-03-10", Mood: 3}, // today's mean is +1
	}
	if got := MoodTrend(cis, today); got != TrendRising {
		t.Fatalf("trend = %v, want rising (-1 then +1)", got)
	}
	if avg, ok := MoodAverage(cis, today); !ok || avg != -0.2 {
		t.Fatalf("7-day mean = %v %v, want -0.2 over the five check-ins of the week", avg, ok)
	}
}

func TestSlipTriggersCountEachRecordOnceWithinADay(t *testing.T) {
	slip := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	recs := []Timed{
		{At: slip.Add(-24 * time.Hour), Triggers: []string{"music", "photos"}},
		{At: slip.Add(time.Hour), Triggers: []string{"photos"}},
		{At: slip.Add(25*time.Hour + time.Second), Triggers: []string{"alcohol"}}, // 24 h and 1 s after the second slip
	}
	got := SlipTriggers(recs, []time.Time{slip, slip.Add(time.Hour)})
	want := []TriggerCount{{Trigger: "photos", Count: 2}, {Trigger: "music", Count: 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("slip triggers = %v, want %v", got, want)
	}
}

func TestCareDaysAreThirtyLocalDaysEndingToday(t *testing.T) {
	days := CareDays([]CheckIn{{LocalDate: "2026-03-29", Mood: 2}, {LocalDate: "2026-03-29", Mood: -1}},
		[]Urge{{LocalDate: "2026-03-29", Intensity: 3}, {LocalDate: "2026-03-29", Intensity: 8}, {LocalDate: "2026-02-01", Intensity: 9}}, "2026-03-30")
	if len(days) != 30 || days[0].LocalDate != "2026-03-01" || days[29].LocalDate != "2026-03-30" {
		t.Fatalf("days from %s to %s (%d), want 2026-03-01..2026-03-30", days[0].LocalDate, days[len(days)-1].LocalDate, len(days))
	}
	d := days[28]
	if d.CheckIns != 2 || *d.MoodAverage != 0.5 || d.Urges != 2 || *d.MaxUrge != 8 {
		t.Fatalf("2026-03-29 = %+v", d)
	}
	if days[29].MoodAverage != nil || days[29].MaxUrge != nil {
		t.Fatalf("a day without records has values: %+v", days[29])
	}
}
