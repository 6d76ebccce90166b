// Package events consumes the journal events the plans service acts on: an
// urge resolved as CONTACTED becomes an outbound contact (a slip) on the
// client's plan, and the journal's access records join the client's one
// access log, as do notify's.
package events

import (
	"context"
	"strings"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
)

// JournalSpec is the durable consumer of the journal events.
var JournalSpec = natsx.ConsumerSpec{
	Stream:         "JOURNAL",
	Durable:        "plans-journal",
	FilterSubjects: []string{"journal.urge.resolved", "journal.access.recorded"},
}

// JournalHandler applies journal events. Both effects are idempotent on the
// event id. An event the plan refuses (e.g. before the plan started) can
// never succeed: it is dead-lettered instead of retried.
func JournalHandler(plans *app.Plans, access *app.Access) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		switch p := env.GetPayload().(type) {
		case *eventsv1.Envelope_UrgeResolved:
			u := p.UrgeResolved
			if u.GetOutcome() != journalv1.UrgeOutcome_CONTACTED {
				return nil
			}
			err := plans.RecordUrgeContact(ctx, env.GetClientId(), env.GetEventId(), u.GetResolveTime().AsTime())
			if k, ok := apperr.KindOf(err); ok && (k == apperr.KindInvalidArgument || k == apperr.KindFailedPrecondition || k == apperr.KindNotFound) {
				return natsx.Permanent(err)
			}
			return err
		case *eventsv1.Envelope_AccessRecorded:
			return appendAccess(ctx, access, "journal/", env, p.AccessRecorded)
		}
		return nil
	})
}

// NotifySpec is the durable consumer of notify's access records: attempts by
// others on a user's notification routes (preferences, webhooks, someone
// else's notification).
var NotifySpec = natsx.ConsumerSpec{
	Stream:         "NOTIFY",
	Durable:        "plans-notify",
	FilterSubjects: []string{"notify.access.recorded"},
}

// NotifyHandler adds notify's access records to the user's access log,
// idempotent on the event id.
func NotifyHandler(access *app.Access) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		if p, ok := env.GetPayload().(*eventsv1.Envelope_AccessRecorded); ok {
			return appendAccess(ctx, access, "notify/", env, p.AccessRecorded)
		}
		return nil
	})
}

// appendAccess adds another service's access record to the client's log,
// its resource under that service's prefix, keyed by the event id (a
// redelivery adds nothing).
func appendAccess(ctx context.Context, access *app.Access, prefix string, env *eventsv1.Envelope, a *eventsv1.AccessRecorded) error {
	outcome := care.OutcomeDenied
	if a.GetAllowed() {
		outcome = care.OutcomeAllowed
	}
	return access.Append(ctx, care.AccessEntry{
		ID: env.GetEventId(), ActorID: a.GetActorId(), ActorRole: auth.Role(a.GetActorRole()), ClientID: env.GetClientId(),
		Resource: prefix + strings.TrimPrefix(a.GetResource(), "/"), Action: a.GetAction(), Outcome: outcome,
		Time: env.GetOccurredAt().AsTime(), RequestID: a.GetRequestId(),
	})
}
