package plan

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// HardDate is a day of the year the client expects to be hard (an
// anniversary, the ex's birthday, a holiday they shared), recurring every
// year on the plan's local calendar. Label is the client's own words: it
// never leaves the plan in an event.
type HardDate struct {
	ID    string `bson:"id"`
	Label string `bson:"label"`
	Month int    `bson:"month"`
	Day   int    `bson:"day"`
}

// Limits of the hard dates.
const (
	maxHardDates    = 20
	maxHardLabelLen = 80
	// HardDateNoteHour is the local hour of the day before a hard date at
	// which the client's note falls due: a morning, so that the day ahead
	// can be planned, and outside any usual quiet hours.
	HardDateNoteHour = 9
)

// daysInMonth is the longest the month can be (February: 29), so February
// 29 is a valid hard date.
func daysInMonth(m int) int {
	return time.Date(2024, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (p *Plan) setHardDates(hs []HardDate, newID func() string, vs *violations) {
	if len(hs) > maxHardDates {
		vs.add("hard_dates", "at most %d", maxHardDates)
		return
	}
	out := make([]HardDate, 0, len(hs))
	seen := idSet{}
	for i, h := range hs {
		f := fmt.Sprintf("hard_dates[%d]", i)
		h.Label = strings.TrimSpace(h.Label)
		if h.Label == "" || utf8.RuneCountInString(h.Label) > maxHardLabelLen {
			vs.add(f+".label", "must be 1 to %d characters", maxHardLabelLen)
		}
		switch {
		case h.Month < 1 || h.Month > 12:
			vs.add(f+".month", "must be between 1 and 12")
		case h.Day < 1 || h.Day > daysInMonth(h.Month):
			vs.add(f+".day", "must be a day of %s (1 to %d)", time.Month(h.Month), daysInMonth(h.Month))
		}
		seen.check(f, h.ID, vs)
		h.ID = ensureID(h.ID, newID)
		out = append(out, h)
	}
	p.HardDates = out
}

// In is the date the hard date falls on in year: February 29 is observed
// on February 28 in a year without it.
func (h HardDate) In(year int) Date {
	d := h.Day
	if h.Month == 2 && d == 29 && !isLeap(year) {
		d = 28
	}
	return Date{time.Date(year, time.Month(h.Month), d, 0, 0, 0, 0, time.UTC)}
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// NoteTime is when the note for the hard date on d falls due: 09:00 local
// time, in loc, of the day before.
func NoteTime(d Date, loc *time.Location) time.Time {
	return d.AddDays(-1).At(HardDateNoteHour, loc)
}

// NextHardDate is the plan's next hard date on its local calendar, today
// included: the date it falls on and the client's label for it (for the
// client and their care team; never for events). ok is false when the
// plan names none.
func NextHardDate(p *Plan, now time.Time) (date Date, label string, ok bool) {
	today := DateOf(now, p.Location())
	for _, h := range p.HardDates {
		d := h.In(today.Year())
		if d.Before(today) {
			d = h.In(today.Year() + 1)
		}
		if !ok || d.Before(date) {
			date, label, ok = d, h.Label, true
		}
	}
	return date, label, ok
}

// HardDateNoteID is the stable id of the note for one occurrence of a hard
// date: whichever replica (or write) records it, it is the same event.
func HardDateNoteID(planID, hardDateID string, d Date) string {
	return fmt.Sprintf("hd-%s-%s-%s", planID, hardDateID, d)
}

// HardDateNote is a hard date that is tomorrow, as recorded for the note.
type HardDateNote struct {
	ID         string
	HardDateID string
	Date       Date
}

// advanceHardDates records a note for each hard date whose note is due (it
// is the day before, from 09:00 local on) and not yet recorded for that
// occurrence, and returns when the next note falls due (nil: none). A note
// that fell due while nobody advanced the plan is still given until the
// hard day begins, and not after: "tomorrow" would be wrong then.
func (p *Plan) advanceHardDates(now time.Time) *time.Time {
	if len(p.HardDates) == 0 {
		p.HardDateNotes = nil
		return nil
	}
	loc := p.Location()
	today := DateOf(now, loc)
	keep := make(map[string]string, len(p.HardDates))
	var next *time.Time
	for _, h := range p.HardDates {
		noted := p.HardDateNotes[h.ID]
		for y := today.Year(); y <= today.Year()+2; y++ {
			d := h.In(y)
			if !d.Start(loc).After(now) || noted == d.String() {
				continue
			}
			at := NoteTime(d, loc)
			if at.After(now) {
				if next == nil || at.Before(*next) {
					next = &at
				}
				break
			}
			noted = d.String()
			p.record(Event{Kind: EventHardDateUpcoming, Time: now,
				HardDate: &HardDateNote{ID: HardDateNoteID(p.ID, h.ID, d), HardDateID: h.ID, Date: d}})
		}
		if noted != "" {
			keep[h.ID] = noted
		}
	}
	// Only the hard dates the plan names keep their last noted date, so
	// the map stays as small as the list.
	p.HardDateNotes = keep
	if len(keep) == 0 {
		p.HardDateNotes = nil
	}
	return next
}

// UpcomingHardDate is the plan's next hard date when it falls within days
// local days of today (0: today only), for the care team's roster: the
// hard date, the date it falls on and how many days away it is.
func UpcomingHardDate(p *Plan, now time.Time, days int) (h HardDate, date Date, in int, ok bool) {
	today := DateOf(now, p.Location())
	for _, hd := range p.HardDates {
		d := hd.In(today.Year())
		if d.Before(today) {
			d = hd.In(today.Year() + 1)
		}
		if n := today.DaysUntil(d); n <= days && (!ok || d.Before(date)) {
			h, date, in, ok = hd, d, n, true
		}
	}
	return h, date, in, ok
}
