// Package journal is the journal domain: check-ins, journal entries, urges
// and risk flags, with the rules each must keep. It does no I/O and never
// reads the clock.
//
// Like the plan aggregate, records are plain structs with bson tags (the
// stored document is the state); constructors validate and methods change.
package journal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	// The zone database is compiled in for containers without one.
	_ "time/tzdata"

	"github.com/nocontact/backend/platform/clock"
)

// Errors the application layer maps to gRPC codes.
var (
	ErrInvalid           = errors.New("invalid journal input")
	ErrIllegalTransition = errors.New("illegal journal transition")
)

// Violation names one invalid field and why.
type Violation struct{ Field, Description string }

// ValidationError lists every violation at once.
type ValidationError struct{ Violations []Violation }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid journal input: " + strings.Join(parts, "; ")
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

// Limits.
const (
	MaxBackfill  = 7 * 24 * time.Hour
	clockSkew    = 2 * time.Minute
	MaxBodyRunes = 20000
	maxNoteRunes = 2000
)

// location resolves an IANA zone ("" = UTC).
func location(tz string, field string, vs *violations) (*time.Location, string) {
	if tz == "" {
		return time.UTC, "UTC"
	}
	if tz == "Local" {
		vs.add(field, "must be an IANA time zone such as Europe/Berlin")
		return time.UTC, "UTC"
	}
	loc, err := clock.LoadLocation(tz)
	if err != nil {
		vs.add(field, "is not a known IANA time zone")
		return time.UTC, "UTC"
	}
	return loc, tz
}

// LocalDate is t's calendar date in loc (YYYY-MM-DD).
func LocalDate(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// EmotionRating is one named emotion and its intensity (1..5).
type EmotionRating struct {
	Emotion   string `bson:"emotion"`
	Intensity int    `bson:"intensity"`
}

// CheckIn is a daily or momentary check-in.
type CheckIn struct {
	ID         string          `bson:"id"`
	ClientID   string          `bson:"client_id"`
	Kind       string          `bson:"kind"` // daily, momentary
	OccurredAt time.Time       `bson:"occurred_at"`
	TimeZone   string          `bson:"time_zone"`
	LocalDate  string          `bson:"local_date"`
	Mood       int             `bson:"mood"`
	Emotions   []EmotionRating `bson:"emotions"`
	Difficulty int             `bson:"difficulty"`
	SleepHours *float64        `bson:"sleep_hours,omitempty"`
	SelfCare   []string        `bson:"self_care"`
	Triggers   []string        `bson:"triggers"`
	Note       string          `bson:"note,omitempty"`
	CreateTime time.Time       `bson:"create_time"`
}

// NewCheckIn validates a check-in: mood -3..+3, back-filled at most 7 days,
// never in the future; it keeps its local date.
func NewCheckIn(c CheckIn, now time.Time) (CheckIn, error) {
	var vs violations
	if c.Kind == "" {
		c.Kind = "daily"
	}
	if c.Kind != "daily" && c.Kind != "momentary" {
		vs.add("check_in.kind", "must be DAILY or MOMENTARY")
	}
	if c.Mood < -3 || c.Mood > 3 {
		vs.add("check_in.mood", "must be between -3 and 3")
	}
	if c.Difficulty < 0 || c.Difficulty > 5 {
		vs.add("check_in.difficulty", "must be between 1 and 5 (0 = not said)")
	}
	if c.SleepHours != nil && (*c.SleepHours < 0 || *c.SleepHours > 24) {
		vs.add("check_in.sleep_hours", "must be between 0 and 24")
	}
	if utf8.RuneCountInString(c.Note) > maxNoteRunes {
		vs.add("check_in.note", "must be at most %d characters", maxNoteRunes)
	}
	c.OccurredAt = occurred(c.OccurredAt, now, "check_in.occurred_at", &vs)
	loc, tz := location(c.TimeZone, "check_in.time_zone", &vs)
	if err := vs.err(); err != nil {
		return CheckIn{}, err
	}
	c.TimeZone, c.LocalDate = tz, LocalDate(c.OccurredAt, loc)
	c.Note = strings.TrimSpace(c.Note)
	c.CreateTime = now
	return c, nil
}

func occurred(t, now time.Time, field string, vs *violations) time.Time {
	switch {
	case t.IsZero():
		return now
	case t.After(now.Add(clockSkew)):
		vs.add(field, "cannot be in the future")
	case t.Before(now.Add(-MaxBackfill)):
		vs.add(field, "can be back-filled at most 7 days")
	}
	return t.UTC().Truncate(time.Millisecond)
}

// Entry kinds.
const (
	EntryFree           = "free"
	EntryPrompt         = "prompt"
	EntryUnsentLetter   = "unsent_letter"
	EntryGratitude      = "gratitude"
	EntrySlipReflection = "slip_reflection"
)

// Entry is a journal entry. Private unless the client shares this one.
type Entry struct {
	ID         string     `bson:"id"`
	ClientID   string     `bson:"client_id"`
	Kind       string     `bson:"kind"`
	PromptID   string     `bson:"prompt_id,omitempty"`
	Title      string     `bson:"title,omitempty"`
	Body       string     `bson:"body"`
	MoodBefore *int       `bson:"mood_before,omitempty"`
	MoodAfter  *int       `bson:"mood_after,omitempty"`
	Shared     bool       `bson:"shared"`
	ShareTime  *time.Time `bson:"share_time,omitempty"`
	TimeZone   string     `bson:"time_zone"`
	LocalDate  string     `bson:"local_date"`
	CreateTime time.Time  `bson:"create_time"`
}

// NewEntry validates an entry; promptKnown tells whether a prompt id exists.
func NewEntry(e Entry, promptKnown func(string) bool, now time.Time) (Entry, error) {
	var vs violations
	if e.Kind == "" {
		e.Kind = EntryFree
	}
	if !slices.Contains([]string{EntryFree, EntryPrompt, EntryUnsentLetter, EntryGratitude, EntrySlipReflection}, e.Kind) {
		vs.add("entry.kind", "is not a known entry kind")
	}
	body := strings.TrimSpace(e.Body)
	switch n := utf8.RuneCountInString(body); {
	case n == 0:
		vs.add("entry.body", "is required")
	case n > MaxBodyRunes:
		vs.add("entry.body", "must be at most %d characters", MaxBodyRunes)
	}
	if e.Kind == EntryPrompt && (e.PromptID == "" || !promptKnown(e.PromptID)) {
		vs.add("entry.prompt_id", "must name a prompt for a PROMPT entry")
	}
	if e.Kind != EntryPrompt && e.PromptID != "" {
		vs.add("entry.prompt_id", "is only for PROMPT entries")
	}
	for field, m := range map[string]*int{"entry.mood_before": e.MoodBefore, "entry.mood_after": e.MoodAfter} {
		if m != nil && (*m < -3 || *m > 3) {
			vs.add(field, "must be between -3 and 3")
		}
	}
	loc, tz := location(e.TimeZone, "entry.time_zone", &vs)
	if err := vs.err(); err != nil {
		return Entry{}, err
	}
	e.Body, e.TimeZone, e.LocalDate, e.CreateTime = body, tz, LocalDate(now, loc), now
	// Every entry starts private, whatever the request said: sharing is a
	// separate, deliberate act on one entry.
	e.Shared, e.ShareTime = false, nil
	return e, nil
}

// Share shares the entry with the care team; it reports a change.
func (e *Entry) Share(now time.Time) bool {
	if e.Shared {
		return false
	}
	e.Shared, e.ShareTime = true, &now
	return true
}

// Unshare makes the entry private again; it reports a change.
func (e *Entry) Unshare() bool {
	if !e.Shared {
		return false
	}
	e.Shared, e.ShareTime = false, nil
	return true
}

// Urge outcomes.
const (
	OutcomeResisted  = "resisted"
	OutcomeContacted = "contacted"
)

// Urge is an urge to make contact.
type Urge struct {
	ID          string     `bson:"id"`
	ClientID    string     `bson:"client_id"`
	Intensity   int        `bson:"intensity"`
	Trigger     string     `bson:"trigger,omitempty"`
	Note        string     `bson:"note,omitempty"`
	TimeZone    string     `bson:"time_zone"`
	LocalDate   string     `bson:"local_date"`
	CreateTime  time.Time  `bson:"create_time"`
	Outcome     string     `bson:"outcome,omitempty"`
	ResolveTime *time.Time `bson:"resolve_time,omitempty"`
}

// NewUrge validates an urge (intensity 0..10).
func NewUrge(u Urge, now time.Time) (Urge, error) {
	var vs violations
	if u.Intensity < 0 || u.Intensity > 10 {
		vs.add("urge.intensity", "must be between 0 and 10")
	}
	if utf8.RuneCountInString(u.Note) > maxNoteRunes {
		vs.add("urge.note", "must be at most %d characters", maxNoteRunes)
	}
	loc, tz := location(u.TimeZone, "urge.time_zone", &vs)
	if err := vs.err(); err != nil {
		return Urge{}, err
	}
	u.TimeZone, u.LocalDate, u.CreateTime = tz, LocalDate(now, loc), now
	u.Note = strings.TrimSpace(u.Note)
	u.Outcome, u.ResolveTime = "", nil
	return u, nil
}

// Resolve records how the urge ended, once.
func (u *Urge) Resolve(outcome string, now time.Time) error {
	if outcome != OutcomeResisted && outcome != OutcomeContacted {
		return (&violations{{Field: "outcome", Description: "must be RESISTED or CONTACTED"}}).err()
	}
	if u.Outcome != "" {
		if u.Outcome == outcome {
			return nil
		}
		return fmt.Errorf("%w: the urge was already resolved as %s", ErrIllegalTransition, u.Outcome)
	}
	u.Outcome, u.ResolveTime = outcome, &now
	return nil
}

// Risk flag states.
const (
	FlagRaised       = "raised"
	FlagEscalated    = "escalated"
	FlagAcknowledged = "acknowledged"
	FlagResolved     = "resolved"
	FlagDismissed    = "dismissed"
)

// RiskFlag is a risk signal for the care team.
type RiskFlag struct {
	ID       string `bson:"id"`
	ClientID string `bson:"client_id"`
	Reason   string `bson:"reason"`
	// Category is what the words said ("ideation"; the screening
	// package's values), for crisis-language flags only. Never the words.
	Category string `bson:"category,omitempty"`
	// Severity is "moderate", "high" or "imminent" (empty on flags raised
	// before severities existed: read as moderate).
	Severity       string     `bson:"severity,omitempty"`
	Status         string     `bson:"status"`
	SourceKind     string     `bson:"source_kind"`
	SourceID       string     `bson:"source_id"`
	RaiseTime      time.Time  `bson:"raise_time"`
	EscalateTime   *time.Time `bson:"escalate_time,omitempty"`
	AckTime        *time.Time `bson:"ack_time,omitempty"`
	AcknowledgedBy string     `bson:"acknowledged_by,omitempty"`
	CloseTime      *time.Time `bson:"close_time,omitempty"`
	// EscalateAt is when an unacknowledged flag escalates (nil once it
	// cannot); the escalation scan's index.
	EscalateAt *time.Time `bson:"escalate_at"`
}

// Open reports whether the flag still needs the care team.
func (f RiskFlag) Open() bool {
	return f.Status == FlagRaised || f.Status == FlagEscalated || f.Status == FlagAcknowledged
}

// Acknowledge is the care team saying they saw the flag.
func (f *RiskFlag) Acknowledge(by string, now time.Time) (bool, error) {
	switch f.Status {
	case FlagAcknowledged:
		return false, nil
	case FlagRaised, FlagEscalated:
		f.Status, f.AckTime, f.AcknowledgedBy, f.EscalateAt = FlagAcknowledged, &now, by, nil
		return true, nil
	}
	return false, fmt.Errorf("%w: a %s flag cannot be acknowledged", ErrIllegalTransition, f.Status)
}

// Close resolves or dismisses an open flag.
func (f *RiskFlag) Close(dismiss bool, now time.Time) (bool, error) {
	if !f.Open() {
		return false, fmt.Errorf("%w: the flag is already %s", ErrIllegalTransition, f.Status)
	}
	f.Status, f.CloseTime, f.EscalateAt = FlagResolved, &now, nil
	if dismiss {
		f.Status = FlagDismissed
	}
	return true, nil
}

// Escalate marks a raised flag that nobody acknowledged in time.
func (f *RiskFlag) Escalate(now time.Time) bool {
	if f.Status != FlagRaised || f.EscalateAt == nil || f.EscalateAt.After(now) {
		return false
	}
	f.Status, f.EscalateTime, f.EscalateAt = FlagEscalated, &now, nil
	return true
}
