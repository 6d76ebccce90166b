// Package plan is the no-contact plan domain: the plan and its lifecycle,
// the contact log and its classification, attempts (streaks) derived from
// the slips, and milestones on the client's local calendar. It does no I/O
// and never reads the clock: every method that needs "now" is given it.
//
// The Plan's fields are exported with bson tags because the plan document
// is exactly this state; they are changed only through the methods, which
// keep the invariants and record the domain events that the application
// layer turns into outbox messages (PopEvents).
package plan

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nocontact/backend/platform/clock"
)

// Status is where a plan is in its lifecycle.
type Status string

// Plan statuses.
const (
	StatusDraft     Status = "draft"
	StatusActive    Status = "active"
	StatusPaused    Status = "paused"
	StatusCompleted Status = "completed"
	StatusEnded     Status = "ended"
	StatusCancelled Status = "cancelled"
	StatusClosed    Status = "closed"
)

// Mode says whether agreed exceptions exist.
type Mode string

// Plan modes.
const (
	ModeStrict         Mode = "strict"
	ModeWithExceptions Mode = "with_exceptions"
)

// Limits of a plan's fields.
const (
	DefaultTargetDays = 30
	MaxTargetDays     = 365
	maxReasons        = 20
	maxReasonLen      = 500
	maxBoundaries     = 50
	maxExceptions     = 20
	maxSupport        = 20
	maxGoals          = 20
	maxCustom         = 20
	maxBackdate       = 365 * 24 * time.Hour
	maxAhead          = 365 * 24 * time.Hour
	clockSkew         = 2 * time.Minute
	// maxSlips bounds the slip summary a plan document keeps (a slip a
	// day for more than thirteen years); contacts that are not slips have
	// no bound (they live in their own collection).
	maxSlips   = 5000
	maxNoteLen = 2000
)

// Ladder is the standard milestone ladder, in days.
var Ladder = []int{1, 3, 7, 14, 21, 30, 45, 60, 90, 180, 365}

// Errors the application layer maps to gRPC codes.
var (
	// ErrInvalid: the input breaks a rule; see ValidationError.
	ErrInvalid = errors.New("invalid plan input")
	// ErrIllegalTransition: the plan's status does not allow the move.
	ErrIllegalTransition = errors.New("illegal plan transition")
	// ErrNotFound: a contact or milestone of the plan does not exist.
	ErrNotFound = errors.New("not found in plan")
)

// Violation names one invalid field (its proto name) and why.
type Violation struct {
	Field       string
	Description string
}

// ValidationError lists every violation found at once.
type ValidationError struct{ Violations []Violation }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid plan input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

type violations []Violation

func (vs *violations) add(field, format string, args ...any) {
	*vs = append(*vs, Violation{Field: field, Description: fmt.Sprintf(format, args...)})
}

func (vs violations) err() error {
	if len(vs) == 0 {
		return nil
	}
	return &ValidationError{Violations: vs}
}

func illegal(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIllegalTransition, fmt.Sprintf(format, args...))
}

// Boundary is one step of the boundaries checklist.
type Boundary struct {
	ID       string `bson:"id"`
	Kind     string `bson:"kind"`
	Label    string `bson:"label"`
	Platform string `bson:"platform,omitempty"`
	State    string `bson:"state"`
}

// Exception is an agreed reason for contact that is not a slip.
type Exception struct {
	ID      string  `bson:"id"`
	Kind    string  `bson:"kind"`
	Channel Channel `bson:"channel,omitempty"`
	Topic   string  `bson:"topic,omitempty"`
}

// SupportContact is someone to reach in a hard moment.
type SupportContact struct {
	ID           string `bson:"id"`
	Name         string `bson:"name"`
	Relationship string `bson:"relationship,omitempty"`
	Contact      string `bson:"contact,omitempty"`
}

// Goal is a personal goal.
type Goal struct {
	ID   string `bson:"id"`
	Text string `bson:"text"`
	Done bool   `bson:"done"`
}

// Pause is a stretch during which the count is frozen.
type Pause struct {
	Start time.Time  `bson:"start"`
	End   *time.Time `bson:"end,omitempty"`
}

// ZoneSpan is a time zone a plan was lived in, until a move.
type ZoneSpan struct {
	TimeZone string    `bson:"time_zone"`
	Until    time.Time `bson:"until"`
}

// Plan is a client's no-contact plan.
type Plan struct {
	ID         string `bson:"id"`
	ClientID   string `bson:"client_id"`
	Status     Status `bson:"status"`
	TargetDays int    `bson:"target_days"`
	TimeZone   string `bson:"time_zone"`
	// PastZones are the zones the plan was lived in before TimeZone,
	// oldest first, each until the move away from it: the days lived there
	// keep their local dates.
	PastZones       []ZoneSpan       `bson:"past_zones,omitempty"`
	StartTime       time.Time        `bson:"start_time"`
	Mode            Mode             `bson:"mode"`
	Reasons         []string         `bson:"reasons"`
	Boundaries      []Boundary       `bson:"boundaries"`
	Exceptions      []Exception      `bson:"exceptions"`
	SupportContacts []SupportContact `bson:"support_contacts"`
	Goals           []Goal           `bson:"goals"`
	HardDates       []HardDate       `bson:"hard_dates"`
	// HardDateNotes is, per hard date id, the local date (YYYY-MM-DD) of
	// the last occurrence whose note was recorded: each occurrence gets
	// one note, whatever the number of writes or replicas.
	HardDateNotes       map[string]string `bson:"hard_date_notes,omitempty"`
	SafetyFirst         bool              `bson:"safety_first"`
	CountsProfileChecks bool              `bson:"counts_profile_checks"`
	CustomMilestoneDays []int             `bson:"custom_milestone_days"`
	Pauses              []Pause           `bson:"pauses"`
	EndReason           string            `bson:"end_reason,omitempty"`
	PauseReason         string            `bson:"pause_reason,omitempty"`
	// Slips, ContactCount and ContactSeq are the summary of the contact
	// log the plan keeps (the log itself lives in its own collection):
	// every counted slip (not voided, classified a slip; whether a pause
	// covers it is decided when attempts are derived), in time order; the
	// number of contacts not voided; the last sequence number given to a
	// contact. They are all that attempts, streaks and milestones are
	// derived from, so deriving never reads the log.
	Slips        []SlipRef `bson:"slips"`
	ContactCount int       `bson:"contact_count"`
	ContactSeq   int64     `bson:"contact_seq"`
	// PendingContacts are the contacts changed by the last write of the
	// plan, stored with it (the plan document is the one place a change of
	// the log is committed) until the store has copied them into the
	// contacts collection; PendingToken marks that write (see
	// mongodb.PlanStore and docs/decisions.md).
	PendingContacts []Contact `bson:"pending_contacts,omitempty"`
	PendingToken    string    `bson:"pending_token,omitempty"`
	// LegacyContacts is the contact log as plan documents held it before
	// it moved to its own collection; MoveLegacyContacts empties it.
	LegacyContacts []Contact `bson:"contacts,omitempty"`
	// Contacts is the working set of the log for one command: the
	// contacts the application loaded (a correction's contact) and those
	// the command logged or changed. It is never stored with the plan.
	Contacts         []Contact                  `bson:"-"`
	MilestoneRecords map[string]MilestoneRecord `bson:"milestones"`
	CreateTime       time.Time                  `bson:"create_time"`
	UpdateTime       time.Time                  `bson:"update_time"`
	ActivateTime     *time.Time                 `bson:"activate_time,omitempty"`
	// EndTime is when the plan stopped counting (ended, cancelled,
	// closed). A completed plan keeps counting: the client is still not in
	// contact, and an extension carries on the same attempt.
	EndTime *time.Time `bson:"end_time,omitempty"`
	// NextDueTime is when Advance next has something to do (the
	// scheduler's index); nil when nothing is due.
	NextDueTime *time.Time `bson:"next_due_time"`

	events []Event
}

// NewPlanParams are the client's choices for a new plan.
type NewPlanParams struct {
	ID                  string
	ClientID            string
	TargetDays          int // 0: DefaultTargetDays
	TimeZone            string
	StartTime           time.Time // zero: now
	Mode                Mode      // "": strict
	Reasons             []string
	Boundaries          []Boundary
	Exceptions          []Exception
	SupportContacts     []SupportContact
	Goals               []Goal
	HardDates           []HardDate
	SafetyFirst         bool
	CountsProfileChecks bool
	CustomMilestoneDays []int
}

// NewPlan validates the parameters and returns a draft plan. newID makes
// ids for checklist items the client left without one.
func NewPlan(p NewPlanParams, newID func() string, now time.Time) (*Plan, error) {
	now = now.UTC()
	var vs violations
	if p.ClientID == "" {
		vs.add("client_id", "is required")
	}
	if p.TargetDays == 0 {
		p.TargetDays = DefaultTargetDays
	}
	if p.StartTime.IsZero() {
		p.StartTime = now
	}
	if p.Mode == "" {
		p.Mode = ModeStrict
	}
	pl := &Plan{
		ID:               p.ID,
		ClientID:         p.ClientID,
		Status:           StatusDraft,
		MilestoneRecords: map[string]MilestoneRecord{},
		CreateTime:       now,
		UpdateTime:       now,
	}
	pl.setTargetDays(p.TargetDays, &vs)
	pl.setTimeZone(p.TimeZone, &vs)
	pl.setStartTime(p.StartTime, now, &vs)
	pl.setMode(p.Mode, &vs)
	pl.setReasons(p.Reasons, &vs)
	pl.setBoundaries(p.Boundaries, newID, &vs)
	pl.setExceptions(p.Exceptions, newID, &vs)
	pl.setSupportContacts(p.SupportContacts, newID, &vs)
	pl.setGoals(p.Goals, newID, &vs)
	pl.setHardDates(p.HardDates, newID, &vs)
	pl.setCustomMilestones(p.CustomMilestoneDays, &vs)
	pl.SafetyFirst = p.SafetyFirst
	pl.CountsProfileChecks = p.CountsProfileChecks
	if err := vs.err(); err != nil {
		return nil, err
	}
	pl.record(Event{Kind: EventPlanCreated, Time: now})
	return pl, nil
}

func locOrUTC(name string) *time.Location {
	loc, err := clock.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Location is the plan's (current) time zone.
func (p *Plan) Location() *time.Location { return locOrUTC(p.TimeZone) }

// zoneNameAt is the zone the plan was in at t.
func (p *Plan) zoneNameAt(t time.Time) string {
	for _, z := range p.PastZones {
		if t.Before(z.Until) {
			return z.TimeZone
		}
	}
	return p.TimeZone
}

func (p *Plan) zoneAt(t time.Time) *time.Location { return locOrUTC(p.zoneNameAt(t)) }

// LocalDate is the plan's calendar date at t, in the zone the plan was in
// at t: a day lived in Berlin stays the Berlin date after a move.
func (p *Plan) LocalDate(t time.Time) Date { return DateOf(t, p.zoneAt(t)) }

func (p *Plan) setTargetDays(n int, vs *violations) {
	if n < 1 || n > MaxTargetDays {
		vs.add("target_days", "must be between 1 and %d", MaxTargetDays)
		return
	}
	p.TargetDays = n
}

func (p *Plan) setTimeZone(tz string, vs *violations) {
	if tz == "" {
		vs.add("time_zone", "is required: an IANA time zone such as Europe/Berlin")
		return
	}
	if tz == "Local" {
		vs.add("time_zone", "must be an IANA time zone such as Europe/Berlin")
		return
	}
	if _, err := clock.LoadLocation(tz); err != nil {
		vs.add("time_zone", "is not a known IANA time zone")
		return
	}
	p.TimeZone = tz
}

func (p *Plan) setStartTime(t, now time.Time, vs *violations) {
	switch {
	case t.Before(now.Add(-maxBackdate)):
		vs.add("start_time", "may be at most 365 days in the past")
	case t.After(now.Add(maxAhead)):
		vs.add("start_time", "may be at most 365 days in the future")
	default:
		p.StartTime = t.UTC().Truncate(time.Millisecond)
	}
}

func (p *Plan) setMode(m Mode, vs *violations) {
	if m != ModeStrict && m != ModeWithExceptions {
		vs.add("mode", "must be strict or with exceptions")
		return
	}
	p.Mode = m
}

func (p *Plan) setReasons(rs []string, vs *violations) {
	if len(rs) > maxReasons {
		vs.add("reasons", "at most %d", maxReasons)
		return
	}
	out := make([]string, 0, len(rs))
	for i, r := range rs {
		r = strings.TrimSpace(r)
		if r == "" || utf8.RuneCountInString(r) > maxReasonLen {
			vs.add(fmt.Sprintf("reasons[%d]", i), "must be 1 to %d characters", maxReasonLen)
			continue
		}
		out = append(out, r)
	}
	p.Reasons = out
}

var (
	boundaryKinds  = []string{"block_number", "mute_unfollow", "archive_photos", "avoid_places", "tell_rule", "other"}
	boundaryStates = []string{"todo", "done", "skipped"}
	exceptionKinds = []string{"co_parenting", "logistics", "legal", "work", "other"}
)

func ensureID(id string, newID func() string) string {
	if id == "" {
		return newID()
	}
	return id
}

// idSet holds the ids a list's items gave so far: two items of one list
// with the same id are refused (an update addresses an item by its id), an
// item without one gets a new id.
type idSet map[string]bool

// check refuses id at field (e.g. "boundaries[2]") when an earlier item
// of the list gave it.
func (s idSet) check(field, id string, vs *violations) {
	if id == "" {
		return
	}
	if s[id] {
		vs.add(field+".id", "repeats the id of an earlier item")
	}
	s[id] = true
}

func (p *Plan) setBoundaries(bs []Boundary, newID func() string, vs *violations) {
	if len(bs) > maxBoundaries {
		vs.add("boundaries", "at most %d", maxBoundaries)
		return
	}
	out := make([]Boundary, 0, len(bs))
	seen := idSet{}
	for i, b := range bs {
		f := fmt.Sprintf("boundaries[%d]", i)
		if b.Kind == "" {
			b.Kind = "other"
		}
		if b.State == "" {
			b.State = "todo"
		}
		if !slices.Contains(boundaryKinds, b.Kind) {
			vs.add(f+".kind", "is not a known boundary kind")
		}
		if !slices.Contains(boundaryStates, b.State) {
			vs.add(f+".state", "must be todo, done or skipped")
		}
		if strings.TrimSpace(b.Label) == "" && b.Kind == "other" {
			vs.add(f+".label", "is required for a boundary of kind other")
		}
		seen.check(f, b.ID, vs)
		b.ID = ensureID(b.ID, newID)
		out = append(out, b)
	}
	p.Boundaries = out
}

func (p *Plan) setExceptions(es []Exception, newID func() string, vs *violations) {
	if len(es) > maxExceptions {
		vs.add("exceptions", "at most %d", maxExceptions)
		return
	}
	out := make([]Exception, 0, len(es))
	seen := idSet{}
	for i, e := range es {
		f := fmt.Sprintf("exceptions[%d]", i)
		if !slices.Contains(exceptionKinds, e.Kind) {
			vs.add(f+".kind", "is required: co-parenting, logistics, legal, work or other")
		}
		if e.Channel != "" && !e.Channel.valid() {
			vs.add(f+".channel", "is not a known channel")
		}
		seen.check(f, e.ID, vs)
		e.ID = ensureID(e.ID, newID)
		out = append(out, e)
	}
	p.Exceptions = out
}

func (p *Plan) setSupportContacts(cs []SupportContact, newID func() string, vs *violations) {
	if len(cs) > maxSupport {
		vs.add("support_contacts", "at most %d", maxSupport)
		return
	}
	out := make([]SupportContact, 0, len(cs))
	seen := idSet{}
	for i, c := range cs {
		if strings.TrimSpace(c.Name) == "" {
			vs.add(fmt.Sprintf("support_contacts[%d].name", i), "is required")
		}
		seen.check(fmt.Sprintf("support_contacts[%d]", i), c.ID, vs)
		c.ID = ensureID(c.ID, newID)
		out = append(out, c)
	}
	p.SupportContacts = out
}

func (p *Plan) setGoals(gs []Goal, newID func() string, vs *violations) {
	if len(gs) > maxGoals {
		vs.add("goals", "at most %d", maxGoals)
		return
	}
	out := make([]Goal, 0, len(gs))
	seen := idSet{}
	for i, g := range gs {
		if strings.TrimSpace(g.Text) == "" {
			vs.add(fmt.Sprintf("goals[%d].text", i), "is required")
		}
		seen.check(fmt.Sprintf("goals[%d]", i), g.ID, vs)
		g.ID = ensureID(g.ID, newID)
		out = append(out, g)
	}
	p.Goals = out
}

func (p *Plan) setCustomMilestones(days []int, vs *violations) {
	if len(days) > maxCustom {
		vs.add("custom_milestone_days", "at most %d", maxCustom)
		return
	}
	seen := map[int]bool{}
	out := make([]int, 0, len(days))
	for i, d := range days {
		if d < 1 || d > MaxTargetDays {
			vs.add(fmt.Sprintf("custom_milestone_days[%d]", i), "must be between 1 and %d", MaxTargetDays)
			continue
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Ints(out)
	p.CustomMilestoneDays = out
}

// Patch holds new values for the fields named in Fields (proto names).
type Patch struct {
	Fields []string
	NewPlanParams
}

// PatchableFields are the fields Apply accepts.
var PatchableFields = []string{"target_days", "time_zone", "start_time", "mode", "reasons", "boundaries",
	"exceptions", "support_contacts", "goals", "safety_first", "counts_profile_checks", "custom_milestone_days",
	"hard_dates"}

// Apply changes the named fields. The start may move only in a draft; the
// target may not drop below the days already counted; a finished plan
// cannot change.
func (p *Plan) Apply(patch Patch, newID func() string, now time.Time) error {
	now = now.UTC()
	switch p.Status {
	case StatusEnded, StatusCancelled, StatusClosed:
		return illegal("a %s plan cannot be changed", p.Status)
	}
	var vs violations
	if len(patch.Fields) == 0 {
		vs.add("update_mask", "names no field")
	}
	for _, f := range patch.Fields {
		switch f {
		case "target_days":
			p.setTargetDays(patch.TargetDays, &vs)
			if cur := p.CurrentStreakDays(now); p.Status != StatusDraft && patch.TargetDays <= cur && patch.TargetDays >= 1 {
				vs.add("target_days", "must be above the %d days already counted", cur)
			}
		case "time_zone":
			old := p.TimeZone
			p.setTimeZone(patch.TimeZone, &vs)
			if p.Counting() && p.TimeZone != old {
				// The days lived so far keep their dates; the new zone
				// applies from now on.
				p.PastZones = append(p.PastZones, ZoneSpan{TimeZone: old, Until: now})
			}
		case "start_time":
			if p.Status != StatusDraft {
				return illegal("the start can only move before the plan is activated")
			}
			if patch.StartTime.IsZero() {
				vs.add("start_time", "is required")
			} else {
				p.setStartTime(patch.StartTime, now, &vs)
			}
		case "mode":
			if patch.Mode == "" {
				patch.Mode = ModeStrict
			}
			p.setMode(patch.Mode, &vs)
		case "reasons":
			p.setReasons(patch.Reasons, &vs)
		case "boundaries":
			p.setBoundaries(patch.Boundaries, newID, &vs)
		case "exceptions":
			p.setExceptions(patch.Exceptions, newID, &vs)
		case "support_contacts":
			p.setSupportContacts(patch.SupportContacts, newID, &vs)
		case "goals":
			p.setGoals(patch.Goals, newID, &vs)
		case "hard_dates":
			p.setHardDates(patch.HardDates, newID, &vs)
		case "safety_first":
			p.SafetyFirst = patch.SafetyFirst
		case "counts_profile_checks":
			p.CountsProfileChecks = patch.CountsProfileChecks
		case "custom_milestone_days":
			p.setCustomMilestones(patch.CustomMilestoneDays, &vs)
		default:
			vs.add("update_mask", "field %q cannot be changed", f)
		}
	}
	if err := vs.err(); err != nil {
		return err
	}
	p.UpdateTime = now
	p.record(Event{Kind: EventPlanUpdated, Time: now, Fields: slices.Clone(patch.Fields)})
	p.Advance(now)
	return nil
}

func (p *Plan) transition(to Status, now time.Time, allowed ...Status) error {
	if !slices.Contains(allowed, p.Status) {
		return illegal("a %s plan cannot become %s", p.Status, to)
	}
	from := p.Status
	p.Status = to
	p.UpdateTime = now
	p.record(Event{Kind: EventStatusChanged, Time: now, From: from, To: to})
	return nil
}

// Activate starts a draft plan. A back-dated plan reaches the milestones
// already due at once.
func (p *Plan) Activate(now time.Time) error {
	now = now.UTC()
	if err := p.transition(StatusActive, now, StatusDraft); err != nil {
		return err
	}
	p.ActivateTime = &now
	p.Advance(now)
	return nil
}

// Pause freezes the count.
func (p *Plan) Pause(reason string, now time.Time) error {
	now = now.UTC()
	if err := p.transition(StatusPaused, now, StatusActive); err != nil {
		return err
	}
	p.PauseReason = reason
	p.Pauses = append(p.Pauses, Pause{Start: now})
	p.NextDueTime = nil
	return nil
}

// Resume ends the pause; due times move on by the paused days.
func (p *Plan) Resume(now time.Time) error {
	now = now.UTC()
	if err := p.transition(StatusActive, now, StatusPaused); err != nil {
		return err
	}
	if n := len(p.Pauses); n > 0 && p.Pauses[n-1].End == nil {
		p.Pauses[n-1].End = &now
	}
	p.PauseReason = ""
	p.Advance(now)
	return nil
}

// End ends the plan early, with the client's reason.
func (p *Plan) End(reason string, now time.Time) error {
	now = now.UTC()
	if strings.TrimSpace(reason) == "" {
		return (&violations{{Field: "reason", Description: "is required"}}).err()
	}
	wasPaused := p.Status == StatusPaused
	if err := p.transition(StatusEnded, now, StatusActive, StatusPaused); err != nil {
		return err
	}
	if n := len(p.Pauses); wasPaused && n > 0 && p.Pauses[n-1].End == nil {
		p.Pauses[n-1].End = &now
	}
	p.EndReason = reason
	p.stop(now)
	return nil
}

// Extend sets a larger target on a completed plan and makes it active.
func (p *Plan) Extend(target int, now time.Time) error {
	now = now.UTC()
	if p.Status != StatusCompleted {
		return illegal("only a completed plan can be extended (it is %s)", p.Status)
	}
	var vs violations
	if target <= p.TargetDays || target > MaxTargetDays {
		vs.add("target_days", "must be above the current target of %d and at most %d", p.TargetDays, MaxTargetDays)
	}
	if err := vs.err(); err != nil {
		return err
	}
	if err := p.transition(StatusActive, now, StatusCompleted); err != nil {
		return err
	}
	p.TargetDays = target
	p.Advance(now)
	return nil
}

// Close closes a completed plan.
func (p *Plan) Close(now time.Time) error {
	now = now.UTC()
	if err := p.transition(StatusClosed, now, StatusCompleted); err != nil {
		return err
	}
	p.stop(now)
	return nil
}

// Cancel drops a draft.
func (p *Plan) Cancel(now time.Time) error {
	now = now.UTC()
	if err := p.transition(StatusCancelled, now, StatusDraft); err != nil {
		return err
	}
	p.EndTime = &now
	return nil
}

func (p *Plan) stop(now time.Time) {
	attempts := p.Attempts(now)
	p.EndTime = &now
	if len(attempts) > 0 {
		last := attempts[len(attempts)-1]
		last.End = &now
		last.EndReason = EndPlanEnded
		last.Days = p.countDays(last.Start, now, now)
		p.record(Event{Kind: EventAttemptEnded, Time: now, Attempt: &last})
	}
	p.NextDueTime = nil
}

// Counting reports whether days are being counted (attempts exist).
func (p *Plan) Counting() bool {
	return p.ActivateTime != nil
}

// record keeps a domain event for the application layer.
func (p *Plan) record(e Event) {
	e.Time = e.Time.UTC()
	p.events = append(p.events, e)
}

// PopEvents returns the events recorded since the last call and forgets
// them.
func (p *Plan) PopEvents() []Event {
	out := p.events
	p.events = nil
	return out
}
