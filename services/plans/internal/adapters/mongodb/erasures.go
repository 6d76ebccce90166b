package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/erasure"
)

// CollErasures holds one erasure request per client (_id = client id), with
// its ErasureRequested event in the outbox and each service's confirmation.
// It outlives the client's data: it is the marker every creating path
// checks, and it holds ids and times only.
const CollErasures = "erasures"

// ErasureStore keeps the erasure requests.
type ErasureStore struct {
	docs *docstore.Store[erasure.Request]
}

// NewErasureStore is the store over the erasures collection; kick is the
// relay's (the request's event leaves at once).
func NewErasureStore(coll *mongo.Collection, kick func()) *ErasureStore {
	return &ErasureStore{docs: docstore.New[erasure.Request](coll, kick)}
}

// Create stores the request with its event, unless the client has one
// already: then it answers that one and created=false. The unique _id
// decides, so two requests at once (two replicas) make one.
func (s *ErasureStore) Create(ctx context.Context, r erasure.Request, event outbox.Message) (erasure.Request, bool, error) {
	err := s.docs.Create(ctx, r.ClientID, r, event)
	if errors.Is(err, docstore.ErrExists) {
		stored, err := s.Get(ctx, r.ClientID)
		return stored, false, err
	}
	if err != nil {
		return erasure.Request{}, false, err
	}
	return r, true, nil
}

// Get returns the client's request, or docstore.ErrNotFound.
func (s *ErasureStore) Get(ctx context.Context, clientID string) (erasure.Request, error) {
	r, _, err := s.docs.Get(ctx, clientID)
	return r, err
}

// Erased reports whether the client's erasure was requested: from then on
// nothing may be created for them.
func (s *ErasureStore) Erased(ctx context.Context, clientID string) (bool, error) {
	err := s.docs.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: clientID}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("check erasure of a client: %w", err)
	}
	return true, nil
}

// Confirm records a service's confirmation once: a redelivered
// confirmation matches nothing and keeps the first time. It is a $set of
// that service's field alone, so confirmations in any order never
// overwrite each other, and it bumps the version, so that a resend's
// read-modify-write that read the document before it (Resend) fails its
// version check and reads again instead of writing the confirmation away.
// It answers docstore.ErrNotFound when the client has no request.
func (s *ErasureStore) Confirm(ctx context.Context, clientID, service string, at time.Time) error {
	if !erasure.Known(service) {
		return fmt.Errorf("confirm erasure: unknown service %q", service)
	}
	field := "confirmed." + service
	res, err := s.docs.Collection().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: clientID}, {Key: field, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: at}}}, {Key: "$inc", Value: bson.D{{Key: outbox.FieldVersion, Value: int64(1)}}}})
	if err != nil {
		return fmt.Errorf("confirm erasure by %s: %w", service, err)
	}
	if res.MatchedCount == 0 {
		if ok, err := s.Erased(ctx, clientID); err != nil {
			return err
		} else if !ok {
			return docstore.ErrNotFound
		}
	}
	return nil
}

// Unconfirmed lists, oldest first, at most limit requests that some
// service has not confirmed and that were last sent before before.
func (s *ErasureStore) Unconfirmed(ctx context.Context, before time.Time, limit int) ([]erasure.Request, error) {
	var missing bson.A
	for _, svc := range erasure.Services {
		missing = append(missing, bson.D{{Key: "confirmed." + svc, Value: bson.D{{Key: "$exists", Value: false}}}})
	}
	return s.docs.Find(ctx, bson.D{{Key: "sent_time", Value: bson.D{{Key: "$lt", Value: before}}}, {Key: "$or", Value: missing}},
		options.Find().SetSort(bson.D{{Key: "sent_time", Value: 1}}).SetLimit(int64(limit)))
}

// Resend queues the request's next publication (event builds it from the
// request with its new send count) and stamps the send, unless every
// service has confirmed meanwhile. Under a version check: a confirmation
// that lands in between makes it read again.
func (s *ErasureStore) Resend(ctx context.Context, clientID string, now time.Time, event func(erasure.Request) (outbox.Message, error)) (bool, error) {
	sent := false
	_, err := s.docs.Update(ctx, clientID, func(r *erasure.Request) ([]outbox.Message, error) {
		sent = false
		if r.Complete() {
			return nil, nil
		}
		r.Sends++
		r.SentTime = now
		msg, err := event(*r)
		if err != nil {
			return nil, err
		}
		sent = true
		return []outbox.Message{msg}, nil
	})
	return sent, err
}

// ClientData deletes everything the plans database holds of one client:
// their plans and the plans' contact logs, care assignments, consents and
// counsellors' review marks. The access log stays (ids, actions and times,
// no health data: the record of who touched the data, kept for its own
// retention period) and so does the erasure request.
type ClientData struct {
	db *mongo.Database
}

// NewClientData is the eraser over the plans database.
func NewClientData(db *mongo.Database) *ClientData { return &ClientData{db: db} }

// Delete removes the client's documents (idempotent: a second run deletes
// nothing). Contacts go first, by the ids of the client's plans, so that a
// run cut short leaves the plans to find the contacts by again.
func (d *ClientData) Delete(ctx context.Context, clientID string) (int64, error) {
	cur, err := d.db.Collection(CollPlans).Find(ctx, bson.D{{Key: "client_id", Value: clientID}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("find plans to erase: %w", err)
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return 0, fmt.Errorf("read plans to erase: %w", err)
	}
	planIDs := make([]string, len(ids))
	for i, p := range ids {
		planIDs[i] = p.ID
	}
	var total int64
	steps := []struct {
		coll   string
		filter bson.D
	}{
		{CollContacts, bson.D{{Key: "plan_id", Value: bson.D{{Key: "$in", Value: planIDs}}}}},
		{CollPlans, bson.D{{Key: "client_id", Value: clientID}}},
		{CollAssignments, bson.D{{Key: "client_id", Value: clientID}}},
		{CollConsents, bson.D{{Key: "_id", Value: clientID}}},
		{CollReviews, bson.D{{Key: "client_id", Value: clientID}}},
		{CollExports, bson.D{{Key: "client_id", Value: clientID}}},
		{exportpart.Collection, bson.D{{Key: "client_id", Value: clientID}}},
	}
	for _, s := range steps {
		if s.coll == CollContacts && len(planIDs) == 0 {
			continue
		}
		res, err := d.db.Collection(s.coll).DeleteMany(ctx, s.filter)
		if err != nil {
			return total, fmt.Errorf("erase %s of a client: %w", s.coll, err)
		}
		total += res.DeletedCount
	}
	return total, nil
}

// DeletePlan removes one plan and its contacts: a plan created while the
// client's erasure was being requested (see app.Plans.Create).
func (d *ClientData) DeletePlan(ctx context.Context, planID string) error {
	if _, err := d.db.Collection(CollContacts).DeleteMany(ctx, bson.D{{Key: "plan_id", Value: planID}}); err != nil {
		return fmt.Errorf("erase contacts of plan %s: %w", planID, err)
	}
	if _, err := d.db.Collection(CollPlans).DeleteOne(ctx, bson.D{{Key: "_id", Value: planID}}); err != nil {
		return fmt.Errorf("erase plan %s: %w", planID, err)
	}
	return nil
}
