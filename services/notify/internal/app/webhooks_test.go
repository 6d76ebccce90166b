package app_test

// Webhook deliveries under load and with replicas: a slow receiver holds up
// nobody else, each attempt is signed and leased at its own time, a replica
// never posts what another holds, and a late result after a lost lease
// changes nothing. Real receivers (httptest), the real database, a fake
// clock; every wait is for a request or a pass to arrive, never a sleep.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/webhook"
	"github.com/nocontact/backend/services/notify/server"
)

// request is one POST a gated receiver holds: the test reads it and
// answers it with a status on reply.
type request struct {
	path, signature string
	body            []byte
	reply           chan int
	// answered closes when the receiver's handler has returned.
	answered chan struct{}
}

// gated is a webhook receiver that hands every request to the test and
// answers only when the test says so (or the sender gives up).
type gated struct{ requests chan request }

func newGated(t *testing.T) (*gated, *httptest.Server) {
	g := &gated{requests: make(chan request, 16)}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := request{path: r.URL.Path, signature: r.Header.Get(webhook.SignatureHeader), body: body,
		reply: make(chan int, 1), answered: make(chan struct{})}
	defer close(req.answered)
	g.requests <- req
	select {
	case code := <-req.reply:
		w.WriteHeader(code)
	case <-r.Context().Done():
	}
}

// next waits for the receiver's next request.
func (g *gated) next(t *testing.T, what string) request {
	t.Helper()
	select {
	case r := <-g.requests:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return request{}
	}
}

// signedAt is the unix time a signature header carries.
func signedAt(t *testing.T, header string) int64 {
	t.Helper()
	for part := range strings.SplitSeq(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("signature %q: %v", header, err)
			}
			return n
		}
	}
	t.Fatalf("signature %q carries no timestamp", header)
	return 0
}

type passResult struct {
	sent int
	err  error
}

// pass runs one SendWebhooks of n in the background.
func pass(ctx context.Context, n *app.Notify) <-chan passResult {
	out := make(chan passResult, 1)
	go func() {
		sent, err := n.SendWebhooks(ctx)
		out <- passResult{sent, err}
	}()
	return out
}

func wait(t *testing.T, what string, c <-chan passResult) passResult {
	t.Helper()
	select {
	case r := <-c:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return passResult{}
	}
}

// sender gives replica n its own webhook sender over the fixture's database.
func (f *fixture) sender(n *app.Notify) *app.Notify {
	return n.WithWebhooks(app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), f.keys(), true))
}

func (f *fixture) webhookFor(t *testing.T, n *app.Notify, user, url string) app.Webhook {
	t.Helper()
	h, err := n.CreateWebhook(ctxT(t), caller(user), user, url, "", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (f *fixture) deliveriesOf(t *testing.T, webhookID string) []app.Delivery {
	t.Helper()
	cur, err := f.db.Collection(server.CollDeliveries).Find(ctxT(t), bson.D{{Key: "webhook_id", Value: webhookID}})
	if err != nil {
		t.Fatal(err)
	}
	var out []app.Delivery
	if err := cur.All(ctxT(t), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// One user's receiver hangs; another user's delivery, due after it, is
// posted while the first is still hanging.
func TestSlowReceiverDoesNotHoldBackAnotherUsersDelivery(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	f.sender(f.n)
	slow, slowSrv := newGated(t)
	fast, fastSrv := newGated(t)
	const other = "client-2"
	f.webhookFor(t, f.n, clientID, slowSrv.URL+"/slow")
	fastHook := f.webhookFor(t, f.n, other, fastSrv.URL+"/fast")
	f.deliver(t, milestone(clientID, 3))
	f.clk.Advance(time.Second) // the slow receiver's delivery is the older one
	f.deliver(t, milestone(other, 3))

	done := pass(ctxT(t), f.n)
	hanging := slow.next(t, "the slow receiver's request")
	got := fast.next(t, "the other user's request")
	select {
	case <-hanging.answered:
		t.Fatal("the other user's delivery was posted only after the slow receiver's request ended")
	default:
	}
	got.reply <- http.StatusNoContent
	<-got.answered
	hanging.reply <- http.StatusNoContent
	if r := wait(t, "the pass", done); r.sent != 2 {
		t.Fatalf("pass delivered %d, want 2", r.sent)
	}
	if ds := f.deliveriesOf(t, fastHook.ID); len(ds) != 1 || ds[0].Status != app.DeliveryDelivered {
		t.Fatalf("the other user's deliveries = %+v, want one delivered", ds)
	}
}

// Two deliveries to one receiver: the second attempt is made after the
// first one's 50 s and is signed with the clock of its own attempt, and its
// lease runs from then: 65 s after the pass began, another replica does not
// take it over (the lease counted from the pass start would have run out).
func TestWebhookAttemptIsSignedAndLeasedAtItsOwnTime(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	a := f.sender(f.n)
	b := f.sender(f.replica())
	g, srv := newGated(t)
	h := f.webhookFor(t, a, clientID, srv.URL+"/hook")
	f.deliver(t, milestone(clientID, 3))
	f.deliver(t, milestone(clientID, 7))

	ctx := ctxT(t)
	doneA := pass(ctx, a)
	first := g.next(t, "the first attempt")
	if got := signedAt(t, first.signature); got != start.Unix() {
		t.Errorf("first attempt signed at %d, want %d", got, start.Unix())
	}
	second50 := f.clk.Advance(50 * time.Second)
	first.reply <- http.StatusNoContent
	second := g.next(t, "the second attempt")
	if got := signedAt(t, second.signature); got != second50.Unix() {
		t.Errorf("second attempt signed at %d (%v after the pass began), want the clock of its attempt %d",
			got, time.Unix(got, 0).Sub(start), second50.Unix())
	}

	f.clk.Advance(15 * time.Second)
	doneB := pass(ctx, b)
	select {
	case r := <-g.requests:
		r.reply <- http.StatusNoContent
		t.Error("replica B posted a delivery replica A holds under a live lease")
	case r := <-doneB:
		if r.err != nil || r.sent != 0 {
			t.Errorf("replica B's pass = %d, %v; want nothing to do", r.sent, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for replica B's pass")
	}
	second.reply <- http.StatusNoContent
	if r := wait(t, "replica A's pass", doneA); r.sent != 2 {
		t.Errorf("replica A delivered %d, want 2", r.sent)
	}
	for _, d := range f.deliveriesOf(t, h.ID) {
		if d.Status != app.DeliveryDelivered || d.Attempts != 1 {
			t.Errorf("delivery %s: %s after %d attempts, want delivered after 1", d.ID, d.Status, d.Attempts)
		}
	}
}

// Replica A's attempt outlives its lease (forced: the clock jumps past
// it); replica B takes the delivery over and delivers it. A's late answer,
// a failure, does not overwrite B's result.
func TestLateResultAfterALostLeaseChangesNothing(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	a := f.sender(f.n)
	b := f.sender(f.replica())
	g, srv := newGated(t)
	h := f.webhookFor(t, a, clientID, srv.URL+"/hook")
	f.deliver(t, milestone(clientID, 3))

	ctx := ctxT(t)
	doneA := pass(ctx, a)
	late := g.next(t, "replica A's attempt")
	f.clk.Advance(webhook.Lease - time.Second)
	if r := wait(t, "replica B's pass within A's lease", pass(ctx, b)); r.sent != 0 {
		t.Fatalf("replica B delivered %d within A's lease", r.sent)
	}
	f.clk.Advance(2 * time.Second) // A's lease has run out
	doneB := pass(ctx, b)
	taken := g.next(t, "replica B's attempt")
	taken.reply <- http.StatusNoContent
	if r := wait(t, "replica B's pass", doneB); r.sent != 1 {
		t.Fatalf("replica B delivered %d, want 1", r.sent)
	}
	late.reply <- http.StatusServiceUnavailable
	if r := wait(t, "replica A's pass", doneA); r.sent != 0 {
		t.Fatalf("replica A delivered %d, want 0", r.sent)
	}
	ds := f.deliveriesOf(t, h.ID)
	if len(ds) != 1 {
		t.Fatalf("deliveries = %+v, want 1", ds)
	}
	if d := ds[0]; d.Status != app.DeliveryDelivered || d.LastHTTPStatus != http.StatusNoContent || d.LastError != "" || d.Attempts != 2 {
		t.Fatalf("delivery = %s, HTTP %d, %q after %d attempts; want B's result: delivered, HTTP 204, no error, 2 attempts",
			d.Status, d.LastHTTPStatus, d.LastError, d.Attempts)
	}
}

// A failure between releasing a held notification and enqueueing its
// webhook loses nothing: the next pass sends the webhook, once.
func TestReleasedNotificationKeepsItsWebhookAcrossAFailure(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, loc))
	f.sender(f.n)
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, QuietStart: "22:00", QuietEnd: "07:00"}, "time_zone", "quiet_start", "quiet_end")
	h := f.webhookFor(t, f.n, clientID, "http://127.0.0.1:9/hook")
	f.clk.Set(time.Date(2026, 6, 10, 23, 30, 0, 0, loc))
	f.deliver(t, milestone(clientID, 14))
	if ds := f.deliveriesOf(t, h.ID); len(ds) != 0 {
		t.Fatalf("held notification enqueued %d webhook deliveries", len(ds))
	}

	f.clk.Set(time.Date(2026, 6, 11, 7, 0, 0, 0, loc))
	crash := errors.New("crash between the release and the webhook")
	f.n.SetBeforeReleaseWebhooks(func(string) error { return crash })
	if _, err := f.n.ReleaseDue(ctxT(t)); !errors.Is(err, crash) {
		t.Fatalf("ReleaseDue with the failure = %v, want it", err)
	}
	f.n.SetBeforeReleaseWebhooks(nil)
	for range 2 {
		if _, err := f.n.ReleaseDue(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.inbox(t, clientID); len(got) != 1 {
		t.Fatalf("inbox after the release:%s\nwant the milestone", describe(got))
	}
	if ds := f.deliveriesOf(t, h.ID); len(ds) != 1 {
		t.Fatalf("webhook deliveries after the failure and two more passes = %d, want exactly 1", len(ds))
	}
}

// counting is a receiver that accepts every request and counts them.
type counting struct {
	mu    sync.Mutex
	calls int
}

func (c *counting) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// A backlog larger than any batch is sent in one pass: nothing waits for
// the next tick while more is due.
func TestOnePassDrainsABacklogLargerThanABatch(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	f.sender(f.n)
	rcv := &counting{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var hooks []app.Webhook
	for i := range 3 {
		hooks = append(hooks, f.webhookFor(t, f.n, clientID, srv.URL+"/hook"+strconv.Itoa(i)))
	}
	const backlog = 75
	docs := make([]any, 0, backlog)
	for i := range backlog {
		docs = append(docs, app.Delivery{ID: "dl-" + strconv.Itoa(i), WebhookID: hooks[i%len(hooks)].ID, UserID: clientID,
			NotificationID: "n-" + strconv.Itoa(i), Payload: []byte(`{}`), Status: app.DeliveryPending,
			NextAttemptAt: start.Add(-time.Duration(i) * time.Millisecond), CreateTime: start})
	}
	if _, err := f.db.Collection(server.CollDeliveries).InsertMany(ctxT(t), docs); err != nil {
		t.Fatal(err)
	}
	sent, err := f.n.SendWebhooks(ctxT(t))
	if err != nil || sent != backlog {
		t.Fatalf("one pass delivered %d, %v; want all %d", sent, err, backlog)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.calls != backlog {
		t.Fatalf("the receiver got %d requests, want %d", rcv.calls, backlog)
	}
}
