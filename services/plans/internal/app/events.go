package app

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/outbox"
)

// producer names this service in every event envelope.
const producer = "plans"

// localTime is the client's local calendar context of an event, when known.
type localTime struct {
	TimeZone  string
	LocalDate string
}

// newEvent fills the envelope's common fields and packs it as an outbox
// message under a fresh event id.
func newEvent(subject, clientID, correlationID string, occurred time.Time, local *localTime, env *eventsv1.Envelope) (outbox.Message, error) {
	return newEventWithID(uuid.NewString(), subject, clientID, correlationID, occurred, local, env)
}

// newEventWithID is newEvent under a given id: deterministic ids make an
// event that two replicas might both produce (a milestone) collapse into one.
func newEventWithID(id, subject, clientID, correlationID string, occurred time.Time, local *localTime, env *eventsv1.Envelope) (outbox.Message, error) {
	env.EventId = id
	env.Type = subject
	env.OccurredAt = timestamppb.New(occurred)
	env.ClientId = clientID
	env.CorrelationId = correlationID
	env.Producer = producer
	if local != nil {
		env.TimeZone = local.TimeZone
		env.LocalDate = local.LocalDate
	}
	data, err := proto.Marshal(env)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("marshal %s event: %w", subject, err)
	}
	return outbox.Message{ID: id, Subject: subject, Data: data, CreateTime: occurred}, nil
}

// one wraps a single event for an update function.
func one(m outbox.Message, err error) ([]outbox.Message, error) {
	if err != nil {
		return nil, err
	}
	return []outbox.Message{m}, nil
}
