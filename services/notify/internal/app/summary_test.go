package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/testenv"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
	"github.com/nocontact/backend/services/notify/server"
)

// summaryNote is a delivered notification to user about client.
func summaryNote(user, client string, kind message.Kind, at time.Time, read bool) inbox.Notification {
	n := inbox.Notification{
		ID: fmt.Sprintf("nt-%s-%s-%s-%d", user, client, kind, at.UnixNano()), UserID: user, ClientID: client, Kind: kind,
		Title: "t", Body: "b", Urgent: kind.Urgent(), EventID: "ev", CreateTime: at, DeliverAt: at, DeliveredAt: &at,
		DeliverDate: at.Format(time.DateOnly),
	}
	if read {
		n.ReadTime = &at
	}
	return n
}

// batchOutcomes are the batch access records naming client, as
// "actor ALLOWED|DENIED".
func (f *fixture) batchOutcomes(t *testing.T, client string) []string {
	t.Helper()
	cur, err := f.db.Collection(server.CollAccess).Find(ctxT(t), bson.D{{Key: "action", Value: app.SummaryAction}})
	if err != nil {
		t.Fatal(err)
	}
	var recs []app.AccessRecord
	if err := cur.All(ctxT(t), &recs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		for _, o := range r.Batch {
			if o.UserID != client {
				continue
			}
			if o.Allowed {
				out = append(out, r.ActorID+" ALLOWED")
			} else {
				out = append(out, r.ActorID+" DENIED")
			}
		}
	}
	slices.Sort(out)
	return out
}

// A counsellor's summaries count their own notifications per client under
// an active assignment, hide the kinds whose scope is not granted, leave
// out another counsellor's client (recorded DENIED) and record ALLOWED for
// each client answered; plans is asked once.
func TestBatchSummariesCountPerClientAndLeaveOutOthersClients(t *testing.T) {
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, now)
	team := &authority{allowed: map[app.CareQuery]bool{}}
	n := f.n.WithCareAuthority(team).WithAccessLog(docstore.New[app.AccessRecord](f.db.Collection(server.CollAccess), nil))
	for _, c := range []string{"client-a", "client-b"} {
		team.set(app.CareQuery{ClientID: c, Scope: "PLAN_PROGRESS"}, true)
	}
	team.set(app.CareQuery{ClientID: "client-a", Scope: "RISK_ALERTS"}, true)
	// client-b has not granted MOOD_INSIGHTS: its high-urge note is hidden.
	// client-x is another counsellor's: plans allows nothing.
	notes := []inbox.Notification{
		summaryNote(counsellorID, "client-a", message.MilestoneReached, now.Add(-3*time.Hour), true),
		summaryNote(counsellorID, "client-a", message.SlipRecorded, now.Add(-2*time.Hour), false),
		summaryNote(counsellorID, "client-a", message.RiskFlagRaised, now.Add(-time.Hour), false),
		summaryNote(counsellorID, "client-b", message.MilestoneReached, now.Add(-5*time.Hour), false),
		summaryNote(counsellorID, "client-b", message.HighUrge, now.Add(-time.Minute), false),
		summaryNote(counsellorID, "client-x", message.SlipRecorded, now.Add(-time.Minute), false),
		// Another counsellor's notification about client-a is not the caller's.
		summaryNote("counsellor-2", "client-a", message.SlipRecorded, now, false),
	}
	if err := n.StoreDeliveredForTest(ctxT(t), notes); err != nil {
		t.Fatal(err)
	}
	sums, err := n.Summaries(ctxT(t), caller(counsellorID), []string{"client-x", "client-b", "client-a"})
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, s := range sums {
		got += fmt.Sprintf("%s unread=%d latest=%s@%s urgent=%v; ", s.ClientID, s.Unread, s.LatestKind, s.LatestTime.Format("15:04"), s.UrgentUnread)
	}
	want := "client-a unread=2 latest=risk_flag_raised@11:00 urgent=true; client-b unread=1 latest=milestone_reached@07:00 urgent=false; "
	if got != want {
		t.Errorf("summaries:\n got %s\nwant %s", got, want)
	}
	if team.asked != 1 {
		t.Errorf("plans was asked %d times, want once", team.asked)
	}
	if got := f.batchOutcomes(t, "client-x"); !slices.Equal(got, []string{counsellorID + " DENIED"}) {
		t.Errorf("client-x's access records = %v, want the counsellor DENIED", got)
	}
	for _, c := range []string{"client-a", "client-b"} {
		if got := f.batchOutcomes(t, c); !slices.Equal(got, []string{counsellorID + " ALLOWED"}) {
			t.Errorf("%s's access records = %v, want the counsellor ALLOWED", c, got)
		}
	}
	var recs []bson.M
	cur, err := f.db.Collection(server.CollAccess).Find(ctxT(t), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(ctxT(t), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Errorf("the batch wrote %d access records, want one write for all", len(recs))
	}

	// A client may ask about themself (nothing to log) but not another.
	own := summaryNote("client-a", "client-a", message.MilestoneReached, now, false)
	if err := n.StoreDeliveredForTest(ctxT(t), []inbox.Notification{own}); err != nil {
		t.Fatal(err)
	}
	sums, err = n.Summaries(ctxT(t), caller("client-a"), []string{"client-a", "client-b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].ClientID != "client-a" || sums[0].Unread != 1 {
		t.Errorf("the client's own summaries = %+v, want client-a with 1 unread", sums)
	}
	if got := f.batchOutcomes(t, "client-b"); !slices.Contains(got, "client-a DENIED") {
		t.Errorf("client-b's access records = %v, want client-a DENIED", got)
	}
	if got := f.batchOutcomes(t, "client-a"); slices.Contains(got, "client-a ALLOWED") {
		t.Errorf("the client's own read was logged: %v", got)
	}
}

// The store is read a constant number of times whatever the number of
// clients, and plans is asked once: counted by the driver's command
// monitor on a FerretDB of this test's own (the shared client has none).
func TestBatchSummariesMakeConstantStoreQueries(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	uri, stop, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: dir, Addr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	var mu sync.Mutex
	var commands []string
	counting := false
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		defer mu.Unlock()
		if counting {
			commands = append(commands, e.CommandName)
		}
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database("summaries")
	if err := mongox.EnsureIndexes(ctx, db, server.Indexes()); err != nil {
		t.Fatal(err)
	}
	url, _ := testenv.NATS(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	team := &authority{allowed: map[app.CareQuery]bool{}}
	n := app.New(db.Collection(server.CollNotifications), db.Collection(server.CollPreferences), careview.New(db), nc, clock.NewFake(now), quiet, nil).
		WithCareAuthority(team).WithAccessLog(docstore.New[app.AccessRecord](db.Collection(server.CollAccess), nil))
	count := func(clients int) ([]string, int) {
		var ids []string
		var notes []inbox.Notification
		for i := range clients {
			id := fmt.Sprintf("client-%d-%03d", clients, i)
			ids = append(ids, id)
			if i%5 != 4 { // one in five is another counsellor's
				team.set(app.CareQuery{ClientID: id, Scope: "PLAN_PROGRESS"}, true)
			}
			notes = append(notes, summaryNote(counsellorID, id, message.SlipRecorded, now, false))
		}
		if err := n.StoreDeliveredForTest(ctx, notes); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		commands, counting, team.asked = nil, true, 0
		mu.Unlock()
		sums, err := n.Summaries(ctx, caller(counsellorID), ids)
		mu.Lock()
		counting = false
		got := slices.Clone(commands)
		mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if len(sums) != clients*4/5 {
			t.Fatalf("%d summaries for %d clients, want %d", len(sums), clients, clients*4/5)
		}
		for _, s := range sums {
			if s.Unread != 1 {
				t.Fatalf("%s has %d unread, want 1", s.ClientID, s.Unread)
			}
		}
		return got, team.asked
	}
	c5, a5 := count(5)
	c50, a50 := count(50)
	if !slices.Equal(c5, c50) || len(c5) > 2 {
		t.Errorf("store commands: %v for 5 clients, %v for 50; want the same, one read and one write", c5, c50)
	}
	if a5 != 1 || a50 != 1 {
		t.Errorf("plans asked %d times for 5 clients, %d for 50; want once each", a5, a50)
	}
}
