package plan

import (
	"time"
	// The zone database is compiled in, so day counting works in
	// containers without /usr/share/zoneinfo (distroless images).
	_ "time/tzdata"
)

// Date is a local calendar date, held as midnight UTC of that day so that
// day differences are exact (no DST in UTC).
type Date struct{ t time.Time }

// DateOf is the calendar date of instant t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// AddDays is the date n days later.
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// DaysUntil is the number of calendar days from d to e (negative if e is
// earlier).
func (d Date) DaysUntil(e Date) int {
	return int(e.t.Sub(d.t).Hours() / 24)
}

// Start is the instant the date begins in loc: local midnight, or the first
// instant of the day where a DST change skips midnight.
func (d Date) Start(loc *time.Location) time.Time {
	y, m, day := d.t.Date()
	t := time.Date(y, m, day, 0, 0, 0, 0, loc)
	// Go may resolve a midnight that a DST change skips to the evening
	// before; the day really starts at the first instant that is on it.
	for i := 0; i < 4 && DateOf(t, loc) != d; i++ {
		t = t.Add(30 * time.Minute).Truncate(30 * time.Minute)
	}
	return t.UTC()
}

// String is the ISO form, YYYY-MM-DD.
func (d Date) String() string { return d.t.Format(time.DateOnly) }

// Year is the date's year.
func (d Date) Year() int { return d.t.Year() }

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// At is the instant of the wall-clock hour on the date in loc. Where a DST
// change skips that hour, it is the instant the clock shows after the jump
// (Go's normalisation); a repeated hour gives its first instant.
func (d Date) At(hour int, loc *time.Location) time.Time {
	y, m, day := d.t.Date()
	return time.Date(y, m, day, hour, 0, 0, 0, loc).UTC()
}
