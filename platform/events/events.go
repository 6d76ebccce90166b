// Package events packs and unpacks the suite's event envelopes
// (proto/nocontact/events/v1) as outbox messages and JetStream payloads.
package events

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
)

// Meta is the envelope's common context.
type Meta struct {
	// ID is the event id; empty makes a fresh one. Give a deterministic id
	// to an event that two replicas might both produce.
	ID            string
	Subject       string
	Producer      string
	ClientID      string
	CorrelationID string
	OccurredAt    time.Time
	TimeZone      string
	LocalDate     string
}

// New fills env's common fields from m and packs it as an outbox message.
func New(m Meta, env *eventsv1.Envelope) (outbox.Message, error) {
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	env.EventId = m.ID
	env.Type = m.Subject
	env.OccurredAt = timestamppb.New(m.OccurredAt)
	env.ClientId = m.ClientID
	env.CorrelationId = m.CorrelationID
	env.Producer = m.Producer
	env.TimeZone = m.TimeZone
	env.LocalDate = m.LocalDate
	data, err := proto.Marshal(env)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("marshal %s event: %w", m.Subject, err)
	}
	return outbox.Message{ID: m.ID, Subject: m.Subject, Data: data, CreateTime: m.OccurredAt}, nil
}

// Decode unpacks a JetStream payload. A payload that does not decode, or
// has no event id, is a permanent failure for a consumer.
func Decode(data []byte) (*eventsv1.Envelope, error) {
	env := &eventsv1.Envelope{}
	if err := proto.Unmarshal(data, env); err != nil {
		return nil, fmt.Errorf("decode event envelope: %w", err)
	}
	if env.GetEventId() == "" || env.GetType() == "" {
		return nil, fmt.Errorf("event envelope without id or type")
	}
	return env, nil
}

// Handler adapts fn to a JetStream consumer handler: it decodes the
// envelope and passes it with the message's stream sequence (which orders
// events for projections). A message that does not decode is a permanent
// failure: dead-lettered, and consumption goes on.
func Handler(fn func(ctx context.Context, env *eventsv1.Envelope, seq int64) error) natsx.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		env, err := Decode(msg.Data())
		if err != nil {
			return natsx.Permanent(err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return natsx.Permanent(fmt.Errorf("message metadata: %w", err))
		}
		return fn(ctx, env, int64(meta.Sequence.Stream))
	}
}

// HighUrgeIntensity is the lowest urge intensity (UrgeLogged.intensity,
// 0..10) that counts as high, for every service: the journal answers it
// with crisis resources and raises a HIGH_URGE risk flag, and notify tells
// the care team of a strong urge. It lives here, beside the events that
// carry the intensity, so producer and consumer cannot drift apart (see
// docs/decisions.md, 2026-12-03: why 9 and not 8).
const HighUrgeIntensity = 9

// HighUrge reports whether an urge of this intensity counts as high.
func HighUrge(intensity int) bool { return intensity >= HighUrgeIntensity }
