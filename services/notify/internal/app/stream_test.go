package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// openStream runs Stream for user in the background and returns the
// notifications it sends; it returns once the feed is live.
func (f *fixture) openStream(t *testing.T, user, afterID string) <-chan inbox.Notification {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan inbox.Notification, 4096)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- f.n.Stream(ctx, caller(user), afterID, func() error { close(ready); return nil },
			func(n inbox.Notification) error { out <- n; return nil })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Stream: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Stream ended before it was live: %v", err)
	}
	return out
}

func receive(t *testing.T, feed <-chan inbox.Notification, n int) []inbox.Notification {
	t.Helper()
	var got []inbox.Notification
	timeout := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case note := <-feed:
			got = append(got, note)
		case <-timeout:
			t.Fatalf("received %d of %d notifications", len(got), n)
		}
	}
	return got
}

// feedNote is a delivered milestone notification of user, stamped at.
func feedNote(user string, day int, at time.Time) inbox.Notification {
	id := fmt.Sprintf("note-%05d", day)
	stamp := at
	return inbox.Notification{ID: id, UserID: user, Kind: message.MilestoneReached, MilestoneDay: day, EventID: "event-" + id,
		DeliverAt: at, DeliveredAt: &stamp}
}

// One open live feed carries 2,000 notifications, each once, in the order
// they were delivered (it used to stall after 500): 1,200 land at once
// (the feed reads on while a batch is full), then 800 more in writes of
// 100, each followed by its signal.
func TestStreamCarriesThousandsInOrder(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	feed := f.openStream(t, clientID, "")
	const total = 2000
	start := f.clk.Now()
	var notes []inbox.Notification
	for day := 1; day <= total; day++ {
		notes = append(notes, feedNote(clientID, day, start.Add(time.Duration(day)*time.Millisecond)))
	}
	writes := [][]inbox.Notification{notes[:1200]}
	for i := 1200; i < total; i += 100 {
		writes = append(writes, notes[i:i+100])
	}
	for _, w := range writes {
		if err := f.n.StoreDeliveredForTest(ctxT(t), w); err != nil {
			t.Fatal(err)
		}
	}
	got := receive(t, feed, total)
	for i, note := range got {
		if note.MilestoneDay != i+1 {
			t.Fatalf("notification %d is day %d, want day %d", i, note.MilestoneDay, i+1)
		}
	}
	// A last one, delivered as events are: it comes next, nothing is repeated.
	f.clk.Advance(time.Minute)
	f.deliver(t, milestone(clientID, total+1))
	if last := receive(t, feed, 1); last[0].MilestoneDay != total+1 {
		t.Fatalf("after %d notifications the feed sent day %d, want day %d", total, last[0].MilestoneDay, total+1)
	}
}

// Two replicas stamp delivered_at and then write: the one stamped earlier
// can land after the feed has sent the one stamped later. It is still
// sent, once.
func TestStreamCarriesANotificationStampedBeforeOneAlreadySent(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	feed := f.openStream(t, clientID, "")
	now := f.clk.Now()
	later, earlier := feedNote(clientID, 2, now.Add(2*time.Millisecond)), feedNote(clientID, 1, now.Add(time.Millisecond))
	if err := f.n.StoreDeliveredForTest(ctxT(t), []inbox.Notification{later}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, feed, 1); got[0].MilestoneDay != 2 {
		t.Fatalf("feed sent day %d first, want day 2", got[0].MilestoneDay)
	}
	if err := f.n.StoreDeliveredForTest(ctxT(t), []inbox.Notification{earlier}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, feed, 1); got[0].MilestoneDay != 1 {
		t.Fatalf("feed sent day %d, want the late-landing day 1", got[0].MilestoneDay)
	}
	// Nothing is sent twice: the next one is the next.
	f.clk.Advance(time.Second)
	f.deliver(t, milestone(clientID, 3))
	if got := receive(t, feed, 1); got[0].MilestoneDay != 3 {
		t.Fatalf("feed sent day %d, want day 3", got[0].MilestoneDay)
	}
}

// A notification held by quiet hours and released after the feed opened
// arrives on that feed.
func TestStreamCarriesAHeldNotificationWhenReleased(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, QuietStart: "22:00", QuietEnd: "07:00"}, "time_zone", "quiet_start", "quiet_end")
	f.clk.Set(time.Date(2026, 6, 10, 23, 30, 0, 0, loc))
	f.deliver(t, milestone(clientID, 14))

	f.clk.Set(time.Date(2026, 6, 11, 8, 0, 0, 0, loc)) // the feed opens after 07:00, before the release job runs
	feed := f.openStream(t, clientID, "")
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 1 {
		t.Fatalf("ReleaseDue = %d, %v; want 1", n, err)
	}
	if got := receive(t, feed, 1); got[0].MilestoneDay != 14 || got[0].Kind != message.MilestoneReached {
		t.Fatalf("feed sent %+v, want the day-14 milestone", got[0])
	}
}

// A dashboard reconnecting with the last id it saw gets everything
// delivered since, and nothing before.
func TestStreamReconnectWithAfterIDMissesNothing(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin}, "time_zone")
	for day := 1; day <= 3; day++ {
		f.clk.Advance(time.Millisecond)
		f.deliver(t, milestone(clientID, day))
	}
	seen := f.storedOf(t, clientID, message.MilestoneReached)
	var lastSeen string
	for _, s := range seen {
		if s.MilestoneDay == 2 {
			lastSeen = s.ID
		}
	}
	for day := 4; day <= 5; day++ { // while disconnected
		f.clk.Advance(time.Millisecond)
		f.deliver(t, milestone(clientID, day))
	}
	feed := f.openStream(t, clientID, lastSeen)
	got := receive(t, feed, 3)
	for i, note := range got {
		if note.MilestoneDay != i+3 {
			t.Fatalf("after reconnect notification %d is day %d, want day %d", i, note.MilestoneDay, i+3)
		}
	}
}
