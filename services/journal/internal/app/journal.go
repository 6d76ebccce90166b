package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/journal/internal/coping"
	"github.com/nocontact/backend/services/journal/internal/journal"
	"github.com/nocontact/backend/services/journal/internal/prompts"
	"github.com/nocontact/backend/services/journal/internal/resources"
	"github.com/nocontact/backend/services/journal/internal/screening"
)

// SupportContact is someone the client listed in their plan.
type SupportContact struct {
	ID, Name, Relationship, Contact string
}

// SupportInfo is what the plans service returns for a hard moment.
type SupportInfo struct {
	HasPlan    bool
	Reasons    []string
	Contacts   []SupportContact
	StreakDays int
}

// SupportSource asks the plans service (over gRPC, with the caller's token).
type SupportSource interface {
	Support(ctx context.Context, clientID string) (SupportInfo, error)
}

// Stores are the journal's collections.
type Stores struct {
	CheckIns *docstore.Store[journal.CheckIn]
	Entries  *docstore.Store[journal.Entry]
	Urges    *docstore.Store[journal.Urge]
	Flags    *docstore.Store[journal.RiskFlag]
	// Care reads the care team's views (roster rows, detail page).
	Care CareStore
}

// Journal is the journal use cases.
type Journal struct {
	st             Stores
	access         *Access
	support        SupportSource
	supportTimeout time.Duration
	escalateAfter  time.Duration
	clk            clock.Clock
	log            *slog.Logger
	// afterClaim, set by tests only, runs between EscalateNext's claim and
	// its write.
	afterClaim func(flagID string)
	// beforeLowMood, set by tests only, runs before each low-mood read
	// (phase "answer" in a check-in's request, "flag" in the risk
	// consumer); an error it returns is the read's.
	beforeLowMood func(phase string) error
	// beforeFlagWrite, set by tests only, runs before a flag is stored; an
	// error it returns is the write's.
	beforeFlagWrite func(flagID string) error
	// beforeCreate, set by tests only, runs before a keyed create inserts
	// (a check-in, entry or urge under a request id).
	beforeCreate func(id string)
	// erasure is the journal's part of erasures (erasure.go); nil in tests
	// that do not erase.
	erasure *erasure.Part
}

// Options tune the journal use cases.
type Options struct {
	// SupportTimeout bounds the call to plans during an urge: the answer
	// must come at once, with or without the plan's part.
	SupportTimeout time.Duration
	// EscalateAfter is how long a raised risk flag may wait for the care
	// team before it escalates.
	EscalateAfter time.Duration
}

// NewJournal builds the journal use cases.
func NewJournal(st Stores, access *Access, support SupportSource, clk clock.Clock, log *slog.Logger, opts Options) *Journal {
	if opts.SupportTimeout <= 0 {
		opts.SupportTimeout = 800 * time.Millisecond
	}
	if opts.EscalateAfter <= 0 {
		opts.EscalateAfter = 30 * time.Minute
	}
	return &Journal{st: st, access: access, support: support, supportTimeout: opts.SupportTimeout, escalateAfter: opts.EscalateAfter, clk: clk, log: log}
}

// Screen is what screening found, for the client's own answer.
type Screen struct {
	Reasons   []string
	Resources []resources.Resource
	Message   string
	// Words is the words' most severe finding (the zero Finding when they
	// screened clean).
	Words screening.Finding
}

func notFoundClient(clientID string) error { return apperr.NotFound("client %q not found", clientID) }

// RecordCheckIn stores a check-in and screens it.
// With a request id, a retry of the same request answers (and screens) the
// check-in stored the first time.
func (j *Journal) RecordCheckIn(ctx context.Context, c Caller, clientID string, in journal.CheckIn, country string, key RequestKey) (journal.CheckIn, Screen, error) {
	if err := j.access.OwnerOnly(ctx, c, clientID, "checkins", "RecordCheckIn"); err != nil {
		return journal.CheckIn{}, Screen{}, err
	}
	now := storedNow(j.clk)
	in.ID, in.ClientID = recordID("ci-", clientID, key), clientID
	ci, err := journal.NewCheckIn(in, now)
	if err != nil {
		return journal.CheckIn{}, Screen{}, domainErr(err)
	}
	words := screenWords(ci.Note)
	ev, err := newEvent("journal.checkin.recorded", clientID, c.RequestID, ci.OccurredAt, ci.TimeZone, ci.LocalDate, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_CheckInRecorded{CheckInRecorded: &eventsv1.CheckInRecorded{
			CheckInId: ci.ID, Mood: int32(ci.Mood), Difficulty: int32(ci.Difficulty), Triggers: ci.Triggers, SelfCare: ci.SelfCare,
			Screened: screenedProto(words),
		}},
	})
	if err != nil {
		return journal.CheckIn{}, Screen{}, err
	}
	if ci, err = createOnce(ctx, j, j.st.CheckIns, ci.ID, key, ci, ev); err != nil {
		return journal.CheckIn{}, Screen{}, err
	}
	// Stored: from here on the call answers, with the resources the words
	// call for whatever else fails.
	return ci, answer(signals{words: words, lowMood: j.lowMoodFor(ctx, clientID, ci.LocalDate)}, country), nil
}

// lowMoodStreak looks at the lowest mood of each of the last local days.
func (j *Journal) lowMoodStreak(ctx context.Context, phase, clientID, today string) (bool, error) {
	if j.beforeLowMood != nil {
		if err := j.beforeLowMood(phase); err != nil {
			return false, err
		}
	}
	from := shiftDate(today, -3)
	list, err := j.st.CheckIns.Find(ctx, bson.D{
		{Key: "client_id", Value: clientID},
		{Key: "local_date", Value: bson.D{{Key: "$gte", Value: from}}},
	}, options.Find().SetLimit(500).SetProjection(noText))
	if err != nil {
		return false, err
	}
	moods := make([]screening.MoodCheckIn, len(list))
	for i, ci := range list {
		moods[i] = screening.MoodCheckIn{LocalDate: ci.LocalDate, Mood: ci.Mood}
	}
	return screening.LowMoodStreak(moods, today), nil
}

func shiftDate(date string, days int) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return date
	}
	return t.AddDate(0, 0, days).Format(time.DateOnly)
}

// ListCheckIns lists check-ins, newest first: the client's own, or for
// their counsellor under the mood scope (without notes).
func (j *Journal) ListCheckIns(ctx context.Context, c Caller, clientID string, pageSize int, pageToken string) ([]journal.CheckIn, string, bool, error) {
	d, err := j.access.Check(ctx, c, clientID, ScopeMoodInsights, "checkins", "ListCheckIns", false)
	if err != nil {
		return nil, "", false, err
	}
	if d == Deny {
		return nil, "", false, notFoundClient(clientID)
	}
	skip, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", false, err
	}
	size := sizeOr(pageSize, 30)
	list, err := j.st.CheckIns.Find(ctx, bson.D{{Key: "client_id", Value: clientID}},
		options.Find().SetSort(bson.D{{Key: "occurred_at", Value: -1}, {Key: "_id", Value: 1}}).SetSkip(int64(skip)).SetLimit(int64(size+1)))
	if err != nil {
		return nil, "", false, err
	}
	next := ""
	if len(list) > size {
		list, next = list[:size], encodeToken(skip+size)
	}
	return list, next, d == Owner, nil
}

// CreateEntry stores a private entry and screens it.
// With a request id, a retry of the same request answers (and screens) the
// entry stored the first time.
func (j *Journal) CreateEntry(ctx context.Context, c Caller, clientID string, in journal.Entry, country string, key RequestKey) (journal.Entry, Screen, error) {
	if err := j.access.OwnerOnly(ctx, c, clientID, "entries", "CreateEntry"); err != nil {
		return journal.Entry{}, Screen{}, err
	}
	now := storedNow(j.clk)
	in.ID, in.ClientID = recordID("en-", clientID, key), clientID
	e, err := journal.NewEntry(in, func(id string) bool { _, ok := prompts.Get(id); return ok }, now)
	if err != nil {
		return journal.Entry{}, Screen{}, domainErr(err)
	}
	words := screenWords(e.Title + "\n" + e.Body)
	ev, err := newEvent("journal.entry.created", clientID, c.RequestID, now, e.TimeZone, e.LocalDate, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_EntryCreated{EntryCreated: &eventsv1.EntryCreated{EntryId: e.ID, Kind: EntryKindProto(e.Kind), Screened: screenedProto(words)}},
	})
	if err != nil {
		return journal.Entry{}, Screen{}, err
	}
	if e, err = createOnce(ctx, j, j.st.Entries, e.ID, key, e, ev); err != nil {
		return journal.Entry{}, Screen{}, err
	}
	return e, answer(signals{words: words}, country), nil
}

// ListEntries lists entries, newest first: all for the client, only shared
// ones for their counsellor under the journal scope.
func (j *Journal) ListEntries(ctx context.Context, c Caller, clientID string, pageSize int, pageToken string) ([]journal.Entry, string, error) {
	d, err := j.access.Check(ctx, c, clientID, ScopeSharedJournal, "entries", "ListEntries", false)
	if err != nil {
		return nil, "", err
	}
	if d == Deny {
		return nil, "", notFoundClient(clientID)
	}
	filter := bson.D{{Key: "client_id", Value: clientID}}
	if d != Owner {
		filter = append(filter, bson.E{Key: "shared", Value: true})
	}
	skip, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	size := sizeOr(pageSize, 20)
	list, err := j.st.Entries.Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}).SetSkip(int64(skip)).SetLimit(int64(size+1)))
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > size {
		list, next = list[:size], encodeToken(skip+size)
	}
	return list, next, nil
}

// GetEntry returns one entry: any of the client's own, or a shared one for
// their counsellor under the journal scope. Anything else is NotFound.
func (j *Journal) GetEntry(ctx context.Context, c Caller, clientID, entryID string) (journal.Entry, error) {
	d, err := j.access.Decide(ctx, c, clientID, ScopeSharedJournal, false)
	if err != nil {
		return journal.Entry{}, err
	}
	notFound := apperr.NotFound("entry %q not found", entryID)
	var e journal.Entry
	if d != Deny {
		e, _, err = j.st.Entries.Get(ctx, entryID)
		switch {
		case errors.Is(err, docstore.ErrNotFound):
			d = Deny
		case err != nil:
			return journal.Entry{}, err
		case e.ClientID != clientID || (d != Owner && !e.Shared):
			// A private entry is the client's alone: the attempt is a
			// refusal, answered and logged as one.
			d = Deny
		}
	}
	if err := j.access.Record(ctx, c, clientID, "entry/"+entryID, "GetEntry", d != Deny); err != nil {
		return journal.Entry{}, err
	}
	if d == Deny {
		return journal.Entry{}, notFound
	}
	return e, nil
}

// SetShared shares or unshares one entry (the client only).
func (j *Journal) SetShared(ctx context.Context, c Caller, clientID, entryID string, share bool) (journal.Entry, error) {
	action := "UnshareEntry"
	if share {
		action = "ShareEntry"
	}
	if err := j.access.OwnerOnly(ctx, c, clientID, "entry/"+entryID, action); err != nil {
		return journal.Entry{}, err
	}
	notFound := apperr.NotFound("entry %q not found", entryID)
	now := storedNow(j.clk)
	e, err := j.st.Entries.Update(ctx, entryID, func(e *journal.Entry) ([]outbox.Message, error) {
		if e.ClientID != clientID {
			return nil, notFound
		}
		subject, env := "journal.entry.unshared", &eventsv1.Envelope{Payload: &eventsv1.Envelope_EntryUnshared{EntryUnshared: &eventsv1.EntryUnshared{EntryId: e.ID}}}
		changed := e.Unshare()
		if share {
			subject, env = "journal.entry.shared", &eventsv1.Envelope{Payload: &eventsv1.Envelope_EntryShared{EntryShared: &eventsv1.EntryShared{EntryId: e.ID}}}
			changed = e.Share(now)
		}
		if !changed {
			return nil, nil
		}
		ev, err := newEvent(subject, clientID, c.RequestID, now, e.TimeZone, e.LocalDate, env)
		if err != nil {
			return nil, err
		}
		return []outbox.Message{ev}, nil
	})
	if errors.Is(err, docstore.ErrNotFound) {
		return journal.Entry{}, notFound
	}
	return e, err
}

// UrgeAnswer is the answer to a hard moment.
type UrgeAnswer struct {
	Urge            journal.Urge
	Support         SupportInfo
	PlanUnavailable bool
	Step            coping.Step
	Screen          Screen
}

// LogUrge stores an urge and answers at once: the client's reasons and
// people (asked from plans with a short deadline; the rest of the answer
// comes even when plans cannot), one coping step, and crisis resources when
// the intensity or the words call for them. With a request id, a retry of
// the same request answers the urge stored the first time (as it is now).
func (j *Journal) LogUrge(ctx context.Context, c Caller, clientID string, in journal.Urge, country string, key RequestKey) (UrgeAnswer, error) {
	if err := j.access.OwnerOnly(ctx, c, clientID, "urges", "LogUrge"); err != nil {
		return UrgeAnswer{}, err
	}
	now := storedNow(j.clk)
	in.ID, in.ClientID = recordID("ur-", clientID, key), clientID
	u, err := journal.NewUrge(in, now)
	if err != nil {
		return UrgeAnswer{}, domainErr(err)
	}
	words := screenWords(u.Note)
	ev, err := newEvent("journal.urge.logged", clientID, c.RequestID, now, u.TimeZone, u.LocalDate, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_UrgeLogged{UrgeLogged: &eventsv1.UrgeLogged{UrgeId: u.ID, Intensity: int32(u.Intensity), Trigger: u.Trigger, Screened: screenedProto(words)}},
	})
	if err != nil {
		return UrgeAnswer{}, err
	}

	// Ask plans while the urge is stored.
	type supportResult struct {
		info SupportInfo
		err  error
	}
	supportc := make(chan supportResult, 1)
	sctx, cancel := context.WithTimeout(ctx, j.supportTimeout)
	defer cancel()
	go func() {
		info, err := j.support.Support(sctx, clientID)
		supportc <- supportResult{info, err}
	}()

	if u, err = createOnce(ctx, j, j.st.Urges, u.ID, key, u, ev); err != nil {
		return UrgeAnswer{}, err
	}
	screen := answer(signals{words: words, highUrge: events.HighUrge(u.Intensity)}, country)
	ans := UrgeAnswer{Urge: u, Screen: screen, Step: coping.For(u.Intensity, u.Trigger, uint64(u.CreateTime.UnixMilli()))}
	res := <-supportc
	if res.err != nil {
		j.log.WarnContext(ctx, "plans did not answer for an urge; answering without the plan's part", "error", res.err)
		ans.PlanUnavailable = true
	} else {
		ans.Support = res.info
	}
	return ans, nil
}

// ResolveUrge records how an urge ended (the client only). CONTACTED is
// sent to the plans service as an event, which logs it as a slip.
func (j *Journal) ResolveUrge(ctx context.Context, c Caller, clientID, urgeID, outcome string) (journal.Urge, error) {
	if err := j.access.OwnerOnly(ctx, c, clientID, "urge/"+urgeID, "ResolveUrge"); err != nil {
		return journal.Urge{}, err
	}
	notFound := apperr.NotFound("urge %q not found", urgeID)
	now := storedNow(j.clk)
	u, err := j.st.Urges.Update(ctx, urgeID, func(u *journal.Urge) ([]outbox.Message, error) {
		if u.ClientID != clientID {
			return nil, notFound
		}
		already := u.Outcome != ""
		if err := u.Resolve(outcome, now); err != nil {
			return nil, domainErr(err)
		}
		if already {
			return nil, nil
		}
		ev, err := newEvent("journal.urge.resolved", clientID, c.RequestID, now, u.TimeZone, u.LocalDate, &eventsv1.Envelope{
			Payload: &eventsv1.Envelope_UrgeResolved{UrgeResolved: &eventsv1.UrgeResolved{
				UrgeId: u.ID, Outcome: OutcomeProto(u.Outcome), Intensity: int32(u.Intensity),
				UrgeTime: timestamppb.New(u.CreateTime), ResolveTime: timestamppb.New(now),
			}},
		})
		if err != nil {
			return nil, err
		}
		return []outbox.Message{ev}, nil
	})
	if errors.Is(err, docstore.ErrNotFound) {
		return journal.Urge{}, notFound
	}
	return u, err
}

// PromptOfTheDay follows the client's days in their current attempt (day
// 0 when plans cannot say).
func (j *Journal) PromptOfTheDay(ctx context.Context, c Caller, clientID string) (prompts.Prompt, int, error) {
	if err := j.access.OwnerOnly(ctx, c, clientID, "prompt-of-the-day", "GetPromptOfTheDay"); err != nil {
		return prompts.Prompt{}, 0, err
	}
	sctx, cancel := context.WithTimeout(ctx, j.supportTimeout)
	defer cancel()
	day := 0
	if info, err := j.support.Support(sctx, clientID); err == nil {
		day = info.StreakDays
	}
	return prompts.ForDay(day), day, nil
}

// ListRiskFlags lists a client's flags, newest first.
func (j *Journal) ListRiskFlags(ctx context.Context, c Caller, clientID string, openOnly bool) ([]journal.RiskFlag, error) {
	d, err := j.access.Check(ctx, c, clientID, ScopeRiskAlerts, "risk-flags", "ListRiskFlags", true)
	if err != nil {
		return nil, err
	}
	if d == Deny {
		return nil, notFoundClient(clientID)
	}
	filter := bson.D{{Key: "client_id", Value: clientID}}
	if openOnly {
		filter = append(filter, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: []string{journal.FlagRaised, journal.FlagEscalated, journal.FlagAcknowledged}}}})
	}
	return j.st.Flags.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "raise_time", Value: -1}}).SetLimit(200))
}

// ChangeFlag acknowledges or closes a flag: the counsellor under the
// risk-alerts scope, or an admin (flags hold no journal content).
func (j *Journal) ChangeFlag(ctx context.Context, c Caller, clientID, flagID string, close, dismiss bool) (journal.RiskFlag, error) {
	notFound := apperr.NotFound("risk flag %q not found", flagID)
	action := "AcknowledgeRiskFlag"
	if close {
		action = "ResolveRiskFlag"
	}
	d, err := j.access.Decide(ctx, c, clientID, ScopeRiskAlerts, true)
	if err != nil {
		return journal.RiskFlag{}, err
	}
	if d == Owner {
		return journal.RiskFlag{}, apperr.PermissionDenied("risk flags are for your care team to acknowledge")
	}
	if d != Deny {
		// A flag of another client is not this client's to change.
		f, _, err := j.st.Flags.Get(ctx, flagID)
		switch {
		case errors.Is(err, docstore.ErrNotFound):
			d = Deny
		case err != nil:
			return journal.RiskFlag{}, err
		case f.ClientID != clientID:
			d = Deny
		}
	}
	if err := j.access.Record(ctx, c, clientID, "risk-flag/"+flagID, action, d != Deny); err != nil {
		return journal.RiskFlag{}, err
	}
	if d == Deny {
		return journal.RiskFlag{}, notFound
	}
	now := storedNow(j.clk)
	f, err := j.st.Flags.Update(ctx, flagID, func(f *journal.RiskFlag) ([]outbox.Message, error) {
		if f.ClientID != clientID {
			return nil, notFound
		}
		var changed bool
		var err error
		if close {
			changed, err = f.Close(dismiss, now)
		} else {
			changed, err = f.Acknowledge(c.ID, now)
		}
		if err != nil {
			return nil, domainErr(err)
		}
		if !changed {
			return nil, nil
		}
		return j.flagEvent(c.ID, c.RequestID, *f, now)
	})
	if errors.Is(err, docstore.ErrNotFound) {
		return journal.RiskFlag{}, notFound
	}
	return f, err
}

func (j *Journal) flagEvent(actor, requestID string, f journal.RiskFlag, now time.Time) ([]outbox.Message, error) {
	ev, err := newEvent("journal.risk.flag_updated", f.ClientID, requestID, now, "", "", &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_RiskFlagUpdated{RiskFlagUpdated: &eventsv1.RiskFlagUpdated{
			FlagId: f.ID, Reason: flagReasons[f.Reason], Status: FlagStatusProto(f.Status), ActorId: actor,
			Category: CategoryProto(f.Category), Severity: FlagSeverityProto(f),
		}},
	})
	if err != nil {
		return nil, err
	}
	return []outbox.Message{ev}, nil
}

// EscalationLease is how long a flag claimed for escalation is left to
// the replica that claimed it (see docstore.Claim).
const EscalationLease = time.Minute

// EscalateDue escalates raised flags nobody acknowledged in time, claiming
// them one at a time until none is left unclaimed; replicas running it at
// once share the flags (a lease each) instead of all taking the same
// oldest ones, and the version check still lets one win per flag.
func (j *Journal) EscalateDue(ctx context.Context) (int, error) {
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		claimed, escalated, err := j.EscalateNext(ctx)
		if err != nil {
			return n, err
		}
		if !claimed {
			return n, nil
		}
		if escalated {
			n++
		}
	}
}

// EscalateNext claims one flag due to escalate and escalates it. It
// reports whether it claimed one and whether that escalated; err is a
// failure to claim (a failure to escalate is logged, and the flag is tried
// again once its lease has run out).
func (j *Journal) EscalateNext(ctx context.Context) (claimed, escalated bool, err error) {
	now := storedNow(j.clk)
	id, err := j.st.Flags.Claim(ctx, bson.D{
		{Key: "status", Value: journal.FlagRaised},
		{Key: "escalate_at", Value: bson.D{{Key: "$lte", Value: now}}},
	}, bson.D{{Key: "escalate_at", Value: 1}}, now, EscalationLease)
	if errors.Is(err, docstore.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if j.afterClaim != nil {
		j.afterClaim(id)
	}
	_, err = j.st.Flags.Update(ctx, id, func(f *journal.RiskFlag) ([]outbox.Message, error) {
		escalated = false
		if !f.Escalate(now) {
			return nil, nil
		}
		escalated = true
		return j.flagEvent(escalationActor, "", *f, now)
	})
	if err != nil {
		j.log.WarnContext(ctx, "escalate flag failed", "flag_id", id, "error", err)
		return true, false, nil
	}
	return true, escalated, nil
}

// domainErr maps domain errors to application errors.
func domainErr(err error) error {
	var ve *journal.ValidationError
	switch {
	case errors.As(err, &ve):
		vs := make([]apperr.FieldViolation, len(ve.Violations))
		for i, v := range ve.Violations {
			vs[i] = apperr.FieldViolation{Field: v.Field, Description: v.Description}
		}
		return apperr.InvalidArgument(vs...)
	case errors.Is(err, journal.ErrIllegalTransition):
		return apperr.Wrap(apperr.KindFailedPrecondition, err, "%s", strings.TrimPrefix(err.Error(), journal.ErrIllegalTransition.Error()+": "))
	}
	return err
}
