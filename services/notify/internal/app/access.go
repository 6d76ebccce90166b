package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/events"
)

// AccessSubject is the event that carries one of notify's access records to
// the plans service, which keeps the user's one access log.
const AccessSubject = "notify.access.recorded"

// AccessRecord is a stored attempt by someone else on a route that names a
// user, waiting (through its outbox event) to reach the plans service's
// access log. It holds no content: who, whose, what and the outcome.
type AccessRecord struct {
	ActorID string    `bson:"actor_id"`
	UserID  string    `bson:"user_id,omitempty"`
	Action  string    `bson:"action"`
	Allowed bool      `bson:"allowed"`
	Time    time.Time `bson:"time"`
	// Batch holds, for a batch read (one record for many clients, written
	// at once), each named client's outcome; UserID and Allowed are then
	// unset.
	Batch []AccessOutcome `bson:"batch,omitempty"`
}

// WithAccessLog sets where attempts by someone other than the user are
// recorded (nil: not recorded, for tests of other things). Call it before
// serving.
func (n *Notify) WithAccessLog(records *docstore.Store[AccessRecord]) *Notify {
	n.access = records
	return n
}

// ownerOnly lets only the user through. Anyone else's attempt is recorded
// in that user's access log as denied and answered NotFound (the same answer
// as for a user that does not exist, so it tells nothing).
func (n *Notify) ownerOnly(ctx context.Context, c Caller, userID, resource, action string, notFound error) error {
	if c.ID == userID {
		return nil
	}
	if err := n.recordDenied(ctx, c, userID, resource, action); err != nil {
		return err
	}
	return notFound
}

// recordDenied stores one refused attempt on userID's data together with its
// event, in one write. Nothing is recorded for the user themself or when no
// user is named. The record is written before the refusal is answered: an
// attempt that cannot be recorded is answered Unavailable, not let through
// unlogged.
func (n *Notify) recordDenied(ctx context.Context, c Caller, userID, resource, action string) error {
	if n.access == nil || userID == "" || c.ID == userID {
		return nil
	}
	now := n.now()
	msg, err := events.New(events.Meta{
		Subject: AccessSubject, Producer: "notify", ClientID: userID, CorrelationID: c.RequestID, OccurredAt: now,
	}, &eventsv1.Envelope{Payload: &eventsv1.Envelope_AccessRecorded{AccessRecorded: &eventsv1.AccessRecorded{
		ActorId: c.ID, ActorRole: string(c.Role), Resource: resource, Action: action, Allowed: false, RequestId: c.RequestID,
	}}})
	if err != nil {
		return err
	}
	rec := AccessRecord{ActorID: c.ID, UserID: userID, Action: action, Allowed: false, Time: now}
	if err := n.access.Create(ctx, uuid.NewString(), rec, msg); err != nil {
		return apperr.Wrap(apperr.KindUnavailable, fmt.Errorf("record access: %w", err), "the attempt could not be recorded; try again")
	}
	return nil
}

// ownerOf is whose notification id is (empty when there is none).
func (n *Notify) ownerOf(ctx context.Context, id string) (string, error) {
	var owner struct {
		UserID string `bson:"user_id"`
	}
	err := n.notes.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "user_id", Value: 1}})).Decode(&owner)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	return owner.UserID, err
}
