package insights

import (
	"cmp"
	"slices"
	"time"
)

// The care team's view of a client (the counsellor's roster row and detail
// page). Like the rest of the package: pure, local dates as stored, today
// passed in.

// CareWindowDays is the roster's mood window: today and the 6 local days
// before it.
const CareWindowDays = 7

// CareDetailDays is the detail page's series: today and the 29 before.
const CareDetailDays = 30

// TrendThreshold is how far (on the -3..+3 scale) the later days' mean
// must be from the earlier days' mean to be a direction rather than steady.
const TrendThreshold = 0.5

// Trend is the direction of mood.
type Trend int

// Trends.
const (
	TrendUnknown Trend = iota // fewer than two days with a check-in
	TrendRising
	TrendSteady
	TrendFalling
)

// MoodTrend is the direction of mood over the CareWindowDays ending today.
// Each local day with check-ins counts once, with the mean of its moods;
// the days are ordered and split into an earlier and a later half (the
// middle day of an odd count is in neither); the trend is the later half's
// mean minus the earlier half's: above +TrendThreshold rising, below
// -TrendThreshold falling, else steady. Fewer than two days: unknown.
func MoodTrend(checkIns []CheckIn, today string) Trend {
	from := addDays(today, -(CareWindowDays - 1))
	sum, n := map[string]float64{}, map[string]int{}
	for _, ci := range checkIns {
		if ci.LocalDate < from || ci.LocalDate > today {
			continue
		}
		sum[ci.LocalDate] += float64(ci.Mood)
		n[ci.LocalDate]++
	}
	days := make([]string, 0, len(n))
	for d := range n {
		days = append(days, d)
	}
	if len(days) < 2 {
		return TrendUnknown
	}
	slices.Sort(days)
	half := len(days) / 2
	mean := func(ds []string) float64 {
		var s float64
		for _, d := range ds {
			s += sum[d] / float64(n[d])
		}
		return s / float64(len(ds))
	}
	diff := mean(days[len(days)-half:]) - mean(days[:half])
	switch {
	case diff > TrendThreshold:
		return TrendRising
	case diff < -TrendThreshold:
		return TrendFalling
	}
	return TrendSteady
}

// MoodAverage is the mean mood of the check-ins of the CareWindowDays
// ending today; ok is false without any.
func MoodAverage(checkIns []CheckIn, today string) (avg float64, ok bool) {
	from := addDays(today, -(CareWindowDays - 1))
	var s float64
	n := 0
	for _, ci := range checkIns {
		if ci.LocalDate >= from && ci.LocalDate <= today {
			s += float64(ci.Mood)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return s / float64(n), true
}

// UrgesInWindow counts the urges of the CareWindowDays ending today.
func UrgesInWindow(urges []Urge, today string) int {
	from := addDays(today, -(CareWindowDays - 1))
	n := 0
	for _, u := range urges {
		if u.LocalDate >= from && u.LocalDate <= today {
			n++
		}
	}
	return n
}

// MissedInARow counts the local days, from yesterday back, without a daily
// check-in: it stops at the latest day before today with one
// (latestDailyBeforeToday, "" when none) and never counts days before the
// first check-in of any kind (first, "" when none: then 0). A client who
// checked in yesterday, or who started today, has missed none.
func MissedInARow(first, latestDailyBeforeToday, today string) int {
	if first == "" {
		return 0
	}
	yesterday := addDays(today, -1)
	start := first
	if latestDailyBeforeToday != "" && addDays(latestDailyBeforeToday, 1) > start {
		start = addDays(latestDailyBeforeToday, 1)
	}
	if start > yesterday {
		return 0
	}
	return daysBetween(start, yesterday) + 1
}

// CareDay is one local day of the detail's series.
type CareDay struct {
	LocalDate   string
	MoodAverage *float64
	CheckIns    int
	Urges       int
	MaxUrge     *int
}

// CareDays is the CareDetailDays ending today, oldest first: each day's
// mean mood, check-ins, urges and strongest urge.
func CareDays(checkIns []CheckIn, urges []Urge, today string) []CareDay {
	from := addDays(today, -(CareDetailDays - 1))
	index := map[string]int{}
	out := make([]CareDay, CareDetailDays)
	sums := make([]float64, CareDetailDays)
	for i := range out {
		out[i].LocalDate = addDays(from, i)
		index[out[i].LocalDate] = i
	}
	for _, ci := range checkIns {
		if i, ok := index[ci.LocalDate]; ok {
			out[i].CheckIns++
			sums[i] += float64(ci.Mood)
		}
	}
	for _, u := range urges {
		if i, ok := index[u.LocalDate]; ok {
			out[i].Urges++
			if out[i].MaxUrge == nil || u.Intensity > *out[i].MaxUrge {
				v := u.Intensity
				out[i].MaxUrge = &v
			}
		}
	}
	for i := range out {
		if out[i].CheckIns > 0 {
			v := sums[i] / float64(out[i].CheckIns)
			out[i].MoodAverage = &v
		}
	}
	return out
}

// SlipWindow is how far either side of a slip a named trigger counts.
const SlipWindow = 24 * time.Hour

// Timed is a check-in's triggers or an urge's trigger with its instant.
type Timed struct {
	At       time.Time
	Triggers []string
}

// SlipTriggers counts the triggers named by records within SlipWindow
// either side of any slip (a record near two slips counts once), most
// frequent first, ties by name.
func SlipTriggers(records []Timed, slips []time.Time) []TriggerCount {
	counts := map[string]int{}
	for _, r := range records {
		near := false
		for _, s := range slips {
			if d := r.At.Sub(s); d >= -SlipWindow && d <= SlipWindow {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		seen := map[string]bool{}
		for _, t := range r.Triggers {
			if t != "" && !seen[t] {
				seen[t] = true
				counts[t]++
			}
		}
	}
	out := make([]TriggerCount, 0, len(counts))
	for t, n := range counts {
		out = append(out, TriggerCount{Trigger: t, Count: n})
	}
	slices.SortFunc(out, func(a, b TriggerCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Trigger, b.Trigger)
	})
	return out
}

// AddDays steps a local date by n calendar days.
func AddDays(date string, n int) string { return addDays(date, n) }

func addDays(date string, n int) string {
	t, err := time.Parse(dateLayout, date)
	if err != nil {
		return date
	}
	return t.AddDate(0, 0, n).Format(dateLayout)
}

func daysBetween(from, to string) int {
	a, err1 := time.Parse(dateLayout, from)
	b, err2 := time.Parse(dateLayout, to)
	if err1 != nil || err2 != nil {
		return 0
	}
	return int(b.Sub(a).Hours() / 24)
}
