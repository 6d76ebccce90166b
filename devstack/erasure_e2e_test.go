package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	journalserver "github.com/nocontact/backend/services/journal/server"
)

// The erased client, the one kept, and the newcomer who signs up after
// the erasure (ids no one of them is a prefix of another's).
const (
	erasee   = "erasee"
	keeper   = "keeper"
	newcomer = "newcomer"
	// eraseMark is written into every free-text field of the erased client.
	eraseMark = "ZQXMARK"
)

// erasureFixture gives a client data in every service: a plan with reasons
// and a slip, a check-in, an entry and an urge with notes, a counsellor
// with consent (who is told of the slip), preferences and a webhook (with
// its deliveries).
func seedClient(t *testing.T, s *suite, client, counsellor, hookURL string) {
	t.Helper()
	tok := token(t, client, auth.RoleClient)
	admin := token(t, "admin-er", auth.RoleAdmin)
	text := eraseMark + " of " + client
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", tok, map[string]any{"timeZone": "Europe/Berlin",
		"startTime": time.Now().Add(-72 * time.Hour).UTC().Format(time.RFC3339), "reasons": []string{text}})
	planID := plan["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+planID+":activate", tok, map[string]any{})
	s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", admin, map[string]any{"clientId": client, "counsellorId": counsellor})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+client+"/consents", tok, map[string]any{"scope": "PLAN_PROGRESS"})
	s.mustCall(http.StatusOK, "POST", "/v1/users/"+client+"/webhooks", tok, map[string]any{"url": hookURL})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+client+"/checkins", tok, map[string]any{"mood": -2, "difficulty": 4, "note": text})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+client+"/entries", tok, map[string]any{"kind": "UNSENT_LETTER", "body": text, "title": text})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+client+"/urges", tok, map[string]any{"intensity": 10, "note": text})
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+planID+"/contacts", tok, map[string]any{
		"direction": "OUTBOUND", "channel": "TEXT", "occurredAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "note": text})
	couns := token(t, counsellor, auth.RoleCounsellor)
	eventually(t, 30*time.Second, func() string {
		out := s.mustCall(http.StatusOK, "GET", "/v1/notifications?pageSize=100", couns, nil)
		for _, n := range asList(out["notifications"]) {
			if m, _ := n.(map[string]any); m["kind"] == "NOTIFICATION_KIND_SLIP_RECORDED" && m["clientId"] == client {
				return ""
			}
		}
		return "the counsellor of " + client + " has not heard of the slip yet"
	})
	eventually(t, 30*time.Second, func() string {
		if countRaw(t, s, "notify", "webhook_deliveries", bson.D{{Key: "user_id", Value: client}}) == 0 {
			return "no webhook delivery for " + client + " yet"
		}
		return ""
	})
}

func countRaw(t *testing.T, s *suite, db, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := s.stack.Mongo.Database(db).Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// erasureKeeps are the collections that may still name an erased client:
// the erasure's own records, the keyset tombstone, and the access records
// (ids, actions and times).
var erasureKeeps = map[string]bool{
	"plans.erasures": true, "plans.access_log": true, "plans.keysets": true,
	"journal.erasures": true, "journal.keysets": true, "journal.access_records": true,
	"notify.erasures": true, "notify.access_records": true, "notify.keysets": true,
}

// rawLeftovers reads every document of the three databases with the
// driver and names those that hold the client's id, or the text mark,
// outside erasureKeeps; ofClient counts the client's documents (by id or
// text) per collection.
func rawLeftovers(t *testing.T, s *suite, client string) (leftovers []string, ofClient map[string]int) {
	t.Helper()
	ctx := context.Background()
	ofClient = map[string]int{}
	for _, dbName := range []string{"plans", "journal", "notify"} {
		db := s.stack.Mongo.Database(dbName)
		names, err := db.ListCollectionNames(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			cur, err := db.Collection(name).Find(ctx, bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			for cur.Next(ctx) {
				raw := []byte(cur.Current)
				if bytes.Contains(raw, []byte(client)) || bytes.Contains(raw, []byte(eraseMark+" of "+client)) {
					ofClient[dbName+"."+name]++
					if !erasureKeeps[dbName+"."+name] {
						leftovers = append(leftovers, fmt.Sprintf("%s.%s %v", dbName, name, cur.Current.Lookup("_id")))
					}
				}
				if bytes.Contains(raw, []byte(eraseMark+" of "+client)) {
					leftovers = append(leftovers, fmt.Sprintf("%s.%s %v holds the text", dbName, name, cur.Current.Lookup("_id")))
				}
			}
			if err := cur.Err(); err != nil {
				t.Fatal(err)
			}
			_ = cur.Close(ctx)
		}
	}
	return leftovers, ofClient
}

func progressOf(erasure map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, p := range asList(erasure["services"]) {
		m, _ := p.(map[string]any)
		out[m["service"].(string)], _ = m["confirmed"].(bool)
	}
	return out
}

// startJournal runs a journal like the devstack's, on the suite's NATS and
// MongoDB and the address of the journal it replaces, until the test ends:
// the journal coming back after downtime.
func startJournal(t *testing.T, s *suite, addr string) {
	t.Helper()
	// On the stopped journal's address, where the gateway dials it.
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var cfg journalserver.Config
	if err := config.LoadFrom(&cfg, map[string]string{
		"GRPC_ADDR": lis.Addr().String(), "METRICS_ADDR": "off", "MONGODB_URI": s.stack.MongoURI, "MONGODB_DATABASE": "journal",
		"NATS_URL": s.stack.NATSURL, "PLANS_ADDR": s.stack.PlansAddr, "NOCONTACT_JWT_SECRET": testSecret,
		"NOCONTACT_KEK": DevKEK, "LOG_LEVEL": "error",
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- journalserver.Run(ctx, cfg, journalserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Clock: clock.Real(), Listener: lis, Mongo: s.stack.Mongo})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("journal stopped with: %v", err)
		}
	})
}

// republish sends every event about client in stream again under a fresh
// message id (a replay: an old backup of the stream, a producer's retry
// beyond the duplicate window), erasure events excepted, and answers how
// many.
func republish(t *testing.T, js jetstream.JetStream, stream, client string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var again []jetstream.Msg
	for range info.NumPending {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		env := &eventsv1.Envelope{}
		if err := proto.Unmarshal(msg.Data(), env); err != nil {
			t.Fatal(err)
		}
		if env.GetClientId() == client && !strings.Contains(env.GetType(), ".erasure.") {
			again = append(again, msg)
		}
	}
	for i, msg := range again {
		if _, err := js.Publish(ctx, msg.Subject(), msg.Data(), jetstream.WithMsgID(fmt.Sprintf("replay-%d-%s", i, msg.Subject()))); err != nil {
			t.Fatal(err)
		}
	}
	return len(again)
}

// caughtUp waits until every durable consumer of the stream has handled
// everything in it: the positive signal that a replay was consumed.
func caughtUp(t *testing.T, js jetstream.JetStream, stream string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 30*time.Second, func() string {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return err.Error()
		}
		var names []string
		lister := st.ConsumerNames(ctx)
		for name := range lister.Name() {
			names = append(names, name)
		}
		if err := lister.Err(); err != nil {
			return err.Error()
		}
		for _, name := range names {
			c, err := st.Consumer(ctx, name)
			if err != nil {
				return err.Error()
			}
			info := c.CachedInfo()
			if info.Config.Durable == "" {
				continue
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return fmt.Sprintf("%s/%s: %d pending, %d unacked", stream, name, info.NumPending, info.NumAckPending)
			}
		}
		return ""
	})
}

// A client's erasure, through the gateway, with the journal down when it
// is asked for: who may ask, per-service progress, completion once the
// journal is back, nothing of the client left in any database (read raw)
// and everything of another client kept, a replay of the client's old
// events re-creating nothing, a redelivered confirmation changing nothing,
// the access log's record, and a new sign-up that sees none of it.
func TestErasureAcrossTheSuite(t *testing.T) {
	// Two replicas of every service, as production runs them.
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer receiver.Close()
	seedClient(t, s, erasee, "counsellor-er", receiver.URL+"/hook")
	seedClient(t, s, keeper, "counsellor-kp", receiver.URL+"/hook")
	client := token(t, erasee, auth.RoleClient)
	path := "/v1/clients/" + erasee + "/erasure"

	// Who may ask: not the counsellor, not an admin without the client's
	// recorded request, not another client.
	for who, tok := range map[string]string{
		"counsellor":             token(t, "counsellor-er", auth.RoleCounsellor),
		"admin without a ticket": token(t, "admin-er", auth.RoleAdmin),
		"another client":         token(t, keeper, auth.RoleClient),
	} {
		if code, out := s.call("POST", path, tok, map[string]any{}); code != http.StatusForbidden {
			t.Fatalf("%s asked for the erasure: %d %v, want 403", who, code, out)
		}
	}
	if code, out := s.call("POST", path, token(t, "admin-er", auth.RoleAdmin), map[string]any{"supportTicket": "not a ticket!"}); code != http.StatusBadRequest ||
		!contains(fieldViolations(out), "support_ticket") {
		t.Fatalf("a malformed ticket = %d %v, want 400 naming support_ticket", code, out)
	}
	if code, _ := s.call("GET", path, client, nil); code != http.StatusNotFound {
		t.Fatalf("an erasure never asked for = %d, want 404", code)
	}

	// The journal is down (both replicas) while the client asks, twice at
	// once.
	journals := strings.Split(s.stack.JournalAddr, ",")
	for i := range journals {
		if !s.stack.StopReplica(replicaName("journal", i, len(journals))) {
			t.Fatalf("no journal replica %d to stop", i)
		}
	}
	var wg sync.WaitGroup
	ids := make([]string, 2)
	for i := range ids {
		wg.Go(func() {
			code, out := s.call("POST", path, client, map[string]any{})
			if code == http.StatusOK {
				ids[i], _ = out["id"].(string)
			}
		})
	}
	wg.Wait()
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("two requests at once gave %q and %q, want one erasure", ids[0], ids[1])
	}
	eventually(t, 30*time.Second, func() string {
		got := progressOf(s.mustCall(http.StatusOK, "GET", path, client, nil))
		if !got["plans"] || !got["notify"] {
			return fmt.Sprintf("progress %v: plans and notify have not confirmed", got)
		}
		return ""
	})
	er := s.mustCall(http.StatusOK, "GET", path, token(t, "admin-er", auth.RoleAdmin), nil)
	if got := progressOf(er); got["journal"] || er["state"] != "ERASURE_STATE_IN_PROGRESS" {
		t.Fatalf("with the journal down: %v, state %v; want the journal pending", got, er["state"])
	}

	// The journal comes back and catches up.
	for _, addr := range journals {
		startJournal(t, s, addr)
	}
	eventually(t, 60*time.Second, func() string {
		er = s.mustCall(http.StatusOK, "GET", path, client, nil)
		if er["state"] != "ERASURE_STATE_COMPLETED" {
			return fmt.Sprintf("erasure %v, progress %v", er["state"], progressOf(er))
		}
		return ""
	})
	if er["completeTime"] == nil {
		t.Fatalf("completed without a time: %v", er)
	}

	// Every service's keyset of the client is shredded: a tombstone
	// without the wrapped key, so any copy of the ciphertexts (a backup)
	// stays unreadable.
	for _, db := range []string{"plans", "journal", "notify"} {
		var keyset bson.M
		if err := s.stack.Mongo.Database(db).Collection("keysets").FindOne(context.Background(), bson.D{{Key: "_id", Value: erasee}}).Decode(&keyset); err != nil {
			t.Fatalf("the %s keyset of the erased client: %v", db, err)
		}
		if keyset["destroyed"] != true || keyset["wrapped"] != nil {
			t.Fatalf("the %s keyset was not destroyed: destroyed=%v, wrapped present=%v", db, keyset["destroyed"], keyset["wrapped"] != nil)
		}
	}

	left, _ := rawLeftovers(t, s, erasee)
	if len(left) > 0 {
		t.Fatalf("after the erasure, the databases still hold:\n%s", strings.Join(left, "\n"))
	}
	_, kept := rawLeftovers(t, s, keeper)
	for _, coll := range []string{"plans.plans", "plans.contacts", "plans.care_assignments", "journal.checkins", "journal.entries",
		"journal.urges", "journal.risk_flags", "notify.notifications", "notify.webhooks", "notify.webhook_deliveries"} {
		if kept[coll] == 0 {
			t.Errorf("the other client lost their %s", coll)
		}
	}

	// A replay of every old event about the erased client re-creates
	// nothing in any service; a redelivered confirmation changes nothing.
	js, closeJS := s.jetStream()
	defer closeJS()
	replayed := republish(t, js, "PLANS", erasee) + republish(t, js, "JOURNAL", erasee)
	if replayed < 8 {
		t.Fatalf("only %d events of the client to replay", replayed)
	}
	confirm := &eventsv1.Envelope{EventId: "confirm-again", Type: "journal.erasure.confirmed", ClientId: erasee, Producer: "journal",
		Payload: &eventsv1.Envelope_ErasureConfirmed{ErasureConfirmed: &eventsv1.ErasureConfirmed{
			ErasureId: ids[0], Service: "journal", ConfirmTime: timestamppb.New(time.Now().Add(time.Hour))}}}
	data, err := proto.Marshal(confirm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), "journal.erasure.confirmed", data, jetstream.WithMsgID("confirm-again")); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, js, "PLANS")
	caughtUp(t, js, "JOURNAL")
	if left, _ := rawLeftovers(t, s, erasee); len(left) > 0 {
		t.Fatalf("the replay re-created:\n%s", strings.Join(left, "\n"))
	}
	if again := s.mustCall(http.StatusOK, "GET", path, client, nil); again["completeTime"] != er["completeTime"] {
		t.Fatalf("a redelivered confirmation moved the completion from %v to %v", er["completeTime"], again["completeTime"])
	}

	// The access log keeps the record, with ids only.
	logged := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+erasee+"/access-log", client, nil)
	found := false
	for _, e := range asList(logged["entries"]) {
		m, _ := e.(map[string]any)
		if m["action"] == "RequestErasure" && m["outcome"] == "ACCESS_OUTCOME_ALLOWED" && m["actorId"] == erasee {
			found = true
		}
		if strings.Contains(fmt.Sprint(m), eraseMark) {
			t.Fatalf("the access log holds the client's text: %v", m)
		}
	}
	if !found {
		t.Fatalf("no record of the erasure in the access log: %v", logged)
	}

	// The erased id is retired: nothing new is stored for it. (First, the
	// gateway reconnects to the journal that came back.)
	eventually(t, 30*time.Second, func() string {
		if code, _ := s.call("GET", "/v1/clients/"+keeper+"/entries", token(t, keeper, auth.RoleClient), nil); code != http.StatusOK {
			return fmt.Sprintf("the gateway reaches the journal again: %d", code)
		}
		return ""
	})
	if code, out := s.call("POST", "/v1/plans", client, map[string]any{"timeZone": "Europe/Berlin"}); code != http.StatusBadRequest ||
		!strings.Contains(fmt.Sprint(out["message"]), "erased") {
		t.Fatalf("a new plan for the erased id = %d %v, want refused", code, out)
	}
	if code, _ := s.call("POST", "/v1/clients/"+erasee+"/checkins", client, map[string]any{"mood": 1}); code != http.StatusBadRequest {
		t.Fatalf("a check-in for the erased id = %d, want refused", code)
	}

	// An admin on a client's recorded request: the ticket is kept with
	// the erasure, and the erasure completes (a client with no data).
	byAdmin := s.mustCall(http.StatusOK, "POST", "/v1/clients/ghost/erasure", token(t, "admin-er", auth.RoleAdmin), map[string]any{"supportTicket": "ZD-4711"})
	if byAdmin["supportTicket"] != "ZD-4711" || byAdmin["requestedBy"] != "admin-er" || byAdmin["requesterRole"] != "admin" {
		t.Fatalf("the admin's erasure = %v", byAdmin)
	}
	eventually(t, 30*time.Second, func() string {
		if got := s.mustCall(http.StatusOK, "GET", "/v1/clients/ghost/erasure", token(t, "ghost", auth.RoleClient), nil); got["state"] != "ERASURE_STATE_COMPLETED" {
			return fmt.Sprintf("the admin's erasure: %v", progressOf(got))
		}
		return ""
	})

	// Signing up again (a new subject from the identity provider) starts
	// empty.
	fresh := token(t, newcomer, auth.RoleClient)
	if plans := s.mustCall(http.StatusOK, "GET", "/v1/plans", fresh, nil); len(asList(plans["plans"])) != 0 {
		t.Fatalf("the new account sees plans: %v", plans)
	}
	s.mustCall(http.StatusOK, "POST", "/v1/plans", fresh, map[string]any{"timeZone": "Europe/Berlin"})
	if entries := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+newcomer+"/entries", fresh, nil); len(asList(entries["entries"])) != 0 {
		t.Fatalf("the new account sees entries: %v", entries)
	}
}
