package app

import (
	"time"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/outbox"
)

// producer names this service in every event envelope.
const producer = "plans"

// localTime is the client's local calendar context of an event, when known.
type localTime struct {
	TimeZone  string
	LocalDate string
}

// newEvent packs an event under a fresh id.
func newEvent(subject, clientID, correlationID string, occurred time.Time, local *localTime, env *eventsv1.Envelope) (outbox.Message, error) {
	return newEventWithID("", subject, clientID, correlationID, occurred, local, env)
}

// newEventWithID packs an event under a given id: deterministic ids make an
// event that two replicas might both produce (a milestone) collapse into one.
func newEventWithID(id, subject, clientID, correlationID string, occurred time.Time, local *localTime, env *eventsv1.Envelope) (outbox.Message, error) {
	m := events.Meta{ID: id, Subject: subject, Producer: producer, ClientID: clientID, CorrelationID: correlationID, OccurredAt: occurred}
	if local != nil {
		m.TimeZone, m.LocalDate = local.TimeZone, local.LocalDate
	}
	return events.New(m, env)
}

// one wraps a single event for an update function.
func one(m outbox.Message, err error) ([]outbox.Message, error) {
	if err != nil {
		return nil, err
	}
	return []outbox.Message{m}, nil
}
