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
	// Seq numbers the plan's contacts in the order they were logged (from
	// 1): the log is listed newest first by it.
	Seq int64 `bson:"seq"`
	// Rev counts the changes of this contact (1 when logged): a copy of an
	// older revision never overwrites a newer one in the contacts
	// collection.
	Rev int `bson:"rev"`
}

// SlipRef is what the plan keeps of a counted slip: what attempts are derived
// from.
type SlipRef struct {
	ContactID    string     `bson:"contact_id"`
	OccurredAt   time.Time  `bson:"occurred_at"`
	RecommitTime *time.Time `bson:"recommit_time,omitempty"`
}

func slipLess(a, b SlipRef) int {
	if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
		return c
	}
	return strings.Compare(a.ContactID, b.ContactID)
}

// counted reports whether c belongs in the slip summary.
func counted(c Contact) bool { return !c.Voided && c.Classification == Slip }

// summarise brings the summary in line with a contact's new state: its
// slip (if any) is dropped and added again if it still counts, in time
// order, so the summary never depends on the order of the writes.
func (p *Plan) summarise(c Contact) {
	p.Slips = slices.DeleteFunc(p.Slips, func(s SlipRef) bool { return s.ContactID == c.ID })
	if !counted(c) {
		return
	}
	s := SlipRef{ContactID: c.ID, OccurredAt: c.OccurredAt, RecommitTime: c.RecommitTime}
	i, _ := slices.BinarySearchFunc(p.Slips, s, slipLess)
	p.Slips = slices.Insert(p.Slips, i, s)
}

// changed puts a logged or changed contact in the working set and among
// the contacts the store must write.
func (p *Plan) changed(c Contact) {
	if i := p.contactIndex(c.ID); i >= 0 {
		p.Contacts[i] = c
	} else {
		p.Contacts = append(p.Contacts, c)
	}
	if i := slices.IndexFunc(p.PendingContacts, func(x Contact) bool { return x.ID == c.ID }); i >= 0 {
		p.PendingContacts[i] = c
	} else {
		p.PendingContacts = append(p.PendingContacts, c)
	}
}

// MoveLegacyContacts turns a contact log held in the plan document (as
// documents were before the log moved to its own collection) into the
// summary, and the contacts into pending ones for the store to write to
// the contacts collection. Deterministic: two replicas that move the same
// document write the same thing.
func (p *Plan) MoveLegacyContacts() bool {
	if len(p.LegacyContacts) == 0 {
		return false
	}
	p.Slips, p.ContactCount = nil, 0
	for i, c := range p.LegacyContacts {
		c.Seq, c.Rev = int64(i+1), 1
		if !c.Voided {
			p.ContactCount++
		}
		p.summarise(c)
		p.PendingContacts = append(p.PendingContacts, c)
	}
	p.ContactSeq = int64(len(p.LegacyContacts))
	p.LegacyContacts = nil
	return true
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
	if err := p.validateContact(&c, now, "contact").err(); err != nil {
		return Contact{}, err
	}
	if p.Classify(c) == Slip && len(p.Slips) >= maxSlips {
		return Contact{}, illegal("this plan has %d slips, the most one plan counts: start a new plan", maxSlips)
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
		Seq:            p.ContactSeq + 1,
		Rev:            1,
	}
	p.ContactSeq = contact.Seq
	p.ContactCount++
	p.summarise(contact)
	p.changed(contact)
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

// CorrectContact changes a logged contact, which must be in the working
// set (Contacts); the attempts are derived again.
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
	updated.Rev = old.Rev + 1
	slips := slices.Clone(p.Slips)
	p.summarise(updated)
	after := p.Attempts(now)
	if p.Status == StatusCompleted {
		// A completed plan reached its target: a correction that breaks
		// that streak is refused rather than silently leaving a completed
		// plan under its target (see docs/decisions.md).
		was, _ := current(before)
		if cur, ok := current(after); !ok || (cur.Start.After(was.Start) && cur.Days < p.TargetDays) {
			p.Slips = slips
			return Contact{}, illegal("this plan is completed: a correction that breaks the streak that completed it cannot be made")
		}
	}
	p.changed(updated)
	p.UpdateTime = now
	p.record(Event{Kind: EventContactCorrected, Time: now, Contact: &updated, EndedAttempt: p.EndsAttempt(updated)})
	p.rederive(before, after, now)
	return updated, nil
}

// VoidContact marks a contact (in the working set) as logged by mistake:
// kept, no longer counted.
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
	c := p.Contacts[i]
	c.Voided, c.UpdateTime, c.Rev = true, now, c.Rev+1
	p.ContactCount--
	p.summarise(c)
	p.changed(c)
	p.UpdateTime = now
	p.record(Event{Kind: EventContactVoided, Time: now, Contact: &c})
	p.rederive(before, p.Attempts(now), now)
	return c, nil
}

// Contact returns one contact of the working set.
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
	return counted(c) && !p.paused(c.OccurredAt)
}

// paused reports whether t falls in a pause.
func (p *Plan) paused(t time.Time) bool {
	for _, pa := range p.Pauses {
		if !t.Before(pa.Start) && (pa.End == nil || t.Before(*pa.End)) {
			return true
		}
	}
	return false
}

// rederive compares the attempts before and after a change of the contact
// log and records what changed: attempts ended or started, milestones
// that no longer stand.
func (p *Plan) rederive(before, after []Attempt, now time.Time) {
	known := make(map[int64]bool, len(before))
	ended := make(map[int64]int64, len(before)) // start -> end, of ended attempts
	for _, b := range before {
		known[b.Start.UnixMilli()] = true
		if b.End != nil {
			ended[b.Start.UnixMilli()] = b.End.UnixMilli()
		}
	}
	for i, a := range after {
		if i < len(after)-1 || a.End != nil {
			// An ended attempt: announce it if it ended by this change.
			if end, ok := ended[a.Start.UnixMilli()]; !ok || a.End == nil || end != a.End.UnixMilli() {
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

// PlanContact is a contact with the id of the plan whose log holds it (a
// read across several plans' logs).
type PlanContact struct {
	PlanID string
	Contact
}
