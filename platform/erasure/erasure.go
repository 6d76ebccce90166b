// Package erasure is the part of a client's erasure (GDPR Art. 17) that
// every service other than its owner (plans) does the same way: a marker
// per erased client in the service's own database, which every path that
// creates documents for a client checks (so that a late, redelivered or
// replayed event never re-creates data for them), and the confirmation,
// an ErasureConfirmed event queued in the marker's outbox once the
// service's data is gone.
package erasure

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/outbox"
)

// Collection holds the markers: _id = client id.
const Collection = "erasures"

// RequestedSubject is the subject of the erasure request (plans').
const RequestedSubject = "plans.erasure.requested"

// ConfirmedSubject is where service publishes its confirmations
// ("journal.erasure.confirmed").
func ConfirmedSubject(service string) string { return service + ".erasure.confirmed" }

// Indexes are the markers' indexes (the relay's poll).
func Indexes() map[string][]mongo.IndexModel {
	return map[string][]mongo.IndexModel{Collection: outbox.IndexModels()}
}

// Marker records that a client was erased here.
type Marker struct {
	ClientID    string    `bson:"client_id"`
	ErasureID   string    `bson:"erasure_id"`
	RequestTime time.Time `bson:"request_time"`
	// ConfirmTime is when this service finished; nil while it erases.
	ConfirmTime *time.Time `bson:"confirm_time,omitempty"`
}

// Marks are one service's markers.
type Marks struct {
	docs        *docstore.Store[Marker]
	service     string
	afterCreate func(clientID string)
}

// NewMarks is the store over db's Collection for service ("journal");
// kick is the relay's.
func NewMarks(db *mongo.Database, service string, kick func()) *Marks {
	return &Marks{docs: docstore.New[Marker](db.Collection(Collection), kick), service: service}
}

// Mark records that the client is being erased (idempotent). From the
// moment it returns, Erased answers true on every replica.
func (m *Marks) Mark(ctx context.Context, clientID, erasureID string, requested time.Time) error {
	err := m.docs.Create(ctx, clientID, Marker{ClientID: clientID, ErasureID: erasureID, RequestTime: requested.UTC()})
	if err != nil && !errors.Is(err, docstore.ErrExists) {
		return fmt.Errorf("mark client erased: %w", err)
	}
	return nil
}

// Erased reports whether the client was marked.
func (m *Marks) Erased(ctx context.Context, clientID string) (bool, error) {
	err := m.docs.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: clientID}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("check erasure of a client: %w", err)
	}
	return true, nil
}

// ConfirmationID is the event id of service's confirmation for a client:
// the same on every redelivery.
func ConfirmationID(clientID, service string) string {
	return uuid.NewSHA1(namespace, []byte("confirmed\x00"+service+"\x00"+clientID)).String()
}

var namespace = uuid.MustParse("6f1d3c1e-9a53-4f43-9d0f-2c1a8c5e0e13")

// Confirm sets the marker's confirmation time and queues ErasureConfirmed
// in the same write, once: a second call (a redelivered request) changes
// nothing. The client must have been marked.
func (m *Marks) Confirm(ctx context.Context, clientID string, now time.Time) error {
	_, err := m.docs.Update(ctx, clientID, func(mk *Marker) ([]outbox.Message, error) {
		if mk.ConfirmTime != nil {
			return nil, nil
		}
		at := now.UTC().Truncate(time.Millisecond)
		mk.ConfirmTime = &at
		msg, err := events.New(events.Meta{
			ID: ConfirmationID(clientID, m.service), Subject: ConfirmedSubject(m.service), Producer: m.service,
			ClientID: clientID, OccurredAt: at,
		}, &eventsv1.Envelope{Payload: &eventsv1.Envelope_ErasureConfirmed{ErasureConfirmed: &eventsv1.ErasureConfirmed{
			ErasureId: mk.ErasureID, Service: m.service, ConfirmTime: timestamppb.New(at),
		}}})
		if err != nil {
			return nil, err
		}
		return []outbox.Message{msg}, nil
	})
	if err != nil {
		return fmt.Errorf("confirm erasure: %w", err)
	}
	return nil
}

// ErrErased is what a service answers when asked to create data for an
// erased client.
var ErrErased = apperr.FailedPrecondition("this account was erased: sign up again for a new account")

// Guard runs create (an insert of data for clientID) between two checks of
// the marker: before, so that an erased client gets nothing; after, so
// that a create racing the erasure is undone by undo (which deletes what
// the service holds of the client). Together they hold under any
// interleaving: the eraser writes the marker, then deletes; a creator
// inserts, then reads the marker. If the creator does not see the marker,
// it was written after the insert, and the eraser's delete, which follows
// it, finds what was inserted. It answers ErrErased when the client was
// erased (before or meanwhile); a consumer acks and drops then.
func (m *Marks) Guard(ctx context.Context, clientID string, create func() error, undo func(context.Context, string) error) error {
	erased, err := m.Erased(ctx, clientID)
	if err != nil {
		return err
	}
	if erased {
		return ErrErased
	}
	if err := create(); err != nil {
		return err
	}
	if m.afterCreate != nil {
		m.afterCreate(clientID)
	}
	if erased, err = m.Erased(ctx, clientID); err != nil {
		return err
	}
	if !erased {
		return nil
	}
	if err := undo(ctx, clientID); err != nil {
		return err
	}
	return ErrErased
}
