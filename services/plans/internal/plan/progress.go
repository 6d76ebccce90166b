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
func (p *Plan) Attempts(now time.Time) []Attempt {
	if !p.Counting() {
		return nil
	}
	limit := now
	if p.EndTime != nil && p.EndTime.Before(now) {
		limit = *p.EndTime
	}
	var slips []Contact
	for _, c := range p.Contacts {
		if p.EndsAttempt(c) && !c.OccurredAt.After(limit) {
			slips = append(slips, c)
		}
	}
	sort.SliceStable(slips, func(i, j int) bool { return slips[i].OccurredAt.Before(slips[j].OccurredAt) })

	var out []Attempt
	cur := p.StartTime
	for _, s := range slips {
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
		out = append(out, Attempt{Start: cur, End: &end, EndReason: EndSlip, SlipContactID: s.ID, Days: p.countDays(cur, end, now)})
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

// countDays counts local calendar days from start to end, leaving out the
// days spent paused. A 23- or 25-hour day across a DST change is one day.
func (p *Plan) countDays(start, end, now time.Time) int {
	if !end.After(start) {
		return 0
	}
	loc := p.Location()
	days := DateOf(start, loc).DaysUntil(DateOf(end, loc)) - p.pausedDays(start, end, now)
	return max(days, 0)
}

// pausedDays counts the local days of pauses that fall between start and
// end (an open pause runs to now).
func (p *Plan) pausedDays(start, end, now time.Time) int {
	loc := p.Location()
	total := 0
	for _, pa := range p.Pauses {
		pe := now
		if pa.End != nil {
			pe = *pa.End
		}
		s, e := maxTime(pa.Start, start), minTime(pe, end)
		if e.After(s) {
			total += DateOf(s, loc).DaysUntil(DateOf(e, loc))
		}
	}
	return total
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
func (p *Plan) Streaks(now time.Time) Streaks {
	var s Streaks
	attempts := p.Attempts(now)
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
	Superseded   bool          `bson:"superseded"`
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

// dueTime is when day `day` of the running attempt begins: local midnight,
// moved on by the days already paused. Unknown while paused.
func (p *Plan) dueTime(a Attempt, day int, now time.Time) (time.Time, bool) {
	if p.Status == StatusPaused {
		return time.Time{}, false
	}
	loc := p.Location()
	paused := p.pausedDays(a.Start, now, now)
	return DateOf(a.Start, loc).AddDays(day + paused).Start(loc), true
}

func (p *Plan) currentAttempt(now time.Time) (Attempt, bool) {
	attempts := p.Attempts(now)
	if n := len(attempts); n > 0 && attempts[n-1].End == nil {
		return attempts[n-1], true
	}
	return Attempt{}, false
}

func (r MilestoneRecord) view(number int) Milestone {
	m := Milestone{ID: r.ID, Day: r.Day, Kind: r.Kind, Status: MilestoneReached, AttemptNumber: number}
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

// Milestones lists the running attempt's milestones by day. A milestone
// whose day has begun shows as reached even before the scheduler records
// it, so what the client sees never lags the calendar.
func (p *Plan) Milestones(now time.Time) []Milestone {
	a, ok := p.currentAttempt(now)
	if !ok {
		return nil
	}
	var out []Milestone
	for _, md := range p.milestoneDays() {
		id := MilestoneID(p.ID, a.Start, md.day)
		if rec, ok := p.MilestonesByID()[id]; ok {
			out = append(out, rec.view(a.Number))
			continue
		}
		m := Milestone{ID: id, Day: md.day, Kind: md.kind, Status: MilestonePending, AttemptNumber: a.Number}
		if due, known := p.dueTime(a, md.day, now); known {
			m.DueTime = &due
			if !due.After(now) {
				m.Status = MilestoneReached
				m.ReachTime = &due
			}
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

// MilestoneHistory lists the milestones of earlier attempts: those reached,
// and for each attempt the one it was on its way to (superseded by the
// slip). Records that a correction left without an attempt are superseded.
func (p *Plan) MilestoneHistory(now time.Time) []Milestone {
	attempts := p.Attempts(now)
	byStart := map[int64]Attempt{}
	for _, a := range attempts {
		byStart[a.Start.UnixMilli()] = a
	}
	cur, hasCur := p.currentAttempt(now)
	var out []Milestone
	for _, rec := range p.MilestonesByID() {
		a, ok := byStart[rec.AttemptStart.UnixMilli()]
		if hasCur && ok && a.Start.Equal(cur.Start) {
			continue
		}
		out = append(out, rec.view(a.Number))
	}
	for _, a := range attempts {
		if a.End == nil {
			continue
		}
		for _, md := range p.milestoneDays() {
			if md.day <= a.Days {
				continue
			}
			id := MilestoneID(p.ID, a.Start, md.day)
			if _, stored := p.MilestonesByID()[id]; !stored {
				out = append(out, Milestone{ID: id, Day: md.day, Kind: md.kind, Status: MilestoneSuperseded, AttemptNumber: a.Number})
			}
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].AttemptNumber != out[j].AttemptNumber {
			return out[i].AttemptNumber < out[j].AttemptNumber
		}
		return out[i].Day < out[j].Day
	})
	return out
}

// Advance records what the calendar has brought: every milestone of the
// running attempt whose day has begun becomes reached (once: it is stored
// under its stable id), the plan completes when the target day comes, and
// reached milestones that a later correction left without their attempt
// are superseded. It sets NextDueTime for the scheduler.
func (p *Plan) Advance(now time.Time) {
	now = now.UTC()
	p.NextDueTime = nil
	if !p.Counting() {
		return
	}
	attempts := p.Attempts(now)
	p.supersedeStale(attempts, now)
	if p.Status != StatusActive {
		return
	}
	cur := attempts[len(attempts)-1]
	if cur.End != nil {
		return
	}
	var next *time.Time
	for _, md := range p.milestoneDays() {
		id := MilestoneID(p.ID, cur.Start, md.day)
		due, _ := p.dueTime(cur, md.day, now)
		if due.After(now) {
			if next == nil || due.Before(*next) {
				d := due
				next = &d
			}
			continue
		}
		if _, done := p.MilestonesByID()[id]; done {
			continue
		}
		rec := MilestoneRecord{ID: id, Day: md.day, Kind: md.kind, AttemptStart: cur.Start, DueTime: due, ReachTime: now}
		p.MilestoneRecords[id] = rec
		m := rec.view(cur.Number)
		p.record(Event{Kind: EventMilestoneReached, Time: now, Milestone: &m})
	}
	if cur.Days >= p.TargetDays {
		_ = p.transition(StatusCompleted, now, StatusActive)
		next = nil
	}
	p.NextDueTime = next
}

func (p *Plan) supersedeStale(attempts []Attempt, now time.Time) {
	ids := make([]string, 0, len(p.MilestoneRecords))
	for id := range p.MilestoneRecords {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rec := p.MilestoneRecords[id]
		valid := false
		for _, a := range attempts {
			if a.Start.Equal(rec.AttemptStart) && (a.End == nil || !rec.DueTime.After(*a.End)) {
				valid = true
				break
			}
		}
		if rec.Superseded {
			if valid {
				// A correction (a voided or edited slip) gave the milestone
				// its attempt back: it stands again. Superseded is derived,
				// not a verdict; it was reached once, so no event.
				rec.Superseded = false
				p.MilestoneRecords[id] = rec
			}
			continue
		}
		if !valid {
			rec.Superseded = true
			p.MilestoneRecords[id] = rec
			m := rec.view(0)
			p.record(Event{Kind: EventMilestoneSuperseded, Time: now, Milestone: &m})
		}
	}
}

// AcknowledgeMilestone marks a reached milestone as seen by the client.
func (p *Plan) AcknowledgeMilestone(id string, now time.Time) (Milestone, error) {
	now = now.UTC()
	p.Advance(now)
	rec, ok := p.MilestonesByID()[id]
	if !ok {
		for _, m := range p.Milestones(now) {
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
	for _, a := range p.Attempts(now) {
		if a.Start.Equal(rec.AttemptStart) {
			number = a.Number
		}
	}
	return rec.view(number), nil
}
