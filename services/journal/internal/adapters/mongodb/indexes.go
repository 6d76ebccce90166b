// Package mongodb declares the journal database's collections and indexes.
package mongodb

import (
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/outbox"
)

// Collections of the journal database.
const (
	CollCheckIns = "checkins"
	CollEntries  = "entries"
	CollUrges    = "urges"
	CollFlags    = "risk_flags"
	CollAccess   = "access_records"
)

// HotQuery names the keys of a query run on every request or scan.
type HotQuery struct {
	Name       string
	Collection string
	Keys       []string
}

// HotQueries must each be served by an index (see the test).
var HotQueries = []HotQuery{
	{"check-ins of a client, newest first", CollCheckIns, []string{"client_id", "occurred_at"}},
	{"check-ins of a client's recent days", CollCheckIns, []string{"client_id", "local_date"}},
	{"entries of a client, newest first", CollEntries, []string{"client_id", "create_time"}},
	{"shared entries of a client", CollEntries, []string{"client_id", "shared", "create_time"}},
	{"entries of a client's window", CollEntries, []string{"client_id", "local_date"}},
	{"urges of a client's window", CollUrges, []string{"client_id", "local_date"}},
	{"open flags of a client by reason", CollFlags, []string{"client_id", "reason", "status"}},
	{"flags of a client, newest first", CollFlags, []string{"client_id", "raise_time"}},
	{"urges of a client around slips", CollUrges, []string{"client_id", "create_time"}},
	{"flags of many clients by status (care views)", CollFlags, []string{"client_id", "status", "raise_time"}},
	{"flags due to escalate, claimed by the escalation job", CollFlags, []string{"status", "escalate_at", docstore.FieldClaimedUntil}},
	{"sent access records past retention (Retention.SentAccessRecords)", CollAccess, []string{outbox.FieldPending, "time"}},
}

// Indexes declares every index of the journal database.
func Indexes() map[string][]mongo.IndexModel {
	idx := func(name string, keys ...string) mongo.IndexModel {
		d := bson.D{}
		for _, k := range keys {
			dir := 1
			if k == "create_time" || k == "occurred_at" || k == "raise_time" {
				dir = -1
			}
			d = append(d, bson.E{Key: k, Value: dir})
		}
		return mongo.IndexModel{Keys: d, Options: options.Index().SetName(name)}
	}
	withOutbox := func(models ...mongo.IndexModel) []mongo.IndexModel { return append(models, outbox.IndexModels()...) }
	out := map[string][]mongo.IndexModel{}
	for k, v := range map[string][]mongo.IndexModel{
		CollCheckIns: withOutbox(idx("client_occurred", "client_id", "occurred_at"), idx("client_date", "client_id", "local_date")),
		CollEntries: withOutbox(idx("client_created", "client_id", "create_time"), idx("client_shared", "client_id", "shared", "create_time"),
			idx("client_date", "client_id", "local_date")),
		CollUrges:  withOutbox(idx("client_date", "client_id", "local_date"), idx("client_created", "client_id", "create_time")),
		CollFlags:  withOutbox(idx("client_reason_status", "client_id", "reason", "status"), idx("client_raised", "client_id", "raise_time"), idx("client_status_raised", "client_id", "status", "raise_time"), idx("status_escalate_claim", "status", "escalate_at", docstore.FieldClaimedUntil)),
		CollAccess: withOutbox(idx("sent_time", outbox.FieldPending, "time")),
		// The clients' wrapped keysets (field encryption): the Rewrap
		// job's scan.
		fieldcrypt.Collection: fieldcrypt.IndexesOf(fieldcrypt.Collection)[fieldcrypt.Collection],
	} {
		out[k] = v
	}
	return out
}
