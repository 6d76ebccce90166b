package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/exportpart"
)

// ClientData deletes what the journal database holds of one client: their
// check-ins, entries (letters included), urges and risk flags. The keyset
// is destroyed by the caller (fieldcrypt), which makes any copy left
// (a backup) unreadable. The access records stay: ids, an action and a
// time (no health data), the record of who touched the data.
type ClientData struct {
	db *mongo.Database
}

// NewClientData is the eraser over the journal database.
func NewClientData(db *mongo.Database) *ClientData { return &ClientData{db: db} }

// Delete removes the client's documents; a second run deletes nothing.
func (d *ClientData) Delete(ctx context.Context, clientID string) (int64, error) {
	var total int64
	// The export parts too (ids and counts of the client's export requests).
	for _, coll := range []string{CollCheckIns, CollEntries, CollUrges, CollFlags, exportpart.Collection} {
		res, err := d.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "client_id", Value: clientID}})
		if err != nil {
			return total, fmt.Errorf("erase %s of a client: %w", coll, err)
		}
		total += res.DeletedCount
	}
	return total, nil
}
