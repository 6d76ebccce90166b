package app_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
	"github.com/nocontact/backend/services/notify/server"
)

// backlogSize is how many fall due at once. By default 60, enough for two
// replicas to interleave; NOCONTACT_BIG_BACKLOG=1 makes it 700, past the
// 500 rows the jobs used to read per tick (about 4 minutes on FerretDB,
// which scans the collection for every claim).
func backlogSize() int {
	if os.Getenv("NOCONTACT_BIG_BACKLOG") == "1" {
		return 700
	}
	return 60
}

// onTwoReplicas runs job on replicas a and b at the same time and returns
// what each reported.
func onTwoReplicas(t *testing.T, a, b *app.Notify, job func(*app.Notify) (int, error)) [2]int {
	t.Helper()
	var counts [2]int
	var errs [2]error
	var wg sync.WaitGroup
	for i, r := range []*app.Notify{a, b} {
		wg.Go(func() { counts[i], errs[i] = job(r) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return counts
}

// Held notifications that all fell due at once (the end of everyone's
// quiet hours) are released in one pass, however many, and two replicas
// passing at the same time release each exactly once between them.
func TestReleaseDrainsABacklogOnceAcrossTwoReplicas(t *testing.T) {
	backlog := backlogSize()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := newFixture(t, time.Date(2026, 6, 11, 7, 0, 0, 0, time.UTC))
	held := make([]inbox.Notification, backlog)
	for i := range held {
		at := f.clk.Now().Add(-time.Duration(i) * time.Second)
		held[i] = inbox.Notification{ID: fmt.Sprintf("held-%04d", i), UserID: fmt.Sprintf("user-%04d", i), Kind: message.MilestoneReached,
			EventID: fmt.Sprintf("event-%04d", i), DeliverAt: at, CreateTime: at.Add(-8 * time.Hour)}
	}
	if err := f.n.StoreHeldForTest(ctxT(t), held); err != nil {
		t.Fatal(err)
	}
	counts := onTwoReplicas(t, f.n, f.replica(), func(r *app.Notify) (int, error) { return r.ReleaseDue(ctx) })
	if counts[0]+counts[1] != backlog {
		t.Fatalf("released %d + %d, want the %d held once each", counts[0], counts[1], backlog)
	}
	left, err := f.db.Collection(server.CollNotifications).CountDocuments(ctxT(t), bson.D{{Key: "delivered", Value: false}})
	if err != nil || left != 0 {
		t.Fatalf("%d still held after one pass (%v), want 0", left, err)
	}
}

// Daily reminders due for many users at one local time all go out in one
// pass, each once, whichever of two replicas sends it.
func TestRemindersDrainABacklogOnceAcrossTwoReplicas(t *testing.T) {
	backlog := backlogSize()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := newFixture(t, time.Date(2026, 6, 11, 9, 0, 0, 0, time.UTC))
	due := f.clk.Now().Add(-time.Minute)
	docs := make([]any, backlog)
	for i := range docs {
		p := inbox.Preferences{UserID: fmt.Sprintf("user-%04d", i), TimeZone: "UTC", CheckInReminderTime: "08:59", NextCheckInAt: &due}
		docs[i] = struct {
			ID                string `bson:"_id"`
			Version           int64  `bson:"version"`
			inbox.Preferences `bson:",inline"`
		}{p.UserID, 1, p}
	}
	if _, err := f.db.Collection(server.CollPreferences).InsertMany(ctxT(t), docs); err != nil {
		t.Fatal(err)
	}
	counts := onTwoReplicas(t, f.n, f.replica(), func(r *app.Notify) (int, error) { return r.SendReminders(ctx) })
	if counts[0]+counts[1] != backlog {
		t.Fatalf("sent %d + %d reminders, want %d, one per user", counts[0], counts[1], backlog)
	}
	sent := f.stored(t, bson.D{{Key: "kind", Value: string(message.CheckInReminder)}})
	if len(sent) != backlog {
		t.Fatalf("%d reminders stored, want %d", len(sent), backlog)
	}
	stillDue, err := f.db.Collection(server.CollPreferences).CountDocuments(ctxT(t), bson.D{{Key: "next_check_in_at", Value: bson.D{{Key: "$lte", Value: f.clk.Now()}}}})
	if err != nil || stillDue != 0 {
		t.Fatalf("%d reminders still due after one pass (%v), want 0", stillDue, err)
	}
}
