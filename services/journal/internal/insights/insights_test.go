package insights

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func val(p *float64) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprintf("%.4f", *p)
}

func approx(p *float64, want float64) bool {
	return p != nil && math.Abs(*p-want) < 1e-9
}

func mustCompute(t *testing.T, in Input) Summary {
	t.Helper()
	s, err := Compute(in)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return s
}

func TestEmptyWindow(t *testing.T) {
	s := mustCompute(t, Input{Today: "2026-11-25", Days: 7})
	if s.FromDate != "2026-11-19" || s.ToDate != "2026-11-25" {
		t.Errorf("window %s..%s, want 2026-11-19..2026-11-25", s.FromDate, s.ToDate)
	}
	if len(s.Days) != 7 {
		t.Fatalf("%d days, want 7: every day of the window is shown, even empty ones", len(s.Days))
	}
	for _, d := range s.Days {
		if d.MoodAverage != nil || d.UrgeAverage != nil || d.CheckInCount+d.UrgeCount+d.EntryCount != 0 {
			t.Errorf("empty day %s shows data: %+v", d.LocalDate, d)
		}
	}
	if s.MoodAverage != nil || s.UrgeAverage != nil {
		t.Errorf("averages %s, %s; want absent, not zero", val(s.MoodAverage), val(s.UrgeAverage))
	}
	if len(s.TopTriggers) != 0 || len(s.HelpfulSelfCare) != 0 || s.JournalingStreakDays != 0 {
		t.Errorf("empty window shows triggers %v, self-care %v, streak %d", s.TopTriggers, s.HelpfulSelfCare, s.JournalingStreakDays)
	}
}

func TestWindowLength(t *testing.T) {
	tests := []struct {
		days     int
		wantLen  int
		wantFrom string
	}{
		{0, DefaultDays, "2026-10-27"},
		{-4, DefaultDays, "2026-10-27"},
		{1, 1, "2026-11-25"},
		{7, 7, "2026-11-19"},
		{90, 90, "2026-08-28"},
		{10_000, MaxDays, "2025-11-25"},
	}
	for _, tt := range tests {
		s := mustCompute(t, Input{Today: "2026-11-25", Days: tt.days})
		if len(s.Days) != tt.wantLen || s.FromDate != tt.wantFrom || s.Days[0].LocalDate != tt.wantFrom || s.Days[len(s.Days)-1].LocalDate != "2026-11-25" {
			t.Errorf("Days=%d: %d days from %s, want %d from %s", tt.days, len(s.Days), s.FromDate, tt.wantLen, tt.wantFrom)
		}
	}
}

func TestMalformedTodayIsAnError(t *testing.T) {
	if _, err := Compute(Input{Today: "25/11/2026"}); err == nil {
		t.Error("Compute with a malformed today gave no error")
	}
}

func TestDaysAcrossDSTChangesAreConsecutive(t *testing.T) {
	// March 2026 holds the US (8th) and EU (29th) spring changes; October
	// and November hold the autumn ones. Local dates have no clock time,
	// so each day must follow the last by exactly one calendar day.
	for _, today := range []string{"2026-03-31", "2026-11-10"} {
		s := mustCompute(t, Input{
			Today: today, Days: 45,
			CheckIns: []CheckIn{{LocalDate: "2026-03-29", Mood: 2}, {LocalDate: "2026-10-25", Mood: -1}, {LocalDate: "2026-11-01", Mood: 1}},
		})
		if len(s.Days) != 45 {
			t.Fatalf("%d days, want 45", len(s.Days))
		}
		for i := 1; i < len(s.Days); i++ {
			prev, _ := time.Parse(dateLayout, s.Days[i-1].LocalDate)
			cur, _ := time.Parse(dateLayout, s.Days[i].LocalDate)
			if cur.Sub(prev) != 24*time.Hour {
				t.Errorf("%s follows %s", s.Days[i].LocalDate, s.Days[i-1].LocalDate)
			}
		}
		for _, d := range s.Days {
			switch d.LocalDate {
			case "2026-03-29", "2026-10-25", "2026-11-01":
				if d.CheckInCount != 1 {
					t.Errorf("the check-in of the DST day %s is not on it: %+v", d.LocalDate, d)
				}
			}
		}
	}
}

func TestDailyAndOverallAverages(t *testing.T) {
	s := mustCompute(t, Input{
		Today: "2026-11-25", Days: 7,
		CheckIns: []CheckIn{
			{LocalDate: "2026-11-24", Mood: -1},
			{LocalDate: "2026-11-24", Mood: 2},
			{LocalDate: "2026-11-25", Mood: 3},
			{LocalDate: "2026-11-18", Mood: -3}, // the day before the window
			{LocalDate: "2026-11-26", Mood: -3}, // tomorrow
			{LocalDate: "garbage", Mood: -3},
		},
		Urges: []Urge{
			{LocalDate: "2026-11-20", Intensity: 8},
			{LocalDate: "2026-11-20", Intensity: 3},
			{LocalDate: "2026-11-25", Intensity: 0},
		},
		Entries: []Entry{{"2026-11-24"}, {"2026-11-24"}},
	})
	byDate := map[string]Day{}
	for _, d := range s.Days {
		byDate[d.LocalDate] = d
	}
	if d := byDate["2026-11-24"]; !approx(d.MoodAverage, 0.5) || d.CheckInCount != 2 || d.EntryCount != 2 {
		t.Errorf("2026-11-24 = mood %s, %d check-ins, %d entries; want 0.5, 2, 2", val(d.MoodAverage), d.CheckInCount, d.EntryCount)
	}
	if d := byDate["2026-11-20"]; !approx(d.UrgeAverage, 5.5) || d.UrgeCount != 2 || d.MoodAverage != nil {
		t.Errorf("2026-11-20 = urge %s x%d, mood %s; want 5.5 x2, absent", val(d.UrgeAverage), d.UrgeCount, val(d.MoodAverage))
	}
	if d := byDate["2026-11-25"]; !approx(d.UrgeAverage, 0) {
		t.Errorf("an urge of 0 averages to %s, want 0 (present)", val(d.UrgeAverage))
	}
	// Overall averages are over the window's check-ins and urges.
	if !approx(s.MoodAverage, 4.0/3) {
		t.Errorf("mood average %s, want 1.3333 (out-of-window check-ins left out)", val(s.MoodAverage))
	}
	if !approx(s.UrgeAverage, 11.0/3) {
		t.Errorf("urge average %s, want 3.6667", val(s.UrgeAverage))
	}
}

func TestTopTriggers(t *testing.T) {
	s := mustCompute(t, Input{
		Today: "2026-11-25", Days: 7,
		CheckIns: []CheckIn{
			{LocalDate: "2026-11-25", Triggers: []string{"nighttime", "music", "music"}},
			{LocalDate: "2026-11-24", Triggers: []string{"nighttime", "photos", "alcohol"}},
			{LocalDate: "2026-11-23", Triggers: []string{"stress", "boredom", "places"}},
			{LocalDate: "2026-10-01", Triggers: []string{"places", "places"}}, // outside the window
		},
		Urges: []Urge{
			{LocalDate: "2026-11-25", Trigger: "their_social_media"},
			{LocalDate: "2026-11-22", Trigger: "their_social_media"},
			{LocalDate: "2026-11-21", Trigger: "their_social_media"},
			{LocalDate: "2026-11-21", Trigger: ""},
		},
	})
	want := []TriggerCount{{"their_social_media", 3}, {"nighttime", 2}, {"alcohol", 1}, {"boredom", 1}, {"music", 1}}
	if !slices.Equal(s.TopTriggers, want) {
		t.Errorf("top triggers %v, want %v (most first, ties by name, at most 5)", s.TopTriggers, want)
	}
}

func TestHelpfulSelfCare(t *testing.T) {
	day := func(date string, mood int, selfCare ...string) CheckIn {
		return CheckIn{LocalDate: date, Mood: mood, SelfCare: selfCare}
	}
	s := mustCompute(t, Input{
		Today: "2026-11-25", Days: 14,
		CheckIns: []CheckIn{
			day("2026-11-19", 2, "exercise", "friends"),
			day("2026-11-20", 2, "exercise", "rest"),
			day("2026-11-21", -1, "friends", "rest"),
			day("2026-11-22", 0, "meditation"),
			day("2026-11-23", -2, "rest"),
			// Two check-ins on one day: the day counts once, at its mean.
			day("2026-11-24", 3, "nature"),
			day("2026-11-24", -1),
			day("2026-11-25", 1, "nature", "hobby", "hobby"),
		},
	})
	// Days with a check-in and their means: 19:2 20:2 21:-1 22:0 23:-2 24:1 25:1 (sum 3, 7 days).
	// exercise: with 2,2 (mean 2) / without -1,0,-2,1,1 (mean -0.2)
	// nature:   with 1,1 (mean 1) / without 2,2,-1,0,-2 (mean 0.2)
	// friends:  with 2,-1 (0.5)   / without 2,0,-2,1,1 (0.4)
	// rest:     with 2,-1,-2 (-1/3) / without: higher, so not listed
	// meditation and hobby: one day only, not enough to say.
	want := []SelfCareEffect{
		{"exercise", 2, 2, -0.2},
		{"nature", 2, 1, 0.2},
		{"friends", 2, 0.5, 0.4},
	}
	if len(s.HelpfulSelfCare) != len(want) {
		t.Fatalf("helpful self-care %+v, want %+v", s.HelpfulSelfCare, want)
	}
	for i, w := range want {
		g := s.HelpfulSelfCare[i]
		if g.SelfCare != w.SelfCare || g.DaysWith != w.DaysWith || math.Abs(g.MoodWith-w.MoodWith) > 1e-9 || math.Abs(g.MoodWithout-w.MoodWithout) > 1e-9 {
			t.Errorf("helpful self-care #%d = %+v, want %+v", i, g, w)
		}
	}
}

func TestSelfCareNeedsDaysWithout(t *testing.T) {
	// Exercise every day but one: there is nothing fair to compare with.
	var cis []CheckIn
	for i, mood := range []int{3, 3, 3, -3} {
		sc := []string{"exercise"}
		if i == 3 {
			sc = nil
		}
		cis = append(cis, CheckIn{LocalDate: fmt.Sprintf("2026-11-%02d", 22+i), Mood: mood, SelfCare: sc})
	}
	s := mustCompute(t, Input{Today: "2026-11-25", Days: 7, CheckIns: cis})
	if len(s.HelpfulSelfCare) != 0 {
		t.Errorf("helpful self-care %+v from a single day without; want none", s.HelpfulSelfCare)
	}
}

func TestJournalingStreak(t *testing.T) {
	entries := func(dates ...string) []Entry {
		var out []Entry
		for _, d := range dates {
			out = append(out, Entry{d})
		}
		return out
	}
	tests := []struct {
		name    string
		today   string // 2026-11-25 when empty
		entries []Entry
		want    int
	}{
		{"none", "", nil, 0},
		{"today only", "", entries("2026-11-25"), 1},
		{"three days to today", "", entries("2026-11-23", "2026-11-24", "2026-11-25"), 3},
		{"not yet today: the streak to yesterday stands", "", entries("2026-11-23", "2026-11-24"), 2},
		{"a gap ends it", "", entries("2026-11-21", "2026-11-23", "2026-11-24", "2026-11-25"), 3},
		{"last entry two days ago", "", entries("2026-11-22", "2026-11-23"), 0},
		{"several entries a day count once", "", entries("2026-11-24", "2026-11-24", "2026-11-25", "2026-11-25"), 2},
		{"across a month end", "2026-11-01", entries("2026-10-30", "2026-10-31", "2026-11-01"), 3},
		{"reaching back before the window", "", entries("2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"), 9},
		{"a future entry is not today", "", entries("2026-11-26"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			today := tt.today
			if today == "" {
				today = "2026-11-25"
			}
			s := mustCompute(t, Input{Today: today, Days: 7, Entries: tt.entries})
			if s.JournalingStreakDays != tt.want {
				t.Errorf("streak %d, want %d", s.JournalingStreakDays, tt.want)
			}
		})
	}
}

// yearOfData is a year of an active client: a check-in a day, 500 urges,
// 200 entries.
func yearOfData(today time.Time) Input {
	triggers := []string{"their_social_media", "mutual_friends", "places", "dates_anniversaries", "music", "alcohol", "loneliness", "nighttime", "photos", "contact_from_ex", "boredom", "stress", "other"}
	selfCare := []string{"exercise", "nature", "meditation", "friends", "family", "hobby", "therapy", "rest", "healthy_meal", "creativity", "journaling"}
	date := func(i int) string { return today.AddDate(0, 0, -(i % 365)).Format(dateLayout) }
	in := Input{Today: today.Format(dateLayout), Days: 365}
	for i := range 365 {
		in.CheckIns = append(in.CheckIns, CheckIn{
			LocalDate: date(i),
			Mood:      i%7 - 3,
			SelfCare:  []string{selfCare[i%11], selfCare[(i*3)%11]},
			Triggers:  []string{triggers[i%13], triggers[(i*5)%13]},
		})
	}
	for i := range 500 {
		in.Urges = append(in.Urges, Urge{LocalDate: date(i * 7 / 10), Intensity: i % 11, Trigger: triggers[i%13]})
	}
	for i := range 200 {
		in.Entries = append(in.Entries, Entry{LocalDate: date(i * 2)})
	}
	return in
}

func BenchmarkComputeOneYear(b *testing.B) {
	in := yearOfData(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(in); err != nil {
			b.Fatal(err)
		}
	}
}
