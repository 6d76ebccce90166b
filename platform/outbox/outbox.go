// Package outbox makes event publishing as reliable as the state change that
// causes it, without multi-document transactions (FerretDB has none).
//
// An aggregate document that emits events carries three fields, written by
// the same single-document write that changes its state (docs/decisions.md,
// "Outbox format"):
//
//   - version (int64): optimistic concurrency; every write filters on the
//     version it read and increments it;
//   - outbox (map event id → Message): events not yet published;
//   - outbox_pending (bool): true while outbox is not empty; indexed, polled
//     by the Relay.
//
// The Relay publishes pending messages to JetStream with Nats-Msg-Id = event
// id and then clears them under a version check. A crash anywhere loses
// nothing: at worst a message is published twice, and JetStream's duplicate
// window plus idempotent consumers drop the repeat.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/tracing"
)

// Field names of the outbox in an aggregate document.
const (
	FieldVersion = "version"
	FieldOutbox  = "outbox"
	FieldPending = "outbox_pending"
)

// HeaderEventID carries the event id on every published message, in addition
// to Nats-Msg-Id, so consumers can read it without depending on a JetStream
// internal header.
const HeaderEventID = "Nocontact-Event-Id"

// Message is one event waiting in a document's outbox.
type Message struct {
	// ID is the event id: unique, deterministic where the effect is, and
	// free of "." and "$" (it is a map key in the document).
	ID string `bson:"id"`
	// Seq orders the messages of one document; lower is published first.
	Seq int64 `bson:"seq"`
	// Subject to publish on, e.g. "plans.milestone.reached".
	Subject string `bson:"subject"`
	// Data is the serialized event (protobuf).
	Data []byte `bson:"data"`
	// CreateTime is when the event was recorded, from the caller's clock.
	CreateTime time.Time `bson:"create_time"`
	// Trace is the W3C trace context of the call that recorded the event
	// (see Traced), so that its publish and its consumers join that trace
	// even though the relay publishes later, maybe from another replica.
	Trace map[string]string `bson:"trace,omitempty"`
}

// Traced stamps msgs that have no trace context yet with ctx's, in place,
// and returns them. The writer of an outbox calls it with the context of
// the call that caused the events.
func Traced(ctx context.Context, msgs []Message) []Message {
	tc := tracing.Inject(ctx)
	if tc == nil {
		return msgs
	}
	for i := range msgs {
		if msgs[i].Trace == nil {
			msgs[i].Trace = tc
		}
	}
	return msgs
}

// IndexModels returns the indexes an aggregate collection with an outbox
// needs: the relay's poll query filters on outbox_pending. Pass them to
// mongox.EnsureIndexes with the collection's own indexes.
func IndexModels() []mongo.IndexModel {
	return []mongo.IndexModel{{Keys: bson.D{{Key: FieldPending, Value: 1}}}}
}

// ErrInvalidID is returned by Append for an event id that cannot be a
// document key or that is already pending.
var ErrInvalidID = errors.New("invalid outbox event id")

// Append adds msgs to a document's outbox map and returns the map (allocated
// when nil). Each message's Seq is set after the highest Seq already pending,
// in the order given, so the relay publishes them in that order. The caller
// sets ID, Subject, Data and CreateTime, and writes the map back together with
// outbox_pending=true (see Fields) in the same version-checked write as the
// state change.
//
// An empty id, one containing "." or "$", or one already pending is rejected
// and the map is left unchanged.
func Append(outbox map[string]Message, msgs ...Message) (map[string]Message, error) {
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if m.ID == "" || strings.ContainsAny(m.ID, ".$") {
			return outbox, fmt.Errorf("%w: %q", ErrInvalidID, m.ID)
		}
		if _, dup := outbox[m.ID]; dup || seen[m.ID] {
			return outbox, fmt.Errorf("%w: %q already pending", ErrInvalidID, m.ID)
		}
		seen[m.ID] = true
	}
	if outbox == nil {
		outbox = make(map[string]Message, len(msgs))
	}
	var last int64
	for _, m := range outbox {
		last = max(last, m.Seq)
	}
	for i, m := range msgs {
		m.Seq = last + int64(i) + 1
		outbox[m.ID] = m
	}
	return outbox, nil
}

// Fields are the outbox fields of an aggregate document, to embed with
// `bson:",inline"` in the document type an adapter reads and writes whole
// (ReplaceOne filtered on the version read). The adapter increments Version
// itself when it writes.
type Fields struct {
	Version int64              `bson:"version"`
	Outbox  map[string]Message `bson:"outbox,omitempty"`
	Pending bool               `bson:"outbox_pending"`
}

// Append adds msgs as the package-level Append does and keeps Pending in step.
func (f *Fields) Append(msgs ...Message) error {
	out, err := Append(f.Outbox, msgs...)
	if err != nil {
		return err
	}
	f.Outbox = out
	f.Pending = len(f.Outbox) > 0
	return nil
}
