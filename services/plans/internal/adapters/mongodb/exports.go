package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/export"
)

// CollExports holds the clients' export requests (with their outbox:
// plans.export.requested). The plans service's own part lives in
// exportpart.Collection, as every service's does.
const CollExports = "exports"

// ExportIndexes are the indexes of the export collections.
func ExportIndexes() map[string][]mongo.IndexModel {
	out := exportpart.Indexes()
	out[CollExports] = append([]mongo.IndexModel{{
		Keys:    bson.D{{Key: "client_id", Value: 1}, {Key: "create_time", Value: -1}},
		Options: options.Index().SetName("client_created"),
	}, exportpart.ExpiryIndex()}, outbox.IndexModels()...)
	return out
}

// ExportStore keeps export requests, one document each.
type ExportStore struct {
	docs *docstore.Store[export.Request]
}

// NewExportStore returns the store over coll; kick is the relay's.
func NewExportStore(coll *mongo.Collection, kick func()) *ExportStore {
	return &ExportStore{docs: docstore.New[export.Request](coll, kick)}
}

// CreateOnce stores a new request with its event (docstore.CreateOnce).
func (s *ExportStore) CreateOnce(ctx context.Context, r export.Request, requestHash string, events ...outbox.Message) (export.Request, bool, error) {
	return s.docs.CreateOnce(ctx, r.ID, requestHash, r, events...)
}

// Create stores a new request with its event.
func (s *ExportStore) Create(ctx context.Context, r export.Request, events ...outbox.Message) error {
	return s.docs.Create(ctx, r.ID, r, events...)
}

// Get returns a request; docstore.ErrNotFound when there is none.
func (s *ExportStore) Get(ctx context.Context, id string) (export.Request, error) {
	r, _, err := s.docs.Get(ctx, id)
	return r, err
}

// MarkPartReady records service's part of the client's request with one
// `$set` of parts.<service>, filtered on the part being absent: parts
// arrive in any order without reading the document, a redelivered
// readiness changes nothing, and the first readiness of a part is the one
// kept. The version is bumped, so that a version-checked write of the whole
// document made meanwhile reads again instead of overwriting the part.
// It answers false when the request does not exist for that client or the
// part was already recorded.
func (s *ExportStore) MarkPartReady(ctx context.Context, id, clientID, service string, p export.Part) (bool, error) {
	if !export.Known(service) {
		return false, fmt.Errorf("mark export part: unknown service %q", service)
	}
	field := "parts." + service
	res, err := s.docs.Collection().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "client_id", Value: clientID}, {Key: field, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: field, Value: p}}},
			{Key: "$inc", Value: bson.D{{Key: outbox.FieldVersion, Value: int64(1)}}},
		})
	if err != nil {
		return false, fmt.Errorf("mark export %s part %s: %w", id, service, err)
	}
	return res.ModifiedCount == 1, nil
}
