// Package localtime answers wall-clock questions in a user's IANA time zone:
// is it quiet hours, when do they end, when is the next reminder due, what is
// the local date. Every answer follows the local wall clock across DST
// changes, and "now" is always passed in.
//
// Two DST rules apply throughout. A wall-clock time that does not exist on a
// given day (it falls in a spring-forward gap) happens at the first instant
// after the gap. A wall-clock time that happens twice (in a fall-back
// overlap) counts once, at its first occurrence, for scheduling.
//
// time.Date cannot be used for this: for a time in a gap or an overlap it
// picks one of the offsets without a documented rule, and the choice differs
// between zones east and west of UTC. This package resolves wall-clock times
// from the zone's transitions itself.
package localtime

import (
	"fmt"
	"time"
)

// Clock is a local wall-clock time of day, to the minute.
type Clock struct {
	Hour, Minute int
}

// String formats c as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

func (c Clock) seconds() int { return c.Hour*3600 + c.Minute*60 }

// ParseHHMM parses a local time of day written "HH:MM" (00:00 to 23:59), the
// form the notify API uses. An empty string means "not set": ok is false and
// err is nil.
func ParseHHMM(s string) (c Clock, ok bool, err error) {
	if s == "" {
		return Clock{}, false, nil
	}
	digit := func(b byte) (int, bool) { return int(b - '0'), b >= '0' && b <= '9' }
	if len(s) != 5 || s[2] != ':' {
		return Clock{}, false, fmt.Errorf("%q is not a time of day: use HH:MM, from 00:00 to 23:59", s)
	}
	h1, ok1 := digit(s[0])
	h2, ok2 := digit(s[1])
	m1, ok3 := digit(s[3])
	m2, ok4 := digit(s[4])
	c = Clock{Hour: h1*10 + h2, Minute: m1*10 + m2}
	if !ok1 || !ok2 || !ok3 || !ok4 || c.Hour > 23 || c.Minute > 59 {
		return Clock{}, false, fmt.Errorf("%q is not a time of day: use HH:MM, from 00:00 to 23:59", s)
	}
	return c, true, nil
}

// InWindow reports whether the local wall clock at t lies in the daily window
// [start, end): quiet hours. The window may cross midnight (22:00 to 07:00);
// start == end is an empty window. Because the window is on the wall clock,
// it covers a repeated hour twice on a fall-back night and skips a missing
// hour on a spring-forward night. A nil loc means UTC.
func InWindow(t time.Time, loc *time.Location, start, end Clock) bool {
	s, e := start.seconds(), end.seconds()
	if s == e {
		return false
	}
	lt := t.In(orUTC(loc))
	now := lt.Hour()*3600 + lt.Minute()*60 + lt.Second()
	if s < e {
		return now >= s && now < e
	}
	return now >= s || now < e
}

// WindowEnd returns the instant the window [start, end) that contains t ends:
// the first instant after t at which the local wall clock reads end. If end
// does not exist that day (a DST gap), the window ends at the first instant
// after the gap; if it occurs twice, at its first occurrence after t. When t
// is not in the window, WindowEnd returns t, so the result is always the
// earliest instant a held notification may go out.
func WindowEnd(t time.Time, loc *time.Location, start, end Clock) time.Time {
	loc = orUTC(loc)
	if !InWindow(t, loc, start, end) {
		return t
	}
	day := civilDate(t.In(loc))
	for i := -1; i <= 2; i++ {
		for _, u := range occurrences(day.AddDate(0, 0, i), end, loc) {
			if u.After(t) {
				return u
			}
		}
	}
	// Unreachable for real zones: the window is shorter than a day.
	return t
}

// NextAt returns the next instant strictly after `after` at which the local
// wall clock reads at, once per local day: on a spring-forward day when at
// does not exist, the first instant after the gap; on a fall-back day when it
// occurs twice, only the first occurrence. Feeding the result back in as
// `after` therefore yields each day's reminder exactly once.
func NextAt(after time.Time, loc *time.Location, at Clock) time.Time {
	loc = orUTC(loc)
	day := civilDate(after.In(loc))
	// Start a day early: a gap that crosses midnight can move yesterday's
	// time past `after`.
	for i := -1; i <= 2; i++ {
		if u := resolve(day.AddDate(0, 0, i), at, loc); u.After(after) {
			return u
		}
	}
	return resolve(day.AddDate(0, 0, 3), at, loc)
}

// LocalDate returns the local calendar date of t, "YYYY-MM-DD".
func LocalDate(t time.Time, loc *time.Location) string {
	return t.In(orUTC(loc)).Format(time.DateOnly)
}

// StartOfNextDay returns the first instant of the local day after t's. Where
// midnight does not exist (zones that spring forward at 00:00), that is the
// first instant after the gap.
func StartOfNextDay(t time.Time, loc *time.Location) time.Time {
	loc = orUTC(loc)
	return resolve(civilDate(t.In(loc)).AddDate(0, 0, 1), Clock{}, loc)
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// civilDate is the calendar date of lt's wall clock, as midnight UTC, so that
// AddDate does plain calendar arithmetic.
func civilDate(lt time.Time) time.Time {
	y, m, d := lt.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// resolve is the one instant that stands for wall clock c on the civil date
// day: its first occurrence, or the end of the gap that swallows it.
func resolve(day time.Time, c Clock, loc *time.Location) time.Time {
	return occurrences(day, c, loc)[0]
}

// occurrences lists, in order, the instants at which the wall clock in loc
// reads c on the civil date day: one normally, two in a fall-back overlap.
// In a spring-forward gap it returns the single instant the gap ends.
//
// It walks the zone periods around the date: within a period of offset o, the
// wall time w happens at w-o if that instant lies inside the period.
func occurrences(day time.Time, c Clock, loc *time.Location) []time.Time {
	wall := day.Add(time.Duration(c.seconds()) * time.Second) // wall clock, as if it were UTC
	// Real offsets lie within -12h..+14h, so the instant lies within this span.
	from, to := wall.Add(-15*time.Hour), wall.Add(15*time.Hour)

	var found []time.Time
	var gapEnd time.Time
	prevOffset, havePrev := 0, false
	for p := from; !p.After(to); {
		_, offset := p.In(loc).Zone()
		start, end := p.In(loc).ZoneBounds()
		if havePrev && gapEnd.IsZero() && !start.IsZero() {
			// At the transition `start`, the wall clock jumps from
			// start+prevOffset to start+offset; a wall time in between is skipped.
			before := start.Add(time.Duration(prevOffset) * time.Second)
			after := start.Add(time.Duration(offset) * time.Second)
			if !wall.Before(before) && wall.Before(after) {
				gapEnd = start
			}
		}
		u := wall.Add(-time.Duration(offset) * time.Second)
		if (start.IsZero() || !u.Before(start)) && (end.IsZero() || u.Before(end)) {
			found = append(found, u.In(loc))
		}
		if end.IsZero() {
			break
		}
		p, prevOffset, havePrev = end, offset, true
	}
	if len(found) == 0 && !gapEnd.IsZero() {
		found = append(found, gapEnd.In(loc))
	}
	if len(found) == 0 {
		// Not expected with real zone data; fall back to the library's choice
		// rather than return nothing.
		found = append(found, time.Date(day.Year(), day.Month(), day.Day(), c.Hour, c.Minute, 0, 0, loc))
	}
	return found
}
