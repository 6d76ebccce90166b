package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Direction says who made a contact.
type Direction string

// Directions.
const (
	Inbound      Direction = "inbound"
	Outbound     Direction = "outbound"
	Encounter    Direction = "encounter"
	ProfileCheck Direction = "profile_check"
)

// Channel is how a contact happened ("" = not said).
type Channel string

// Channels.
const (
	ChannelText        Channel = "text"
	ChannelCall        Channel = "call"
	ChannelSocialMedia Channel = "social_media"
	ChannelEmail       Channel = "email"
	ChannelInPerson    Channel = "in_person"
	ChannelOther       Channel = "other"
)

func (c Channel) valid() bool {
	return slices.Contains([]Channel{ChannelText, ChannelCall, ChannelSocialMedia, ChannelEmail, ChannelInPerson, ChannelOther}, c)
}

// Response is how the client responded.
type Response string

// Responses.
const (
	ResponseNone          Response = "none"
	ResponseBoundaryReply Response = "boundary_reply"
	ResponseEngaged       Response = "engaged"
)

// Classification is what a contact means for the streak.
type Classification string

// Classifications.
const (
	Slip           Classification = "slip"
	ExceptionCall  Classification = "exception"
	InboundHandled Classification = "inbound_handled"
	Checking       Classification = "checking"
)

// Contact is one entry of the contact log.
type Contact struct {
	ID             string         `bson:"id"`
	Direction      Direction      `bson:"direction"`
	Channel        Channel        `bson:"channel,omitempty"`
	OccurredAt     time.Time      `bson:"occurred_at"`
	Response       Response       `bson:"response"`
	ExceptionID    string         `bson:"exception_id,omitempty"`
	Note           string         `bson:"note,omitempty"`
	RecommitTime   *time.Time     `bson:"recommit_time,omitempty"`
	Classification Classification `bson:"classification"`
	TimeZone       string         `bson:"time_zone"`
	LocalDate      string         `bson:"local_date"`
	Voided         bool           `bson:"voided"`
	CreateTime     time.Time      `bson:"create_time"`
	UpdateTime     time.Time      `bson:"update_time"`
	// RequestHash fingerprints the request that logged the contact under a
	// request_id (idempotency.Hash), so that the same request_id with
	// another request is refused instead of answered with this contact.
	RequestHash string `bson:"request_hash,omitempty"`
}

// ContactParams describe a contact to log.
type ContactParams struct {
	ID           string
	Direction    Direction
	Channel      Channel
	OccurredAt   time.Time
	Response     Response // "": none
	ExceptionID  string
	Note         string
	RecommitTime *time.Time
	RequestHash  string
}

// Classify applies the rules: agreed exceptions are never slips; reaching
// out is a slip; an inbound message or an encounter is a slip only when
// the client engaged; a look at their profile is a slip only when the plan
// counts it.
func (p *Plan) Classify(c ContactParams) Classification {
	if c.ExceptionID != "" && p.Mode == ModeWithExceptions {
		for _, e := range p.Exceptions {
			if e.ID == c.ExceptionID && (e.Channel == "" || e.Channel == c.Channel) {
				return ExceptionCall
			}
		}
	}
	switch c.Direction {
	case Outbound:
		return Slip
	case ProfileCheck:
		if p.CountsProfileChecks {
			return Slip
		}
		return Checking
	default:
		if c.Response == ResponseEngaged {
			return Slip
		}
		return InboundHandled
	}
}

func (p *Plan) validateContact(c *ContactParams, now time.Time, field string) violations {
	var vs violations
	switch c.Direction {
	case Inbound, Outbound, Encounter, ProfileCheck:
	default:
		vs.add(field+".direction", "is required: INBOUND, OUTBOUND, ENCOUNTER or PROFILE_CHECK")
	}
	if c.Channel != "" && !c.Channel.valid() {
		vs.add(field+".channel", "is not a known channel")
	}
	if c.Response == "" {
		c.Response = ResponseNone
	}
	switch c.Response {
	case ResponseNone, ResponseBoundaryReply, ResponseEngaged:
	default:
		vs.add(field+".response", "must be NONE, BOUNDARY_REPLY or ENGAGED")
	}
	switch {
	case c.OccurredAt.IsZero():
		vs.add(field+".occurred_at", "is required")
	case c.OccurredAt.After(now.Add(clockSkew)):
		vs.add(field+".occurred_at", "cannot be in the future")
	case c.OccurredAt.Before(p.StartTime):
		vs.add(field+".occurred_at", "is before the plan started")
	}
	if c.ExceptionID != "" && !slices.ContainsFunc(p.Exceptions, func(e Exception) bool { return e.ID == c.ExceptionID }) {
		vs.add(field+".exception_id", "is not an exception of this plan")
	}
	if utf8.RuneCountInString(c.Note) > maxNoteLen {
		vs.add(field+".note", "must be at most %d characters", maxNoteLen)
	}
	if c.RecommitTime != nil {
		switch {
		case c.RecommitTime.Before(c.OccurredAt):
			vs.add(field+".recommit_time", "cannot be before the contact")
		case c.RecommitTime.After(now.Add(clockSkew)):
			vs.add(field+".recommit_time", "cannot be in the future")
		}
	}
	c.OccurredAt = c.OccurredAt.UTC().Truncate(time.Millisecond)
	if c.RecommitTime != nil {
		t := c.RecommitTime.UTC().Truncate(time.Millisecond)
		c.RecommitTime = &t
	}
	c.Note = strings.TrimSpace(c.Note)
	return vs
}

// RecordContact logs a contact. A slip ends the attempt it falls in (unless
// it falls in a pause) and a new one starts at the recommit time.
func (p *Plan) RecordContact(c ContactParams, now time.Time) (Contact, error) {
	now = now.UTC()
	if p.Status != StatusActive && p.Status != StatusPaused {
		return Contact{}, illegal("contacts are logged while a plan is active or paused (it is %s)", p.Status)
	}
	if len(p.Contacts) >= maxContacts {
		return Contact{}, illegal("the contact log of this plan is full (%d entries)", maxContacts)
	}
	if err := p.validateContact(&c, now, "contact").err(); err != nil {
		return Contact{}, err
	}
	before := p.Attempts(now)
	contact := Contact{
		ID:             c.ID,
		Direction:      c.Direction,
		Channel:        c.Channel,
		OccurredAt:     c.OccurredAt,
		Response:       c.Response,
		ExceptionID:    c.ExceptionID,
		Note:           c.Note,
		RecommitTime:   c.RecommitTime,
		Classification: p.Classify(c),
		TimeZone:       p.zoneNameAt(c.OccurredAt),
		LocalDate:      p.LocalDate(c.OccurredAt).String(),
		CreateTime:     now,
		UpdateTime:     now,
		RequestHash:    c.RequestHash,
	}
	p.Contacts = append(p.Contacts, contact)
	p.UpdateTime = now
	p.record(Event{Kind: EventContactRecorded, Time: now, Contact: &contact, EndedAttempt: p.EndsAttempt(contact)})
	p.rederive(before, p.Attempts(now), now)
	return contact, nil
}

// ContactPatch holds corrected values for the fields named in Fields.
type ContactPatch struct {
	Fields []string
	ContactParams
}

// CorrectContact changes a logged contact; the attempts are derived again.
func (p *Plan) CorrectContact(id string, patch ContactPatch, now time.Time) (Contact, error) {
	now = now.UTC()
	i := p.contactIndex(id)
	if i < 0 {
		return Contact{}, fmt.Errorf("%w: contact %q", ErrNotFound, id)
	}
	if p.Status != StatusActive && p.Status != StatusPaused && p.Status != StatusCompleted {
		return Contact{}, illegal("contacts of a %s plan cannot be corrected", p.Status)
	}
	old := p.Contacts[i]
	if old.Voided {
		return Contact{}, illegal("a voided contact cannot be corrected")
	}
	c := ContactParams{ID: old.ID, Direction: old.Direction, Channel: old.Channel, OccurredAt: old.OccurredAt,
		Response: old.Response, ExceptionID: old.ExceptionID, Note: old.Note, RecommitTime: old.RecommitTime}
	var vs violations
	if len(patch.Fields) == 0 {
		vs.add("update_mask", "names no field")
	}
	for _, f := range patch.Fields {
		switch f {
		case "direction":
			c.Direction = patch.Direction
		case "channel":
			c.Channel = patch.Channel
		case "occurred_at":
			c.OccurredAt = patch.OccurredAt
		case "response":
			c.Response = patch.Response
		case "exception_id":
			c.ExceptionID = patch.ExceptionID
		case "note":
			c.Note = patch.Note
		case "recommit_time":
			c.RecommitTime = patch.RecommitTime
		default:
			vs.add("update_mask", "field %q cannot be changed", f)
		}
	}
	vs = append(vs, p.validateContact(&c, now, "contact")...)
	if err := vs.err(); err != nil {
		return Contact{}, err
	}
	before := p.Attempts(now)
	updated := old
	updated.Direction, updated.Channel, updated.OccurredAt = c.Direction, c.Channel, c.OccurredAt
	updated.Response, updated.ExceptionID, updated.Note, updated.RecommitTime = c.Response, c.ExceptionID, c.Note, c.RecommitTime
	updated.Classification = p.Classify(c)
	updated.TimeZone = p.zoneNameAt(c.OccurredAt)
	updated.LocalDate = p.LocalDate(c.OccurredAt).String()
	updated.UpdateTime = now
	p.Contacts[i] = updated
	after := p.Attempts(now)
	if p.Status == StatusCompleted {
		// A completed plan reached its target: a correction that breaks
		// that streak is refused rather than silently leaving a completed
		// plan under its target (see docs/decisions.md).
		was, _ := current(before)
		if cur, ok := current(after); !ok || (cur.Start.After(was.Start) && cur.Days < p.TargetDays) {
			p.Contacts[i] = old
			return Contact{}, illegal("this plan is completed: a correction that breaks the streak that completed it cannot be made")
		}
	}
	p.UpdateTime = now
	p.record(Event{Kind: EventContactCorrected, Time: now, Contact: &updated, EndedAttempt: p.EndsAttempt(updated)})
	p.rederive(before, after, now)
	return updated, nil
}

// VoidContact marks a contact as logged by mistake: kept, no longer counted.
func (p *Plan) VoidContact(id string, now time.Time) (Contact, error) {
	now = now.UTC()
	i := p.contactIndex(id)
	if i < 0 {
		return Contact{}, fmt.Errorf("%w: contact %q", ErrNotFound, id)
	}
	if p.Status != StatusActive && p.Status != StatusPaused && p.Status != StatusCompleted {
		return Contact{}, illegal("contacts of a %s plan cannot be voided", p.Status)
	}
	if p.Contacts[i].Voided {
		return p.Contacts[i], nil
	}
	before := p.Attempts(now)
	p.Contacts[i].Voided = true
	p.Contacts[i].UpdateTime = now
	p.UpdateTime = now
	c := p.Contacts[i]
	p.record(Event{Kind: EventContactVoided, Time: now, Contact: &c})
	p.rederive(before, p.Attempts(now), now)
	return c, nil
}

// Contact returns one contact.
func (p *Plan) Contact(id string) (Contact, bool) {
	if i := p.contactIndex(id); i >= 0 {
		return p.Contacts[i], true
	}
	return Contact{}, false
}

func (p *Plan) contactIndex(id string) int {
	return slices.IndexFunc(p.Contacts, func(c Contact) bool { return c.ID == id })
}

// EndsAttempt reports whether a contact ends the attempt it falls in: a
// counted slip outside any pause (a pause exists for times when contact is
// expected, e.g. a funeral).
func (p *Plan) EndsAttempt(c Contact) bool {
	if c.Voided || c.Classification != Slip {
		return false
	}
	for _, pa := range p.Pauses {
		if !c.OccurredAt.Before(pa.Start) && (pa.End == nil || c.OccurredAt.Before(*pa.End)) {
			return false
		}
	}
	return true
}

// rederive compares the attempts before and after a change of the contact
// log and records what changed: attempts ended or started, milestones
// that no longer stand.
func (p *Plan) rederive(before, after []Attempt, now time.Time) {
	known := map[int64]bool{}
	for _, a := range before {
		known[a.Start.UnixMilli()] = true
	}
	for i, a := range after {
		if i < len(after)-1 || a.End != nil {
			// An ended attempt: announce it if it ended by this change.
			wasOpenOrDifferent := true
			for _, b := range before {
				if b.Start.Equal(a.Start) && b.End != nil && a.End != nil && b.End.Equal(*a.End) {
					wasOpenOrDifferent = false
				}
			}
			if wasOpenOrDifferent {
				a := a
				p.record(Event{Kind: EventAttemptEnded, Time: now, Attempt: &a})
			}
		}
		if !known[a.Start.UnixMilli()] {
			a := a
			p.record(Event{Kind: EventAttemptStarted, Time: now, Attempt: &a})
		}
	}
	p.advance(after, now)
}
