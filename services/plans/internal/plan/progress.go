package plan

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// EndReason is why an attempt ended.
type EndReason string

// Attempt end reasons.
const (
	EndSlip      EndReason = "slip"
	EndPlanEnded EndReason = "plan_ended"
)

// Attempt is one unbroken stretch of no-contact. Attempts are derived from
// the plan start and the slips every time, never stored, so a correction of
// the contact log can never leave them inconsistent.
type Attempt struct {
	Number        int
	Start         time.Time
	End           *time.Time
	EndReason     EndReason
	SlipContactID string
	Days          int
}

// Attempts derives the attempts at now, oldest first. A draft has none.
// The slips are taken in time order (ties by contact id), so the same log
// gives the same attempts whatever the order it was recorded in.
func (p *Plan) Attempts(now time.Time) []Attempt {
	if !p.Counting() {
		return nil
	}
	limit := now
	if p.EndTime != nil && p.EndTime.Before(now) {
		limit = *p.EndTime
	}
	// The summary is kept in time order (ties by contact id), so the same
	// log gives the same attempts whatever the order it was recorded in.
	slips := p.Slips
	if !slices.IsSortedFunc(slips, slipLess) {
		slips = slices.SortedFunc(slices.Values(slips), slipLess)
	}

	var out []Attempt
	cur := p.StartTime
	for _, s := range slips {
		if s.OccurredAt.After(limit) || p.paused(s.OccurredAt) {
			continue
		}
		recommit := s.OccurredAt
		if s.RecommitTime != nil && s.RecommitTime.After(recommit) {
			recommit = *s.RecommitTime
		}
		if s.OccurredAt.Before(cur) {
			// A slip in the gap before a recommit: no attempt to end, but
			// the new one cannot start before this slip's recommit.
			if recommit.After(cur) {
				cur = recommit
			}
			continue
		}
		end := s.OccurredAt
		out = append(out, Attempt{Start: cur, End: &end, EndReason: EndSlip, SlipContactID: s.ContactID, Days: p.countDays(cur, end, now)})
		cur = recommit
	}
	last := Attempt{Start: cur}
	if p.EndTime != nil {
		end := *p.EndTime
		last.End, last.EndReason = &end, EndPlanEnded
		last.Days = p.countDays(cur, end, now)
	} else {
		last.Days = p.countDays(cur, now, now)
	}
	out = append(out, last)
	for i := range out {
		out[i].Number = i + 1
	}
	return out
}

const day24 = 24 * time.Hour

// countDays counts the local calendar days from start to end: the local
// date at end (in the zone of that moment) less the local date at start
// (in the zone of that moment), less the time spent paused in whole days.
// A pause freezes the count: an end inside a pause counts as the pause's
// start. So a 23- or 25-hour day across a DST change is one day, and a
// 20-minute pause across midnight costs no day.
func (p *Plan) countDays(start, end, now time.Time) int {
	end = p.frozenAt(end)
	if !end.After(start) {
		return 0
	}
	days := p.LocalDate(start).DaysUntil(p.LocalDate(end)) - int(p.pausedBetween(start, end, now)/day24)
	return max(days, 0)
}

// frozenAt is t, or the start of the pause t falls in.
func (p *Plan) frozenAt(t time.Time) time.Time {
	for _, pa := range p.Pauses {
		if !t.Before(pa.Start) && (pa.End == nil || t.Before(*pa.End)) {
			return pa.Start
		}
	}
	return t
}

// pausedBetween is the time spent paused between start and end (an open
// pause runs to now).
func (p *Plan) pausedBetween(start, end, now time.Time) time.Duration {
	var total time.Duration
	for _, pa := range p.Pauses {
		pe := now
		if pa.End != nil {
			pe = *pa.End
		}
		s, e := maxTime(pa.Start, start), minTime(pe, end)
		if e.After(s) {
			total += e.Sub(s)
		}
	}
	return total
}

// reachTimes walks an attempt from its start up to limit and returns the
// instant each of days was reached: the count changes only at a local
// midnight (in the zone of that moment), at a move of zone and at the end
// of a pause, so those are the instants looked at.
func (p *Plan) reachTimes(a Attempt, limit, now time.Time, days []int) map[int]time.Time {
	out := make(map[int]time.Time, len(days))
	maxDay := 0
	for _, d := range days {
		maxDay = max(maxDay, d)
	}
	t, count := a.Start, 0
	for count < maxDay {
		next := p.nextChange(t, now)
		if next.After(limit) {
			break
		}
		t = next
		n := p.countDays(a.Start, t, now)
		for _, d := range days {
			if d > count && d <= n {
				out[d] = t
			}
		}
		count = max(count, n)
	}
	return out
}

// nextChange is the first instant after t at which a day count may change.
func (p *Plan) nextChange(t, now time.Time) time.Time {
	loc := p.zoneAt(t)
	next := DateOf(t, loc).AddDays(1).Start(loc)
	for _, z := range p.PastZones {
		if z.Until.After(t) && z.Until.Before(next) {
			next = z.Until
		}
	}
	for _, pa := range p.Pauses {
		if pa.End != nil && pa.End.After(t) && pa.End.Before(next) {
			next = *pa.End
		}
	}
	return next
}

// projectedDue is when day `day` of the running attempt will begin if
// nothing changes: local midnight in the current zone, moved on by the
// whole days already paused. Unknown while paused.
func (p *Plan) projectedDue(a Attempt, day int, now time.Time) (time.Time, bool) {
	if p.Status == StatusPaused {
		return time.Time{}, false
	}
	loc := p.Location()
	paused := int(p.pausedBetween(a.Start, now, now) / day24)
	return p.LocalDate(a.Start).AddDays(day + paused).Start(loc), true
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Streaks are the numbers a client looks at first.
type Streaks struct {
	Current, Longest, Total int
}

// Streaks derives the current, longest and total no-contact days.
func (p *Plan) Streaks(now time.Time) Streaks { return streaksOf(p.Attempts(now)) }

func streaksOf(attempts []Attempt) Streaks {
	var s Streaks
	for _, a := range attempts {
		s.Total += a.Days
		s.Longest = max(s.Longest, a.Days)
	}
	if n := len(attempts); n > 0 && attempts[n-1].End == nil {
		s.Current = attempts[n-1].Days
	}
	return s
}

// CurrentStreakDays is the days of the running attempt (0 when none runs).
func (p *Plan) CurrentStreakDays(now time.Time) int { return p.Streaks(now).Current }

// Progress is everything a client sees of a plan's progress at one
// instant, derived from the log once.
type Progress struct {
	Attempts   []Attempt
	Streaks    Streaks
	Milestones []Milestone
	History    []Milestone
	Next       *Milestone
}

// Progress derives the attempts once and the streaks and milestones from
// them.
func (p *Plan) Progress(now time.Time) Progress {
	attempts := p.Attempts(now)
	pr := Progress{Attempts: attempts, Streaks: streaksOf(attempts),
		Milestones: p.milestonesOf(attempts, now), History: p.historyOf(attempts, now)}
	for _, m := range pr.Milestones {
		if m.Status == MilestonePending {
			m := m
			pr.Next = &m
			break
		}
	}
	return pr
}

// MilestoneKind is where a milestone comes from.
type MilestoneKind string

// Milestone kinds.
const (
	KindLadder MilestoneKind = "ladder"
	KindTarget MilestoneKind = "target"
	KindCustom MilestoneKind = "custom"
)

// MilestoneStatus is a milestone's state.
type MilestoneStatus string

// Milestone states.
const (
	MilestonePending      MilestoneStatus = "pending"
	MilestoneReached      MilestoneStatus = "reached"
	MilestoneAcknowledged MilestoneStatus = "acknowledged"
	MilestoneSuperseded   MilestoneStatus = "superseded"
)

// MilestoneRecord is what is stored of a milestone once reached.
type MilestoneRecord struct {
	ID           string        `bson:"id"`
	Day          int           `bson:"day"`
	Kind         MilestoneKind `bson:"kind"`
	AttemptStart time.Time     `bson:"attempt_start"`
	DueTime      time.Time     `bson:"due_time"`
	ReachTime    time.Time     `bson:"reach_time"`
	AckTime      *time.Time    `bson:"ack_time,omitempty"`
	// Superseded: a slip ended the milestone's attempt before its day.
	Superseded bool `bson:"superseded"`
	// Supersessions counts the times it was superseded (a void can give
	// it back, the same slip logged again supersede it again).
	Supersessions int `bson:"supersessions,omitempty"`
	// Withdrawn: a correction removed the milestone's attempt altogether
	// (the slip that started it was voided or moved); not superseded, no
	// longer shown, and back if the attempt comes back.
	Withdrawn bool `bson:"withdrawn,omitempty"`
}

// Milestone is a milestone as shown: stored or derived.
type Milestone struct {
	ID            string
	Day           int
	Kind          MilestoneKind
	Status        MilestoneStatus
	DueTime       *time.Time
	ReachTime     *time.Time
	AckTime       *time.Time
	AttemptNumber int
	// Supersession numbers the times this milestone was superseded (from
	// 1), set on milestone_superseded events: a slip, a void, the same
	// slip again supersede it twice, as two distinct events.
	Supersession int
}

// MilestoneID is the stable id of a milestone: the same day of the same
// attempt always has the same id, whichever replica reaches it.
func MilestoneID(planID string, attemptStart time.Time, day int) string {
	return fmt.Sprintf("ms-%s-%d-d%d", planID, attemptStart.UnixMilli(), day)
}

type milestoneDay struct {
	day  int
	kind MilestoneKind
}

// milestoneDays is the ladder and the custom days up to the target, and
// the target, each once, by day.
func (p *Plan) milestoneDays() []milestoneDay {
	kinds := map[int]MilestoneKind{}
	for _, d := range Ladder {
		if d < p.TargetDays {
			kinds[d] = KindLadder
		}
	}
	for _, d := range p.CustomMilestoneDays {
		// A custom day past the target joins when an extension reaches
		// it: a completed plan records nothing more.
		if _, ok := kinds[d]; !ok && d < p.TargetDays {
			kinds[d] = KindCustom
		}
	}
	kinds[p.TargetDays] = KindTarget
	out := make([]milestoneDay, 0, len(kinds))
	for d, k := range kinds {
		out = append(out, milestoneDay{d, k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].day < out[j].day })
	return out
}

func (p *Plan) currentAttempt(now time.Time) (Attempt, bool) {
	return current(p.Attempts(now))
}

func current(attempts []Attempt) (Attempt, bool) {
	if n := len(attempts); n > 0 && attempts[n-1].End == nil {
		return attempts[n-1], true
	}
	return Attempt{}, false
}

func (r MilestoneRecord) view(number int) Milestone {
	m := Milestone{ID: r.ID, Day: r.Day, Kind: r.Kind, Status: MilestoneReached, AttemptNumber: number, Supersession: r.Supersessions}
	due, reach := r.DueTime, r.ReachTime
	m.DueTime, m.ReachTime, m.AckTime = &due, &reach, r.AckTime
	switch {
	case r.Superseded:
		m.Status = MilestoneSuperseded
	case r.AckTime != nil:
		m.Status = MilestoneAcknowledged
	}
	return m
}

func daysOf(mds []milestoneDay) []int {
	out := make([]int, len(mds))
	for i, md := range mds {
		out[i] = md.day
	}
	return out
}

// Milestones lists the running attempt's milestones by day. A milestone
// whose day has begun shows as reached even before the scheduler records
// it, so what the client sees never lags the calendar.
func (p *Plan) Milestones(now time.Time) []Milestone { return p.milestonesOf(p.Attempts(now), now) }

func (p *Plan) milestonesOf(attempts []Attempt, now time.Time) []Milestone {
	a, ok := current(attempts)
	if !ok {
		return nil
	}
	mds := p.milestoneDays()
	reached := p.reachTimes(a, now, now, daysOf(mds))
	recs := p.MilestonesByID()
	out := make([]Milestone, 0, len(mds))
	for _, md := range mds {
		id := MilestoneID(p.ID, a.Start, md.day)
		if rec, ok := recs[id]; ok {
			out = append(out, rec.view(a.Number))
			continue
		}
		m := Milestone{ID: id, Day: md.day, Kind: md.kind, Status: MilestonePending, AttemptNumber: a.Number}
		if t, ok := reached[md.day]; ok {
			m.Status, m.DueTime, m.ReachTime = MilestoneReached, &t, &t
		} else if due, known := p.projectedDue(a, md.day, now); known {
			m.DueTime = &due
		}
		out = append(out, m)
	}
	return out
}

// MilestonesByID is the stored milestone records.
func (p *Plan) MilestonesByID() map[string]MilestoneRecord {
	if p.MilestoneRecords == nil {
		p.MilestoneRecords = map[string]MilestoneRecord{}
	}
	return p.MilestoneRecords
}

// NextMilestone is the first pending milestone of the running attempt.
func (p *Plan) NextMilestone(now time.Time) (Milestone, bool) {
	for _, m := range p.Milestones(now) {
		if m.Status == MilestonePending {
			return m, true
		}
	}
	return Milestone{}, false
}

// MilestoneHistory lists the milestones of the attempts that ended, derived
// from the log alone (so the order in which slips were logged changes
// nothing): for each, the days it lived, reached at the instant the day
// began, and, when a slip ended it, the milestone it was on its way to,
// superseded. Stored records add only the client's acknowledgements.
func (p *Plan) MilestoneHistory(now time.Time) []Milestone {
	return p.historyOf(p.Attempts(now), now)
}

func (p *Plan) historyOf(attempts []Attempt, now time.Time) []Milestone {
	mds := p.milestoneDays()
	recs := p.MilestonesByID()
	var out []Milestone
	for _, a := range attempts {
		if a.End == nil {
			continue
		}
		var lived []int
		for _, md := range mds {
			if md.day <= a.Days {
				lived = append(lived, md.day)
			}
		}
		reached := p.reachTimes(a, *a.End, now, lived)
		for _, md := range mds {
			id := MilestoneID(p.ID, a.Start, md.day)
			if md.day > a.Days {
				if a.EndReason == EndSlip {
					out = append(out, Milestone{ID: id, Day: md.day, Kind: md.kind, Status: MilestoneSuperseded, AttemptNumber: a.Number})
				}
				break
			}
			m := Milestone{ID: id, Day: md.day, Kind: md.kind, Status: MilestoneReached, AttemptNumber: a.Number}
			if t, ok := reached[md.day]; ok {
				m.DueTime, m.ReachTime = &t, &t
			}
			if rec, ok := recs[id]; ok && rec.AckTime != nil {
				m.Status, m.AckTime = MilestoneAcknowledged, rec.AckTime
			}
			out = append(out, m)
		}
	}
	return out
}

// Advance records what the calendar has brought: every milestone of the
// running attempt whose day has begun becomes reached (once: it is stored
// under its stable id), the plan completes when the target day comes, and
// reached milestones whose attempt a slip ended before their day are
// superseded. It sets NextDueTime for the scheduler.
func (p *Plan) Advance(now time.Time) { p.advance(p.Attempts(now), now) }

func (p *Plan) advance(attempts []Attempt, now time.Time) {
	now = now.UTC()
	p.NextDueTime = nil
	if !p.Counting() {
		return
	}
	p.supersedeStale(attempts, now)
	if p.Status != StatusActive {
		return
	}
	cur, ok := current(attempts)
	if !ok {
		return
	}
	mds := p.milestoneDays()
	reached := p.reachTimes(cur, now, now, daysOf(mds))
	recs := p.MilestonesByID()
	var next *time.Time
	for _, md := range mds {
		id := MilestoneID(p.ID, cur.Start, md.day)
		due, ok := reached[md.day]
		if !ok {
			if d, known := p.projectedDue(cur, md.day, now); known && (next == nil || d.Before(*next)) {
				next = &d
			}
			continue
		}
		if _, done := recs[id]; done {
			continue
		}
		rec := MilestoneRecord{ID: id, Day: md.day, Kind: md.kind, AttemptStart: cur.Start, DueTime: due, ReachTime: now}
		recs[id] = rec
		m := rec.view(cur.Number)
		p.record(Event{Kind: EventMilestoneReached, Time: now, Milestone: &m})
	}
	if cur.Days >= p.TargetDays {
		_ = p.transition(StatusCompleted, now, StatusActive)
		next = nil
		return
	}
	if hd := p.advanceHardDates(now); hd != nil && (next == nil || hd.Before(*next)) {
		next = hd
	}
	p.NextDueTime = next
}

// supersedeStale brings the stored records in line with the attempts: a
// record whose attempt a slip ended before its day is superseded (an event,
// numbered, each time it happens); one whose attempt no longer exists is
// withdrawn (no event: no slip superseded it); one whose attempt stands
// again is restored (no event: it was reached once).
func (p *Plan) supersedeStale(attempts []Attempt, now time.Time) {
	if len(p.MilestoneRecords) == 0 {
		return
	}
	byStart := make(map[int64]Attempt, len(attempts))
	for _, a := range attempts {
		byStart[a.Start.UnixMilli()] = a
	}
	ids := make([]string, 0, len(p.MilestoneRecords))
	for id := range p.MilestoneRecords {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rec := p.MilestoneRecords[id]
		a, ok := byStart[rec.AttemptStart.UnixMilli()]
		switch {
		case !ok:
			if !rec.Withdrawn || rec.Superseded {
				rec.Withdrawn, rec.Superseded = true, false
				p.MilestoneRecords[id] = rec
			}
		case a.End != nil && a.EndReason == EndSlip && rec.Day > a.Days:
			if !rec.Superseded || rec.Withdrawn {
				rec.Superseded, rec.Withdrawn = true, false
				rec.Supersessions++
				p.MilestoneRecords[id] = rec
				m := rec.view(a.Number)
				p.record(Event{Kind: EventMilestoneSuperseded, Time: now, Milestone: &m})
			}
		default:
			if rec.Superseded || rec.Withdrawn {
				rec.Superseded, rec.Withdrawn = false, false
				p.MilestoneRecords[id] = rec
			}
		}
	}
}

// AcknowledgeMilestone marks a reached milestone as seen by the client.
func (p *Plan) AcknowledgeMilestone(id string, now time.Time) (Milestone, error) {
	now = now.UTC()
	attempts := p.Attempts(now)
	p.advance(attempts, now)
	rec, ok := p.MilestonesByID()[id]
	if !ok || rec.Withdrawn {
		for _, m := range p.milestonesOf(attempts, now) {
			if m.ID == id {
				return Milestone{}, illegal("milestone day %d has not been reached yet", m.Day)
			}
		}
		return Milestone{}, fmt.Errorf("%w: milestone %q", ErrNotFound, id)
	}
	if rec.Superseded {
		return Milestone{}, illegal("that milestone no longer stands")
	}
	if rec.AckTime == nil {
		rec.AckTime = &now
		p.MilestoneRecords[id] = rec
		m := rec.view(0)
		p.record(Event{Kind: EventMilestoneAcknowledged, Time: now, Milestone: &m})
	}
	number := 0
	for _, a := range attempts {
		if a.Start.Equal(rec.AttemptStart) {
			number = a.Number
		}
	}
	return rec.view(number), nil
}
