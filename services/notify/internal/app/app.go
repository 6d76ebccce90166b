// Package app holds the notify use cases: turning events into exactly one
// notification per (event, recipient, kind), holding non-urgent ones through
// quiet hours and the daily cap, the inbox, the live feed, preferences and
// the daily reminders.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/localtime"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// Caller is who is calling (platform/auth).
type Caller = auth.Caller

// CallerFrom reads the verified identity of the call.
func CallerFrom(ctx context.Context) (Caller, error) { return auth.CallerFrom(ctx) }

// Notify is the notify use cases.
type Notify struct {
	notes *mongo.Collection
	prefs *mongo.Collection
	// caps holds the daily cap's counters (DailyCapsCollection).
	caps *mongo.Collection
	view *careview.View
	// care answers the care team's access on every counsellor read (nil:
	// the projection answers; see WithCareAuthority).
	care CareAuthority
	nc   *nats.Conn
	clk  clock.Clock
	log  *slog.Logger
	// stopping closes when the service starts shutting down: live feeds end
	// then, so the graceful stop does not wait for them.
	stopping <-chan struct{}
	// hooks sends to users' webhooks (nil: off).
	hooks *Webhooks
	// observe watches the timed work and webhook attempts (metrics).
	observe Observers
	// access records attempts by others on a user's routes (nil: off).
	access *docstore.Store[AccessRecord]
	// prefStore writes preferences documents under a version check
	// (reads go through preferences).
	prefStore *docstore.Store[inbox.Preferences]
	// race lets tests force the interleavings that FerretDB's one command
	// at a time never shows (export_test.go).
	race raceHooks
	// beforeReleaseWebhooks runs between a release and its webhooks (tests).
	beforeReleaseWebhooks func(noteID string) error
	// erasure is notify's part of erasures (erasure.go); nil: off.
	erasure *erasure.Part
}

// raceHooks run, when set, between a read and the write that depends on
// it, so a test can have another replica act exactly there.
type raceHooks struct {
	// prefsWrite: a user's preferences were read and are about to be written.
	prefsWrite func(userID string)
	// capCounted: the daily cap was checked for a notification that is not
	// stored yet.
	capCounted func(userID string)
	// webhookCounted: the webhook limit was checked for a webhook that is
	// not stored yet.
	webhookCounted func(userID string)
	// secretRead: a webhook's secret was read for a rotation that is not
	// written yet.
	secretRead func(webhookID string)
	// webhookDisabling: a failure was recorded and the webhook is about to
	// be disabled.
	webhookDisabling func(webhookID string)
}

func (h raceHooks) run(f func(string), userID string) {
	if f != nil {
		f(userID)
	}
}

// Observers watch notify's timed work and webhook deliveries, e.g. for
// metrics. Every hook may be nil; each must be cheap and must not block.
type Observers struct {
	// ReleaseLag is called for each held notification released (quiet
	// hours, daily cap), with how late: the clock's now when it was
	// released minus the moment it fell due (its deliver_at).
	ReleaseLag func(lag time.Duration)
	// ReleaseRan is called with the pass's now after each ReleaseDue that
	// completed without error.
	ReleaseRan func(now time.Time)
	// ReminderLag is called for each daily reminder or prompt of the day
	// sent, with how late: the clock's now when it was stored minus the
	// moment it fell due (the chosen local time on the current local day;
	// days missed during downtime are not made up, so they are not lag).
	ReminderLag func(lag time.Duration)
	// ReminderRan is called with the pass's now after each SendReminders
	// that completed without error.
	ReminderRan func(now time.Time)
	// WebhookAttempt is called once per webhook delivery attempt with its
	// outcome (WebhookDelivered, WebhookRetry, WebhookRefused or
	// WebhookFailed) and how long the POST took. It may be called from
	// several goroutines at once. An attempt whose result came too late to
	// be recorded (another replica had taken the delivery over) is not
	// reported, so each delivery still ends in one delivered or failed.
	WebhookAttempt func(outcome string, elapsed time.Duration)
}

// WithObservers sets the hooks that watch the timed work and webhook
// deliveries; call it before the work starts.
func (n *Notify) WithObservers(o Observers) *Notify {
	n.observe = o
	return n
}

// New builds the use cases. nc carries the live-feed signals between
// replicas (core NATS: a signal lost is re-read from the database).
// stopping closes at shutdown (nil: never).
func New(notes, prefs *mongo.Collection, view *careview.View, nc *nats.Conn, clk clock.Clock, log *slog.Logger, stopping <-chan struct{}) *Notify {
	return &Notify{notes: notes, prefs: prefs, view: view, nc: nc, clk: clk, log: log, stopping: stopping,
		caps: notes.Database().Collection(DailyCapsCollection), prefStore: docstore.New[inbox.Preferences](prefs, nil)}
}

func (n *Notify) now() time.Time { return n.clk.Now().UTC().Truncate(time.Millisecond) }

// LiveSubject is the core NATS subject that announces a user's new
// notifications to every replica holding a live feed for them. The id is
// hashed: subjects carry no raw user ids and no wildcards.
func LiveSubject(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return "notify.live." + hex.EncodeToString(sum[:16])
}

// recipient is one notification to make for an event.
type recipient struct {
	userID   string
	audience message.Audience
	kind     message.Kind
	urgent   bool
	data     message.Data
	tz       string // for a client without preferences: the event's zone
}

// Handle turns one event into its notifications. It is idempotent: every
// notification has the id of (event, recipient, kind). seq is the event's
// stream sequence (for the care projection).
func (n *Notify) Handle(ctx context.Context, env *eventsv1.Envelope, seq int64) error {
	if err := careview.Apply(ctx, n.view, env, seq); err != nil {
		return err
	}
	recipients, err := n.route(ctx, env)
	if err != nil {
		return err
	}
	for _, r := range recipients {
		if err := n.notify(ctx, env, r); err != nil {
			return err
		}
	}
	return nil
}

// route decides who hears about an event, as what.
func (n *Notify) route(ctx context.Context, env *eventsv1.Envelope) ([]recipient, error) {
	client := env.GetClientId()
	label := client
	var out []recipient
	forClient := func(kind message.Kind, d message.Data) {
		out = append(out, recipient{userID: client, audience: message.Client, kind: kind, data: d, tz: env.GetTimeZone()})
	}
	forCounsellors := func(scope string, kind message.Kind, urgent bool, d message.Data) error {
		ids, err := n.view.Counsellors(ctx, client, scope)
		if err != nil {
			return err
		}
		d.ClientLabel = label
		for _, id := range ids {
			out = append(out, recipient{userID: id, audience: message.Counsellor, kind: kind, urgent: urgent, data: d})
		}
		return nil
	}
	var err error
	switch p := env.GetPayload().(type) {
	case *eventsv1.Envelope_MilestoneReached:
		d := message.Data{MilestoneDay: int(p.MilestoneReached.GetDay()), TargetDays: int(p.MilestoneReached.GetTargetDays())}
		forClient(message.MilestoneReached, d)
		err = forCounsellors(careview.ScopePlanProgress, message.MilestoneReached, false, d)
	case *eventsv1.Envelope_PlanStatusChanged:
		if p.PlanStatusChanged.GetTo() == plansv1.PlanStatus_PLAN_STATUS_COMPLETED {
			d := message.Data{TargetDays: int(p.PlanStatusChanged.GetTargetDays()), StreakDays: int(p.PlanStatusChanged.GetCurrentStreakDays())}
			forClient(message.PlanCompleted, d)
			err = forCounsellors(careview.ScopePlanProgress, message.PlanCompleted, false, d)
		}
	case *eventsv1.Envelope_ContactRecorded:
		c := p.ContactRecorded
		switch {
		case c.GetEndedAttempt():
			forClient(message.SlipRecorded, message.Data{})
			err = forCounsellors(careview.ScopePlanProgress, message.SlipRecorded, false, message.Data{})
		case c.GetClassification() == plansv1.Classification_INBOUND_HANDLED:
			forClient(message.ExContacted, message.Data{})
		}
	case *eventsv1.Envelope_HardDateUpcoming:
		// The client's alone: a hard date is theirs to name, and the
		// care team sees it in the plan, not as an alert. Not urgent, so
		// quiet hours and the daily cap apply.
		forClient(message.HardDateAhead, message.Data{})
	case *eventsv1.Envelope_CareAssignmentChanged:
		a := p.CareAssignmentChanged
		d := message.Data{AssignmentStatus: careStatus(a.GetStatus()), ClientLabel: label}
		forClient(message.CareAssignmentChanged, d)
		out = append(out, recipient{userID: a.GetCounsellorId(), audience: message.Counsellor, kind: message.CareAssignmentChanged, data: d})
	case *eventsv1.Envelope_ConsentChanged:
		c := p.ConsentChanged
		err = forCounsellors("", message.ConsentChanged, false, message.Data{Granted: c.GetGranted(), Scope: c.GetScope().String()})
	case *eventsv1.Envelope_UrgeLogged:
		if u := p.UrgeLogged; events.HighUrge(int(u.GetIntensity())) {
			err = forCounsellors(careview.ScopeMoodInsights, message.HighUrge, false, message.Data{UrgeIntensity: int(u.GetIntensity())})
		}
	case *eventsv1.Envelope_RiskFlagRaised:
		err = forCounsellors(careview.ScopeRiskAlerts, message.RiskFlagRaised, true, message.Data{Severity: severityName(p.RiskFlagRaised.GetSeverity())})
	case *eventsv1.Envelope_RiskFlagUpdated:
		if u := p.RiskFlagUpdated; u.GetStatus() == journalv1.RiskFlagStatus_RISK_FLAG_STATUS_ESCALATED {
			err = forCounsellors(careview.ScopeRiskAlerts, message.RiskFlagEscalated, true, message.Data{Severity: severityName(u.GetSeverity())})
		}
	}
	return out, err
}

// severityName is a risk flag's severity in the words of the counsellor's
// notification ("" when the event did not say).
func severityName(s journalv1.RiskSeverity) string {
	switch s {
	case journalv1.RiskSeverity_RISK_SEVERITY_LOW:
		return "low"
	case journalv1.RiskSeverity_RISK_SEVERITY_MODERATE:
		return "moderate"
	case journalv1.RiskSeverity_RISK_SEVERITY_HIGH:
		return "high"
	case journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT:
		return message.SeverityImminent
	}
	return ""
}

func careStatus(s plansv1.CareAssignmentStatus) string {
	switch s {
	case plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE:
		return "active"
	case plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_PENDING:
		return "pending"
	case plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ENDED:
		return "ended"
	}
	return ""
}

// notify stores one notification (once) and announces it when it is due.
func (n *Notify) notify(ctx context.Context, env *eventsv1.Envelope, r recipient) error {
	prefs, err := n.preferences(ctx, r.userID, r.tz)
	if err != nil {
		return err
	}
	now := n.now()
	id := inbox.ID(env.GetEventId(), r.userID, r.kind)
	title, body := message.Compose(r.kind, r.audience, prefs.Discreet, r.data)
	at := inbox.DeliverAt(prefs, r.urgent, now, 0)
	if prefs.DailyCap > 0 && !r.urgent {
		if at, err = n.capDay(ctx, prefs, id, at); err != nil {
			return err
		}
	}
	n.race.run(n.race.capCounted, r.userID)
	note := inbox.Notification{
		ID: id, UserID: r.userID, Kind: r.kind, Title: title, Body: body,
		Urgent: r.urgent, ClientID: env.GetClientId(), MilestoneDay: r.data.MilestoneDay, EventID: env.GetEventId(),
		CreateTime: now, DeliverAt: at, Delivered: !at.After(now), DeliverDate: localtime.LocalDate(at, prefs.Location()),
	}
	switch p := env.GetPayload().(type) {
	case *eventsv1.Envelope_MilestoneReached:
		note.PlanID = p.MilestoneReached.GetPlanId()
	case *eventsv1.Envelope_PlanStatusChanged:
		note.PlanID = p.PlanStatusChanged.GetPlanId()
	case *eventsv1.Envelope_ContactRecorded:
		note.PlanID = p.ContactRecorded.GetPlanId()
	case *eventsv1.Envelope_HardDateUpcoming:
		note.PlanID = p.HardDateUpcoming.GetPlanId()
	case *eventsv1.Envelope_RiskFlagRaised:
		note.RiskFlagID = p.RiskFlagRaised.GetFlagId()
	case *eventsv1.Envelope_RiskFlagUpdated:
		note.RiskFlagID = p.RiskFlagUpdated.GetFlagId()
	}
	created, err := n.insert(ctx, note)
	if err != nil {
		return err
	}
	if !note.Delivered {
		return nil
	}
	if created {
		n.announce(note.UserID, note.ID)
	}
	// Enqueueing is idempotent, so a redelivered event that failed here
	// before finishes the job.
	return n.enqueue(ctx, note)
}

type stored struct {
	ID                 string `bson:"_id"`
	inbox.Notification `bson:",inline"`
}

// insert stores a notification under its id and reports whether it is new;
// an existing one (a redelivered event, another replica) is the exactly-once
// rule at work, not an error.
func (n *Notify) insert(ctx context.Context, note inbox.Notification) (bool, error) {
	if note.Delivered && note.DeliveredAt == nil {
		at := n.now()
		note.DeliveredAt = &at
	}
	_, err := n.notes.InsertOne(ctx, stored{ID: note.ID, Notification: note})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store notification: %w", err)
	}
	return true, nil
}

// DailyCapsCollection holds the daily cap's counters: one document per
// (user, local day), counting the non-urgent notifications that day holds
// (the user's own reminders aside), with their ids.
const DailyCapsCollection = "daily_caps"

// capDayHorizon bounds the days capDay looks ahead for room.
const capDayHorizon = 366

// capDay takes a place for notification id under the user's daily cap on
// the local day of at (when it would be delivered, after quiet hours), or
// else on the first later day with room, and answers when it is delivered.
// The place is taken by one conditional update of the day's counter
// ($inc only while below the cap and only once per id), so the cap holds
// whatever replicas take places at once; the counter's first place is an
// insert, and a duplicate means another replica made it first. A
// redelivered event keeps the place it took (its id is in the counter) or
// the time its stored notification has.
func (n *Notify) capDay(ctx context.Context, p inbox.Preferences, id string, at time.Time) (time.Time, error) {
	var s stored
	switch err := n.notes.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&s); {
	case err == nil:
		return s.DeliverAt, nil
	case !errors.Is(err, mongo.ErrNoDocuments):
		return time.Time{}, fmt.Errorf("load notification: %w", err)
	}
	loc := p.Location()
	placed := "ids." + id
	for range capDayHorizon {
		day := localtime.LocalDate(at, loc)
		key := p.UserID + "/" + day // the date is the fixed-length end
		res, err := n.caps.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: key}, {Key: "count", Value: bson.D{{Key: "$lt", Value: p.DailyCap}}}, {Key: placed, Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: 1}}}, {Key: "$set", Value: bson.D{{Key: placed, Value: true}}}})
		if err != nil {
			return time.Time{}, fmt.Errorf("count toward the daily cap: %w", err)
		}
		if res.MatchedCount == 1 {
			return at, nil
		}
		var c struct {
			Count int             `bson:"count"`
			IDs   map[string]bool `bson:"ids"`
		}
		switch err := n.caps.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&c); {
		case errors.Is(err, mongo.ErrNoDocuments):
			_, err := n.caps.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "user_id", Value: p.UserID}, {Key: "date", Value: day},
				{Key: "count", Value: 1}, {Key: "ids", Value: bson.D{{Key: id, Value: true}}}})
			if err == nil {
				return at, nil
			}
			if !mongo.IsDuplicateKeyError(err) {
				return time.Time{}, fmt.Errorf("count toward the daily cap: %w", err)
			}
			continue // another replica made the day's counter: try it
		case err != nil:
			return time.Time{}, fmt.Errorf("count toward the daily cap: %w", err)
		}
		switch {
		case c.IDs[id]:
			return at, nil // placed there before (a redelivered event)
		case c.Count < p.DailyCap:
			continue // changed between the update and the read: try again
		}
		// The day is full: the next one, from its start (after quiet hours).
		at = inbox.DeliverAt(p, false, localtime.StartOfNextDay(at, loc), 0)
	}
	n.log.Warn("no room under the daily cap within a year; delivering then", "days", capDayHorizon)
	return at, nil
}

// announce tells every replica's live feeds that a notification is there.
// Losing the signal loses nothing: the feed re-reads from the database on
// reconnect.
func (n *Notify) announce(userID, id string) {
	if n.nc == nil {
		return
	}
	if err := n.nc.Publish(LiveSubject(userID), []byte(id)); err != nil {
		n.log.Warn("live feed signal not sent", "error", err)
	}
}

// webhooksDue marks a released notification whose webhook deliveries may
// not be enqueued yet: the release sets it in the same write that flips
// delivered, and clears it once the deliveries are stored, so a failure in
// between is finished by the next pass.
const webhooksDue = "webhooks_due"

// ReleaseDue delivers held notifications whose time has come (after quiet
// hours or the cap's day). Each is flipped once, by whichever replica gets
// there first, and its webhook deliveries are enqueued after the flip (a
// receiver that reads the notification back finds it delivered) as a step
// that a later pass retries until it is done.
func (n *Notify) ReleaseDue(ctx context.Context) (int, error) {
	now := n.now()
	if err := n.enqueueReleased(ctx); err != nil {
		return 0, err
	}
	// Each release is its own claim: one findOneAndUpdate takes the longest
	// held notification that is due and flips it, so replicas share the
	// work (each takes a different one) and a pass goes on until nothing
	// due is left, however many fell due at once.
	released := 0
	for ctx.Err() == nil {
		var s stored
		err := n.notes.FindOneAndUpdate(ctx, bson.D{{Key: "delivered", Value: false}, {Key: "deliver_at", Value: bson.D{{Key: "$lte", Value: now}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "delivered", Value: true}, {Key: "delivered_at", Value: n.now()}, {Key: webhooksDue, Value: true}}}},
			options.FindOneAndUpdate().SetSort(bson.D{{Key: "deliver_at", Value: 1}})).Decode(&s)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return released, fmt.Errorf("release notification: %w", err)
		}
		released++
		if n.observe.ReleaseLag != nil {
			n.observe.ReleaseLag(n.now().Sub(s.DeliverAt))
		}
		n.announce(s.UserID, s.ID)
		if err := n.releaseWebhooks(ctx, s); err != nil {
			return released, err
		}
	}
	if err := ctx.Err(); err != nil {
		return released, err
	}
	if n.observe.ReleaseRan != nil {
		n.observe.ReleaseRan(now)
	}
	return released, nil
}

// enqueueReleased finishes the webhook step of notifications released by
// an earlier pass that failed before it was done.
func (n *Notify) enqueueReleased(ctx context.Context) error {
	cur, err := n.notes.Find(ctx, bson.D{{Key: webhooksDue, Value: true}}, options.Find().SetLimit(500))
	if err != nil {
		return fmt.Errorf("find released notifications without their webhooks: %w", err)
	}
	var left []stored
	if err := cur.All(ctx, &left); err != nil {
		return err
	}
	for _, s := range left {
		if err := n.releaseWebhooks(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// releaseWebhooks enqueues a released notification's webhook deliveries
// (idempotent: their ids are the pair's) and then clears its mark.
func (n *Notify) releaseWebhooks(ctx context.Context, s stored) error {
	if n.beforeReleaseWebhooks != nil {
		if err := n.beforeReleaseWebhooks(s.ID); err != nil {
			return err
		}
	}
	if err := n.enqueue(ctx, s.Notification); err != nil {
		return err
	}
	if _, err := n.notes.UpdateOne(ctx, bson.D{{Key: "_id", Value: s.ID}}, bson.D{{Key: "$unset", Value: bson.D{{Key: webhooksDue, Value: ""}}}}); err != nil {
		return fmt.Errorf("mark webhooks enqueued: %w", err)
	}
	return nil
}

// preferences loads a user's preferences, or the defaults.
func (n *Notify) preferences(ctx context.Context, userID, tz string) (inbox.Preferences, error) {
	var p inbox.Preferences
	err := n.prefs.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return inbox.Defaults(userID, tz), nil
	}
	if err != nil {
		return inbox.Preferences{}, fmt.Errorf("load preferences: %w", err)
	}
	return p, nil
}

// changePreferences applies fn to a user's stored preferences (the
// defaults in zone tz when there are none) and writes them if nobody wrote
// in between; otherwise it reads again and re-applies fn, so concurrent
// changes of different fields (UpdatePreferences, CreateWebhook, the
// reminder job on another replica) all survive. The first write is an
// insert: when another writer inserted first, it updates theirs. fn may run
// more than once; an error from fn is returned as is, nothing written.
func (n *Notify) changePreferencesNow(ctx context.Context, userID, tz string, fn func(*inbox.Preferences) error) (inbox.Preferences, error) {
	apply := func(p *inbox.Preferences) error {
		if err := fn(p); err != nil {
			return err
		}
		p.UserID = userID
		n.race.run(n.race.prefsWrite, userID)
		return nil
	}
	versioned := false
	for range maxPreferenceAttempts {
		p, err := n.prefStore.Update(ctx, userID, func(p *inbox.Preferences) ([]outbox.Message, error) { return nil, apply(p) })
		if k, _ := apperr.KindOf(err); k == apperr.KindAborted && !versioned {
			// Perhaps a document without a version (replaced by a replica
			// of the previous release during a rolling update), which no
			// version check matches: give it one and try again.
			if err := versionPreferences(ctx, n.prefs, bson.E{Key: "_id", Value: userID}); err != nil {
				return inbox.Preferences{}, err
			}
			versioned = true
			continue
		}
		if !errors.Is(err, docstore.ErrNotFound) {
			return p, err
		}
		p = inbox.Defaults(userID, tz)
		if err := apply(&p); err != nil {
			return inbox.Preferences{}, err
		}
		switch err := n.prefStore.Create(ctx, userID, p); {
		case err == nil:
			return p, nil
		case !errors.Is(err, docstore.ErrExists):
			return inbox.Preferences{}, fmt.Errorf("save preferences: %w", err)
		}
	}
	return inbox.Preferences{}, apperr.Aborted("the preferences changed while they were being saved, please retry")
}

// maxPreferenceAttempts bounds changePreferences' insert-or-update rounds
// (docstore.Update retries version conflicts on its own).
const maxPreferenceAttempts = 5

// VersionPreferences gives preferences stored before they had a version
// their first one, so that version-checked writes match them. Idempotent;
// the service runs it at start-up.
func VersionPreferences(ctx context.Context, prefs *mongo.Collection) error {
	return versionPreferences(ctx, prefs)
}

func versionPreferences(ctx context.Context, prefs *mongo.Collection, filter ...bson.E) error {
	f := append(bson.D{{Key: outbox.FieldVersion, Value: bson.D{{Key: "$exists", Value: false}}}}, filter...)
	if _, err := prefs.UpdateMany(ctx, f, bson.D{{Key: "$set", Value: bson.D{{Key: outbox.FieldVersion, Value: int64(1)}}}}); err != nil {
		return fmt.Errorf("version preferences: %w", err)
	}
	return nil
}
