// Package mongodb holds notify's store adapters that live outside the app
// layer's collections: the erasure of a user's data.
package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/exportpart"
)

// Collections are the notify collections that hold a user's data.
type Collections struct {
	Notifications, Preferences, Webhooks, Deliveries, DailyCaps *mongo.Collection
}

// ClientData deletes what the notify database holds of one client: their
// notifications and those their care team got about them, the webhook
// deliveries of both (payloads included), their webhooks, preferences and
// daily-cap counters, and the care projection's rows for them. The access
// records stay (ids, an action and a time: no health data).
type ClientData struct {
	c  Collections
	db *mongo.Database
}

// NewClientData is the eraser over notify's collections.
func NewClientData(c Collections) *ClientData {
	return &ClientData{c: c, db: c.Notifications.Database()}
}

// Delete removes the client's documents; a second run deletes nothing.
// Deliveries go before the notifications they are found by, so a run cut
// short leaves the notifications to find them by again.
func (d *ClientData) Delete(ctx context.Context, clientID string) (int64, error) {
	about := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "user_id", Value: clientID}},
		bson.D{{Key: "client_id", Value: clientID}},
	}}}
	cur, err := d.c.Notifications.Find(ctx, about, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("find notifications to erase: %w", err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, fmt.Errorf("read notifications to erase: %w", err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	steps := []struct {
		coll   *mongo.Collection
		filter bson.D
	}{
		{d.c.Deliveries, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "user_id", Value: clientID}},
			bson.D{{Key: "notification_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		}}}},
		{d.c.Notifications, about},
		{d.c.Webhooks, bson.D{{Key: "user_id", Value: clientID}}},
		{d.c.Preferences, bson.D{{Key: "_id", Value: clientID}}},
		{d.c.DailyCaps, bson.D{{Key: "user_id", Value: clientID}}},
		{d.db.Collection(careview.CollLinks), bson.D{{Key: "client_id", Value: clientID}}},
		{d.db.Collection(exportpart.Collection), bson.D{{Key: "client_id", Value: clientID}}},
		{d.db.Collection(careview.CollConsents), bson.D{{Key: "client_id", Value: clientID}}},
	}
	var total int64
	for _, s := range steps {
		res, err := s.coll.DeleteMany(ctx, s.filter)
		if err != nil {
			return total, fmt.Errorf("erase %s of a client: %w", s.coll.Name(), err)
		}
		total += res.DeletedCount
	}
	return total, nil
}
