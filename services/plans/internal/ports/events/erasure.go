package events

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/erasure"
)

// ErasureSpec is the plans service's own consumer of erasure requests: it
// erases the client's plans data, then confirms. Durable, so a request made
// while every plans replica was down is erased when one comes back.
var ErasureSpec = natsx.ConsumerSpec{
	Stream:         "PLANS",
	Durable:        "plans-erasure",
	FilterSubjects: []string{app.SubjectErasureRequested},
}

// ErasureHandler erases the client's data here (idempotent).
func ErasureHandler(e *app.Erasure) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		if _, ok := env.GetPayload().(*eventsv1.Envelope_ErasureRequested); !ok || env.GetClientId() == "" {
			return nil
		}
		return e.EraseHere(ctx, env.GetClientId())
	})
}

// JournalConfirmSpec and NotifyConfirmSpec read the other services'
// confirmations.
var (
	JournalConfirmSpec = natsx.ConsumerSpec{
		Stream:         "JOURNAL",
		Durable:        "plans-erasure-journal",
		FilterSubjects: []string{"journal.erasure.confirmed"},
	}
	NotifyConfirmSpec = natsx.ConsumerSpec{
		Stream:         "NOTIFY",
		Durable:        "plans-erasure-notify",
		FilterSubjects: []string{"notify.erasure.confirmed"},
	}
)

// ConfirmHandler records the confirmations of service (the stream's owner:
// a confirmation names the service it came from, and only that one is
// believed). A redelivery records nothing new.
func ConfirmHandler(e *app.Erasure, service string) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		p, ok := env.GetPayload().(*eventsv1.Envelope_ErasureConfirmed)
		if !ok || p.ErasureConfirmed.GetService() != service || !erasure.Known(service) {
			return nil
		}
		return e.Confirm(ctx, env.GetClientId(), service, p.ErasureConfirmed.GetConfirmTime().AsTime())
	})
}

// DropErased wraps the journal-events handler: an urge of an erased client
// (a redelivery, a replay, a journal catching up) is acked and dropped
// instead of being turned into a contact on a plan that is gone. The
// journal's access records still join the access log: they hold no health
// data and are the record of who touched the data.
func DropErased(e *app.Erasure, next natsx.Handler) natsx.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		env, err := events.Decode(msg.Data())
		if err != nil {
			return next(ctx, msg) // next dead-letters it
		}
		if _, ok := env.GetPayload().(*eventsv1.Envelope_UrgeResolved); ok {
			erased, err := e.Erased(ctx, env.GetClientId())
			if err != nil {
				return err
			}
			if erased {
				return nil
			}
		}
		return next(ctx, msg)
	}
}
