package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var created = time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// plan is an aggregate document as an adapter would store it.
type plan struct {
	ID            string `bson:"_id"`
	Status        string `bson:"status"`
	outbox.Fields `bson:",inline"`
}

type fixture struct {
	js   jetstream.JetStream
	coll *mongo.Collection
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := ctxT(t)
	_, js := testenv.NATS(t)
	if _, err := natsx.EnsureStream(ctx, js, "PLANS", []string{"plans.>"}); err != nil {
		t.Fatal(err)
	}
	db := testenv.Mongo(t)
	if err := mongox.EnsureIndexes(ctx, db, map[string][]mongo.IndexModel{"plans": outbox.IndexModels()}); err != nil {
		t.Fatal(err)
	}
	return fixture{js: js, coll: db.Collection("plans")}
}

func msg(id, subject string) outbox.Message {
	return outbox.Message{ID: id, Subject: subject, Data: []byte("payload-" + id), CreateTime: created}
}

// insertPlan writes a plan with pending events, as the state-changing write
// does; no relay runs yet (a crash right after the write).
func (f fixture) insertPlan(t *testing.T, id string, msgs ...outbox.Message) {
	t.Helper()
	p := plan{ID: id, Status: "ACTIVE", Fields: outbox.Fields{Version: 1}}
	if err := p.Append(msgs...); err != nil {
		t.Fatal(err)
	}
	if _, err := f.coll.InsertOne(ctxT(t), p); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) load(t *testing.T, id string) plan {
	t.Helper()
	var p plan
	if err := f.coll.FindOne(ctxT(t), bson.D{{Key: "_id", Value: id}}).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// streamIDs lists the event ids in the PLANS stream, in stream order, and
// checks that each message carries its id in both headers.
func (f fixture) streamIDs(t *testing.T) []string {
	t.Helper()
	ctx := ctxT(t)
	s, err := f.js.Stream(ctx, "PLANS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header.Get(jetstream.MsgIDHeader)
		if got := m.Header.Get(outbox.HeaderEventID); got != id {
			t.Errorf("message %d: %s = %q, Nats-Msg-Id = %q", seq, outbox.HeaderEventID, got, id)
		}
		if string(m.Data) != "payload-"+id {
			t.Errorf("message %d: data %q does not belong to %s", seq, m.Data, id)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestFlushPublishesPendingOnceInSeqOrderAndClears(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	// Ids sort the other way round from seq, so only seq explains the order.
	f.insertPlan(t, "p1", msg("z-activated", "plans.plan.activated"), msg("a-milestone", "plans.milestone.reached"))

	relay := outbox.NewRelay(f.js, quietLog(), outbox.Options{}, f.coll)
	n, err := relay.Flush(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Flush = %d, %v; want 2, nil", n, err)
	}
	if got := strings.Join(f.streamIDs(t), ","); got != "z-activated,a-milestone" {
		t.Fatalf("stream holds %s, want z-activated,a-milestone", got)
	}
	p := f.load(t, "p1")
	if p.Pending || len(p.Outbox) != 0 || p.Version != 2 || p.Status != "ACTIVE" {
		t.Fatalf("after Flush: pending=%v outbox=%v version=%d status=%s", p.Pending, p.Outbox, p.Version, p.Status)
	}

	// A second pass finds nothing to do.
	if n, err := relay.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("second Flush = %d, %v", n, err)
	}
	if ids := f.streamIDs(t); len(ids) != 2 {
		t.Fatalf("stream holds %v after a second Flush", ids)
	}
}

func TestFlushAfterCrashBetweenPublishAndMarkPublishesNoDuplicate(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	m := msg("ev-1", "plans.plan.activated")
	f.insertPlan(t, "p1", m)

	// The previous relay published, then died before marking the document.
	pub := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{outbox.HeaderEventID: {m.ID}}}
	if _, err := f.js.PublishMsg(ctx, pub, jetstream.WithMsgID(m.ID)); err != nil {
		t.Fatal(err)
	}

	if _, err := outbox.NewRelay(f.js, quietLog(), outbox.Options{}, f.coll).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := f.streamIDs(t); len(ids) != 1 || ids[0] != "ev-1" {
		t.Fatalf("stream holds %v, want exactly [ev-1]", ids)
	}
	if p := f.load(t, "p1"); p.Pending || len(p.Outbox) != 0 {
		t.Fatalf("document still pending: %+v", p.Fields)
	}
}

// hookJS is the real JetStream with a hook run after each successful publish,
// to change the document at the one moment that matters.
type hookJS struct {
	jetstream.JetStream
	after func(subject string)
}

func (h hookJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := h.JetStream.PublishMsg(ctx, m, opts...)
	if err == nil && h.after != nil {
		h.after(m.Subject)
	}
	return ack, err
}

func TestDocumentChangedWhilePublishingKeepsItsNewEvents(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	f.insertPlan(t, "p1", msg("ev-1", "plans.plan.activated"))

	// A command lands between the relay's publish and its mark: it changes
	// the state and adds ev-2, under the usual version check.
	changed := false
	js := hookJS{JetStream: f.js, after: func(string) {
		if changed {
			return
		}
		changed = true
		p := f.load(t, "p1")
		read := p.Version
		p.Status = "PAUSED"
		p.Version++
		if err := p.Append(msg("ev-2", "plans.plan.paused")); err != nil {
			t.Error(err)
			return
		}
		res, err := f.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: "p1"}, {Key: outbox.FieldVersion, Value: read}}, p)
		if err != nil || res.MatchedCount != 1 {
			t.Errorf("concurrent command write: %v, matched %d", err, res.MatchedCount)
		}
	}}
	relay := outbox.NewRelay(js, quietLog(), outbox.Options{}, f.coll)

	if _, err := relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p := f.load(t, "p1")
	if !p.Pending || len(p.Outbox) != 2 || p.Status != "PAUSED" {
		t.Fatalf("the relay's mark overwrote a newer write: pending=%v outbox=%v status=%s", p.Pending, p.Outbox, p.Status)
	}

	// The next pass publishes both again; JetStream drops the repeat of ev-1.
	if _, err := relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.streamIDs(t), ","); got != "ev-1,ev-2" {
		t.Fatalf("stream holds %s, want ev-1,ev-2", got)
	}
	if p := f.load(t, "p1"); p.Pending || len(p.Outbox) != 0 || p.Status != "PAUSED" {
		t.Fatalf("after the second pass: %+v status=%s", p.Fields, p.Status)
	}
}

func TestPublishFailureKeepsMessagesForNextPass(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	// No stream listens on journal.>: JetStream refuses the publish.
	f.insertPlan(t, "p1", msg("ev-1", "journal.entry.created"), msg("ev-2", "journal.entry.shared"))

	relay := outbox.NewRelay(f.js, quietLog(), outbox.Options{}, f.coll)
	if _, err := relay.Flush(ctx); err == nil {
		t.Fatal("Flush reported success although nothing could be published")
	}
	if p := f.load(t, "p1"); !p.Pending || len(p.Outbox) != 2 || p.Version != 1 {
		t.Fatalf("failed publish changed the document: %+v", p.Fields)
	}

	if _, err := natsx.EnsureStream(ctx, f.js, "JOURNAL", []string{"journal.>"}); err != nil {
		t.Fatal(err)
	}
	if n, err := relay.Flush(ctx); err != nil || n != 2 {
		t.Fatalf("Flush once the stream exists = %d, %v", n, err)
	}
	if p := f.load(t, "p1"); p.Pending {
		t.Fatalf("still pending: %+v", p.Fields)
	}
}

func TestFlushCoversSeveralCollectionsAndIDTypes(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	f.insertPlan(t, "p1", msg("ev-1", "plans.a"))

	other := f.coll.Database().Collection("assignments")
	oid := bson.NewObjectID()
	box, _ := outbox.Append(nil, msg("ev-2", "plans.b"))
	_, err := other.InsertOne(ctx, bson.D{
		{Key: "_id", Value: oid},
		{Key: outbox.FieldVersion, Value: int64(7)},
		{Key: outbox.FieldOutbox, Value: box},
		{Key: outbox.FieldPending, Value: true},
	})
	if err != nil {
		t.Fatal(err)
	}

	n, err := outbox.NewRelay(f.js, quietLog(), outbox.Options{}, f.coll, other).Flush(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	var got struct {
		Version int64 `bson:"version"`
		Pending bool  `bson:"outbox_pending"`
	}
	if err := other.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Pending || got.Version != 8 {
		t.Fatalf("ObjectID document after Flush: %+v", got)
	}
}

func TestFlushBoundsTheBatch(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	for i := range 5 {
		f.insertPlan(t, fmt.Sprintf("p%d", i), msg(fmt.Sprintf("ev-%d", i), "plans.a"))
	}
	relay := outbox.NewRelay(f.js, quietLog(), outbox.Options{BatchSize: 2}, f.coll)
	if n, err := relay.Flush(ctx); err != nil || n != 2 {
		t.Fatalf("first Flush = %d, %v; want 2", n, err)
	}
	total := 2
	for range 3 {
		n, err := relay.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 5 || len(f.streamIDs(t)) != 5 {
		t.Fatalf("published %d, stream holds %d; want 5 each", total, len(f.streamIDs(t)))
	}
}

func TestRunPublishesOnKickAndStopsWithContext(t *testing.T) {
	f := newFixture(t)
	// An hour-long interval: only the initial pass and Kick can publish.
	relay := outbox.NewRelay(f.js, quietLog(), outbox.Options{Interval: time.Hour}, f.coll)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	f.insertPlan(t, "p1", msg("ev-1", "plans.a"))
	relay.Kick()
	waitFor(t, "kicked publish", func() bool { return len(f.streamIDs(t)) == 1 })
	waitFor(t, "document cleared", func() bool { return !f.load(t, "p1").Pending })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunKeepsRetryingThroughFailures(t *testing.T) {
	f := newFixture(t)
	f.insertPlan(t, "p1", msg("ev-1", "journal.entry.created")) // no stream yet
	var passes atomic.Int32                                     // passes that found the event still pending
	relay := outbox.NewRelay(f.js, quietLog(), outbox.Options{Interval: 10 * time.Millisecond, Observe: func(pending int, _ time.Duration, _ int) {
		if pending > 0 {
			passes.Add(1)
		}
	}}, f.coll)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitFor(t, "three failed passes", func() bool { return passes.Load() >= 3 })
	if _, err := natsx.EnsureStream(ctxT(t), f.js, "JOURNAL", []string{"journal.>"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "published after the outage", func() bool { return !f.load(t, "p1").Pending })
}

func TestKickNeverBlocks(t *testing.T) {
	relay := outbox.NewRelay(nil, quietLog(), outbox.Options{})
	for range 100 {
		relay.Kick() // nobody runs the relay: must not block
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Observe sees every pass: the pending documents it found, the age of the
// oldest event among them and what it published; then an empty pass.
func TestObserveReportsEachPass(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	f.insertPlan(t, "p1", msg("ev-1", "plans.plan.activated"), msg("ev-2", "plans.milestone.reached"))
	f.insertPlan(t, "p2", msg("ev-3", "plans.plan.activated"))

	type pass struct {
		pending, published int
		oldest             time.Duration
	}
	var passes []pass
	relay := outbox.NewRelay(f.js, quietLog(), outbox.Options{Observe: func(pending int, oldest time.Duration, published int) {
		passes = append(passes, pass{pending, published, oldest})
	}}, f.coll)
	for range 2 {
		if _, err := relay.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(passes) != 2 {
		t.Fatalf("Observe called %d times for 2 passes", len(passes))
	}
	if p := passes[0]; p.pending != 2 || p.published != 3 || p.oldest < time.Since(created)-time.Minute {
		t.Errorf("first pass observed %+v, want 2 documents, 3 published, oldest ≈ %v", p, time.Since(created))
	}
	if p := passes[1]; p != (pass{}) {
		t.Errorf("empty pass observed %+v, want zeros", p)
	}
}
