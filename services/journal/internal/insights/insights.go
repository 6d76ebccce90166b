// Package insights summarises a client's check-ins, urges and journal
// entries over a window of local days: mood and urge trends, the triggers
// that come up most, the self-care that goes with better days, and the
// journaling streak.
//
// It is pure computation over what the service loaded for the window: no
// I/O, no clock (today is passed in). Dates are the client's local calendar
// dates ("YYYY-MM-DD") as stored on each record, so DST changes and time
// zone moves were already settled when the record was written; here dates
// are stepped as midnight UTC, where every day has 24 hours.
package insights

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Window lengths in days.
const (
	DefaultDays = 30  // when the request says 0
	MaxDays     = 366 // a sanity bound; the API allows at most 90
)

// TopTriggerCount is how many triggers Summary.TopTriggers holds at most.
const TopTriggerCount = 5

// MinDaysForSelfCare is how many days with, and how many without, an
// activity are needed before comparing them: one day either way says more
// about that day than about the activity.
const MinDaysForSelfCare = 2

const dateLayout = "2006-01-02"

// CheckIn is what insights needs of a check-in.
type CheckIn struct {
	LocalDate string
	Mood      int // -3..+3
	SelfCare  []string
	Triggers  []string
}

// Urge is what insights needs of an urge.
type Urge struct {
	LocalDate string
	Intensity int // 0..10
	Trigger   string
}

// Entry is what insights needs of a journal entry.
type Entry struct {
	LocalDate string
}

// Input is one client's data and the window to summarise.
type Input struct {
	// Today is the client's local date, the window's last day.
	Today string
	// Days is the window length: 0 means DefaultDays, anything above
	// MaxDays is MaxDays.
	Days     int
	CheckIns []CheckIn
	Urges    []Urge
	// Entries may reach back before the window: the journaling streak
	// counts every consecutive day it is given.
	Entries []Entry
}

// Summary matches GetInsightsResponse. A nil *float64 is an average with
// nothing to average.
type Summary struct {
	FromDate             string
	ToDate               string
	Days                 []Day // every day of the window, oldest first
	MoodAverage          *float64
	UrgeAverage          *float64
	TopTriggers          []TriggerCount
	HelpfulSelfCare      []SelfCareEffect
	JournalingStreakDays int
}

// Day is one local day of the window.
type Day struct {
	LocalDate    string
	MoodAverage  *float64
	CheckInCount int
	UrgeAverage  *float64
	UrgeCount    int
	EntryCount   int
}

// TriggerCount is how many check-ins and urges named a trigger.
type TriggerCount struct {
	Trigger string
	Count   int
}

// SelfCareEffect compares the mood of days with and without an activity.
type SelfCareEffect struct {
	SelfCare    string
	DaysWith    int
	MoodWith    float64
	MoodWithout float64
}

// dayAcc accumulates one day.
type dayAcc struct {
	moodSum, urgeSum         int
	checkIns, urges, entries int
	selfCare                 map[string]bool
}

// Compute summarises the window ending on in.Today. Records dated outside
// the window, or with a malformed date, are left out; only a malformed
// Today is an error.
func Compute(in Input) (Summary, error) {
	today, err := time.Parse(dateLayout, in.Today)
	if err != nil {
		return Summary{}, fmt.Errorf("insights: today %q: %w", in.Today, err)
	}
	days := in.Days
	switch {
	case days <= 0:
		days = DefaultDays
	case days > MaxDays:
		days = MaxDays
	}
	from := today.AddDate(0, 0, -(days - 1))

	// The window's dates as strings index the accumulators, so records
	// are matched without parsing each one.
	dates := make([]string, days)
	index := make(map[string]int, days)
	for i := range days {
		dates[i] = from.AddDate(0, 0, i).Format(dateLayout)
		index[dates[i]] = i
	}
	acc := make([]dayAcc, days)

	var moodSum, moodN, urgeSum, urgeN int
	triggers := map[string]int{}
	for _, c := range in.CheckIns {
		i, ok := index[c.LocalDate]
		if !ok {
			continue
		}
		a := &acc[i]
		a.moodSum += c.Mood
		a.checkIns++
		moodSum += c.Mood
		moodN++
		for _, s := range c.SelfCare {
			if a.selfCare == nil {
				a.selfCare = map[string]bool{}
			}
			a.selfCare[s] = true
		}
		for j, tr := range c.Triggers {
			// A check-in names a trigger once, even if the list repeats it.
			if tr != "" && !slices.Contains(c.Triggers[:j], tr) {
				triggers[tr]++
			}
		}
	}
	for _, u := range in.Urges {
		i, ok := index[u.LocalDate]
		if !ok {
			continue
		}
		acc[i].urgeSum += u.Intensity
		acc[i].urges++
		urgeSum += u.Intensity
		urgeN++
		if u.Trigger != "" {
			triggers[u.Trigger]++
		}
	}
	entryDates := make(map[string]bool, len(in.Entries))
	for _, e := range in.Entries {
		entryDates[e.LocalDate] = true
		if i, ok := index[e.LocalDate]; ok {
			acc[i].entries++
		}
	}

	out := Summary{
		FromDate:             dates[0],
		ToDate:               dates[days-1],
		Days:                 make([]Day, days),
		MoodAverage:          mean(moodSum, moodN),
		UrgeAverage:          mean(urgeSum, urgeN),
		TopTriggers:          topTriggers(triggers),
		JournalingStreakDays: journalingStreak(entryDates, today),
	}
	for i, a := range acc {
		out.Days[i] = Day{
			LocalDate:    dates[i],
			MoodAverage:  mean(a.moodSum, a.checkIns),
			CheckInCount: a.checkIns,
			UrgeAverage:  mean(a.urgeSum, a.urges),
			UrgeCount:    a.urges,
			EntryCount:   a.entries,
		}
	}
	out.HelpfulSelfCare = helpfulSelfCare(acc, out.Days)
	return out, nil
}

func mean(sum, n int) *float64 {
	if n == 0 {
		return nil
	}
	m := float64(sum) / float64(n)
	return &m
}

// topTriggers is the most frequent triggers, most frequent first, ties in
// alphabetical order so the answer never flickers between requests.
func topTriggers(counts map[string]int) []TriggerCount {
	out := make([]TriggerCount, 0, len(counts))
	for tr, n := range counts {
		out = append(out, TriggerCount{tr, n})
	}
	slices.SortFunc(out, func(a, b TriggerCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Trigger, b.Trigger)
	})
	return out[:min(len(out), TopTriggerCount)]
}

// helpfulSelfCare compares, for each activity, the mean of the daily mood
// averages on days it was done with the same on the other days that had a
// check-in. Each day weighs the same however many check-ins it had. Only
// activities with at least MinDaysForSelfCare days on each side, and a
// higher mood with than without, are listed, biggest difference first.
func helpfulSelfCare(acc []dayAcc, days []Day) []SelfCareEffect {
	type sums struct {
		with float64 // sum of the daily mood averages on days with it
		n    int
	}
	per := map[string]*sums{}
	var allSum float64
	var allN int
	for i, a := range acc {
		if a.checkIns == 0 {
			continue
		}
		m := *days[i].MoodAverage
		allSum += m
		allN++
		for s := range a.selfCare {
			x := per[s]
			if x == nil {
				x = &sums{}
				per[s] = x
			}
			x.with += m
			x.n++
		}
	}
	var out []SelfCareEffect
	for s, x := range per {
		without := allN - x.n
		if x.n < MinDaysForSelfCare || without < MinDaysForSelfCare {
			continue
		}
		e := SelfCareEffect{
			SelfCare:    s,
			DaysWith:    x.n,
			MoodWith:    x.with / float64(x.n),
			MoodWithout: (allSum - x.with) / float64(without),
		}
		// A tolerance keeps float noise from listing an activity whose
		// days were really just the same.
		if e.MoodWith-e.MoodWithout > 1e-9 {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b SelfCareEffect) int {
		if c := cmp.Compare(b.MoodWith-b.MoodWithout, a.MoodWith-a.MoodWithout); c != 0 {
			return c
		}
		return cmp.Compare(a.SelfCare, b.SelfCare)
	})
	return out
}

// journalingStreak counts consecutive days with an entry ending today, or
// ending yesterday when today has none yet: the day is not over, so a
// streak is not lost before the client has had a chance to write.
func journalingStreak(entryDates map[string]bool, today time.Time) int {
	d := today
	if !entryDates[d.Format(dateLayout)] {
		d = d.AddDate(0, 0, -1)
	}
	n := 0
	for n < len(entryDates) && entryDates[d.Format(dateLayout)] {
		n++
		d = d.AddDate(0, 0, -1)
	}
	return n
}
