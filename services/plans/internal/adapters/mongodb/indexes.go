// Package mongodb stores the plans service's aggregates in its own MongoDB
// database: plans, their contact logs, care assignments, consents and the
// access log.
package mongodb

import (
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/outbox"
)

// Collections of the plans database.
const (
	CollPlans       = "plans"
	CollAssignments = "care_assignments"
	CollConsents    = "consents"
	CollAccessLog   = "access_log"
	CollContacts    = "contacts"
	CollReviews     = "reviews"
)

// HotQuery names the filter and sort keys of a query the service runs on
// every request or scan; TestHotQueriesHaveIndexes checks each against
// Indexes (FerretDB ignores indexes, production MongoDB needs them).
type HotQuery struct {
	Name       string
	Collection string
	Keys       []string
}

// HotQueries lists the queries that must be served by an index.
var HotQueries = []HotQuery{
	{"plans of a client, newest first", CollPlans, []string{"client_id", "create_time"}},
	{"due plans claimed by the scheduler", CollPlans, []string{"status", "next_due_time", docstore.FieldClaimedUntil}},
	{"unpublished events", CollPlans, []string{outbox.FieldPending}},
	{"assignments of a client", CollAssignments, []string{"client_id", "create_time"}},
	{"a counsellor's roster", CollAssignments, []string{"counsellor_id", "create_time"}},
	{"a counsellor's active clients (care summaries)", CollAssignments, []string{"counsellor_id", "status"}},
	{"unpublished assignment events", CollAssignments, []string{outbox.FieldPending}},
	{"unpublished consent events", CollConsents, []string{outbox.FieldPending}},
	{"a client's access log, newest first", CollAccessLog, []string{"client_id", "time", "_id"}},
	{"contacts of a plan, newest first (ListContacts)", CollContacts, []string{"plan_id", "seq"}},
	{"recent contacts of the roster's plans (care summaries)", CollContacts, []string{"plan_id", "occurred_at"}},
	{"a client's access log by one actor (care timeline)", CollAccessLog, []string{"client_id", "actor_id", "time"}},
	{"a counsellor's review marks", CollReviews, []string{"counsellor_id", "client_id"}},
	{"unpublished erasure events", CollErasures, []string{outbox.FieldPending}},
	{"erasures to resend (Erasure.ResendUnconfirmed)", CollErasures, []string{"sent_time"}},
	{"a client's review marks (erasure)", CollReviews, []string{"client_id"}},
	{"stopped plans past retention (Retention.EndedPlans)", CollPlans, []string{"status", "end_time"}},
	{"access log past retention (Retention.AccessLog)", CollAccessLog, []string{"time"}},
}

// Indexes declares every index of the plans database; the service creates
// them at start-up (idempotent).
func Indexes() map[string][]mongo.IndexModel {
	idx := func(name string, keys ...string) mongo.IndexModel {
		d := bson.D{}
		for _, k := range keys {
			dir := 1
			if k == "create_time" || k == "time" || k == "seq" {
				dir = -1
			}
			d = append(d, bson.E{Key: k, Value: dir})
		}
		return mongo.IndexModel{Keys: d, Options: options.Index().SetName(name)}
	}
	return map[string][]mongo.IndexModel{
		CollPlans: append([]mongo.IndexModel{
			idx("client_created", "client_id", "create_time"),
			idx("status_due_claim", "status", "next_due_time", docstore.FieldClaimedUntil),
			idx("status_end", "status", "end_time"),
		}, outbox.IndexModels()...),
		CollAssignments: append([]mongo.IndexModel{
			idx("client_created", "client_id", "create_time"),
			idx("counsellor_created", "counsellor_id", "create_time"),
			idx("counsellor_status", "counsellor_id", "status"),
		}, outbox.IndexModels()...),
		CollConsents:  outbox.IndexModels(),
		CollAccessLog: {idx("client_time", "client_id", "time", "_id"), idx("client_actor_time", "client_id", "actor_id", "time"), idx("time", "time")},
		CollContacts:  {idx("plan_seq", "plan_id", "seq"), idx("plan_occurred", "plan_id", "occurred_at")},
		CollReviews:   {idx("counsellor_client", "counsellor_id", "client_id"), idx("client", "client_id")},
		CollErasures:  append(outbox.IndexModels(), idx("sent", "sent_time")),
		// The clients' keysets (platform/fieldcrypt): the Rewrap scan.
		fieldcrypt.Collection: fieldcrypt.IndexesOf(fieldcrypt.Collection)[fieldcrypt.Collection],
	}
}
