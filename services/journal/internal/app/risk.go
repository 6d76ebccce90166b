package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/journal/internal/journal"
	"github.com/nocontact/backend/services/journal/internal/resources"
	"github.com/nocontact/backend/services/journal/internal/screening"
)

// Screening a client's words has one path for everything they write:
// check-in notes, entries (title and body; slip reflections are entries
// of kind SLIP_REFLECTION), urge notes. Each create
//
//  1. screens the words (pure and local) before it stores anything;
//  2. stores the record with its event, which carries what the screening
//     found (category and severity, never the words);
//  3. answers with crisis resources computed from the words and the
//     record alone; a secondary read that fails (the low-mood query) is
//     logged and leaves the answer's resources whole;
//
// and the risk consumer (RaiseFlags, on the journal's own events) raises
// the care team's flags from the stored event, retrying until it can. No
// flag depends on a best-effort call in the request.

// screenWords is the one screener call of every path.
func screenWords(text string) screening.Result { return screening.Screen(text) }

// screenedProto is what an event says of a screening: the top finding's
// category and severity.
func screenedProto(r screening.Result) *eventsv1.Screened {
	top := r.Top()
	if top.Severity == screening.SeverityNone {
		return nil
	}
	return &eventsv1.Screened{Category: riskCategories[top.Category], Severity: riskSeverities[top.Severity]}
}

// signals are what one record screened as, for the client's answer.
type signals struct {
	words    screening.Result
	lowMood  bool
	highUrge bool
}

// answer builds the client's part of a screening: crisis resources at
// once, whatever the consent settings; the emergency number first when the
// words are imminent. It cannot fail.
func answer(s signals, country string) Screen {
	var reasons []string
	if s.words.Crisis() {
		reasons = append(reasons, string(screening.ReasonCrisisLanguage))
	}
	if s.lowMood {
		reasons = append(reasons, string(screening.ReasonLowMoodStreak))
	}
	if s.highUrge {
		reasons = append(reasons, string(screening.ReasonHighUrge))
	}
	if len(reasons) == 0 {
		return Screen{}
	}
	out := Screen{Reasons: reasons, Resources: resources.For(country), Message: screening.SupportMessage(screening.Reason(reasons[0])), Words: s.words.Top()}
	if s.words.Imminent() {
		out.Resources = resources.Imminent(country)
	}
	return out
}

// lowMoodFor is the low-mood read of a check-in's answer: a failure is
// logged, never the client's problem (the risk consumer reads it again,
// with retries, for the flag).
func (j *Journal) lowMoodFor(ctx context.Context, clientID, localDate string) bool {
	low, err := j.lowMoodStreak(ctx, "answer", clientID, localDate)
	if err != nil {
		j.log.WarnContext(ctx, "low-mood read failed; answering from the words alone (the risk consumer retries the flag)", "client_id", clientID, "error", err)
		return false
	}
	return low
}

// flagSignal is one flag a record calls for.
type flagSignal struct {
	reason   screening.Reason
	category screening.Category
	severity screening.Severity
}

// RaiseFlags is the risk consumer's work for one of the journal's own
// events (journal.checkin.recorded, journal.entry.created,
// journal.urge.logged; others are ignored): it raises the flags the record
// calls for. An error means try again later (the consumer redelivers with
// backoff); handling the same event twice raises each flag once, because a
// flag's id derives from its source record and reason.
func (j *Journal) RaiseFlags(ctx context.Context, env *eventsv1.Envelope) error {
	var kind, sourceID string
	var words *eventsv1.Screened
	var sigs []flagSignal
	switch p := env.GetPayload().(type) {
	case *eventsv1.Envelope_CheckInRecorded:
		kind, sourceID, words = "checkin", p.CheckInRecorded.GetCheckInId(), p.CheckInRecorded.GetScreened()
		low, err := j.lowMoodStreak(ctx, "flag", env.GetClientId(), env.GetLocalDate())
		if err != nil {
			return fmt.Errorf("low-mood read for check-in %s: %w", sourceID, err)
		}
		if low {
			sigs = append(sigs, flagSignal{reason: screening.ReasonLowMoodStreak, severity: screening.SeverityModerate})
		}
	case *eventsv1.Envelope_EntryCreated:
		kind, sourceID, words = "entry", p.EntryCreated.GetEntryId(), p.EntryCreated.GetScreened()
	case *eventsv1.Envelope_UrgeLogged:
		kind, sourceID, words = "urge", p.UrgeLogged.GetUrgeId(), p.UrgeLogged.GetScreened()
		if events.HighUrge(int(p.UrgeLogged.GetIntensity())) {
			sigs = append(sigs, flagSignal{reason: screening.ReasonHighUrge, severity: screening.SeverityModerate})
		}
	default:
		return nil
	}
	// Only moderate and above raise a flag; LOW is the gentle check
	// (resources, no flag).
	if sev := severityFromProto(words.GetSeverity()); sev >= screening.SeverityModerate {
		sigs = append([]flagSignal{{reason: screening.ReasonCrisisLanguage, category: categoryFromProto(words.GetCategory()), severity: sev}}, sigs...)
	}
	if len(sigs) == 0 {
		return nil
	}
	// An erased client's event (a redelivery, a replay) raises nothing.
	_, err := j.erasure.Skip(ctx, env.GetClientId(), func() error {
		for _, s := range sigs {
			if err := j.raiseFlag(ctx, env.GetClientId(), env.GetCorrelationId(), kind, sourceID, s); err != nil {
				return fmt.Errorf("raise %s flag for %s %s: %w", s.reason, kind, sourceID, err)
			}
		}
		return nil
	})
	return err
}

var flagReasons = map[string]journalv1.RiskReason{
	string(screening.ReasonCrisisLanguage): journalv1.RiskReason_RISK_REASON_CRISIS_LANGUAGE,
	string(screening.ReasonLowMoodStreak):  journalv1.RiskReason_RISK_REASON_LOW_MOOD_STREAK,
	string(screening.ReasonHighUrge):       journalv1.RiskReason_RISK_REASON_HIGH_URGE,
}

// flagID derives a flag's id from what raised it, so a redelivered event
// finds the flag it raised the first time.
func flagID(sourceKind, sourceID string, reason screening.Reason) string {
	sum := sha256.Sum256([]byte(sourceKind + "\x00" + sourceID + "\x00" + string(reason)))
	return "rf-" + hex.EncodeToString(sum[:12])
}

// flagSeverity reads a stored flag's severity (moderate when not stored).
func flagSeverity(f journal.RiskFlag) screening.Severity {
	if s, ok := screening.ParseSeverity(f.Severity); ok {
		return s
	}
	return screening.SeverityModerate
}

// raiseFlag raises the flag of one signal, unless an open flag of the same
// client and reason, raised within the last 24 hours and at least as
// severe, already says it (a care team hears of a crisis once a day, but a
// graver one is never held back by a milder one). An imminent flag is
// ESCALATED at once, with its escalation event.
//
// Two replicas handling two different records of the same client at once
// may both raise: the flags are then two, never none (the suppression is
// for the care team's attention, not for safety).
func (j *Journal) raiseFlag(ctx context.Context, clientID, correlationID, sourceKind, sourceID string, s flagSignal) error {
	now := storedNow(j.clk)
	id := flagID(sourceKind, sourceID, s.reason)
	open, err := j.st.Flags.Find(ctx, bson.D{
		{Key: "client_id", Value: clientID},
		{Key: "reason", Value: string(s.reason)},
		{Key: "status", Value: bson.D{{Key: "$in", Value: []string{journal.FlagRaised, journal.FlagEscalated, journal.FlagAcknowledged}}}},
		{Key: "raise_time", Value: bson.D{{Key: "$gt", Value: now.Add(-24 * time.Hour)}}},
	}, options.Find().SetLimit(maxFlagsPerDay))
	if err != nil {
		return err
	}
	for _, f := range open {
		if f.ID == id || flagSeverity(f) >= s.severity {
			return nil
		}
	}
	flag := journal.RiskFlag{
		ID: id, ClientID: clientID, Reason: string(s.reason), Category: string(s.category), Severity: s.severity.String(),
		Status: journal.FlagRaised, SourceKind: sourceKind, SourceID: sourceID, RaiseTime: now,
	}
	if s.severity >= screening.SeverityImminent {
		flag.Status, flag.EscalateTime = journal.FlagEscalated, &now
	} else {
		at := now.Add(j.escalateAfter)
		flag.EscalateAt = &at
	}
	raised, err := newEvent("journal.risk.flag_raised", clientID, correlationID, now, "", "", &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_RiskFlagRaised{RiskFlagRaised: &eventsv1.RiskFlagRaised{
			FlagId: id, Reason: flagReasons[flag.Reason], SourceKind: sourceKind, SourceId: sourceID,
			Category: CategoryProto(flag.Category), Severity: SeverityProto(flag.Severity),
		}},
	})
	if err != nil {
		return err
	}
	evs := []outbox.Message{raised}
	if flag.Status == journal.FlagEscalated {
		esc, err := j.flagEvent(escalationActor, correlationID, flag, now)
		if err != nil {
			return err
		}
		evs = append(evs, esc...)
	}
	if j.beforeFlagWrite != nil {
		if err := j.beforeFlagWrite(id); err != nil {
			return err
		}
	}
	err = j.st.Flags.Create(ctx, id, flag, evs...)
	if errors.Is(err, docstore.ErrExists) {
		return nil // raised by an earlier delivery of the same event
	}
	return err
}

// escalationActor is the actor of an escalation the system made.
const escalationActor = "escalation"

// maxFlagsPerDay bounds the open flags of one client and reason read per
// signal.
const maxFlagsPerDay = 100
