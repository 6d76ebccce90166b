package app_test

// Webhooks as an integrator meets them: Standard Webhooks signatures that
// the official library verifies, a webhook-id that stays the same across
// retries, the retry schedule, 410 Gone, Retry-After, rotation with an
// overlap, delete and disable, and a receiver failing for days. Real
// receivers (httptest), the real database, a fake clock moved to each
// attempt's due time; no sleeps.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/sealcodec"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/message"
	"github.com/nocontact/backend/services/notify/internal/webhook"
	"github.com/nocontact/backend/services/notify/server"
)

// got is one request a scripted receiver received.
type got struct {
	header http.Header
	body   []byte
	at     time.Time // the fake clock when it arrived
}

// scripted answers each request with the next of its statuses (the last
// one once they run out), with Retry-After when set.
type scripted struct {
	mu         sync.Mutex
	statuses   []int
	retryAfter string
	clk        interface{ Now() time.Time }
	got        []got
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, r.ContentLength)
	_, _ = r.Body.Read(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, got{header: r.Header.Clone(), body: body, at: s.clk.Now()})
	status := s.statuses[min(len(s.got), len(s.statuses))-1]
	if s.retryAfter != "" && status != http.StatusNoContent {
		w.Header().Set("Retry-After", s.retryAfter)
	}
	w.WriteHeader(status)
}

func (s *scripted) requests() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]got(nil), s.got...)
}

func (f *fixture) receiver(t *testing.T, statuses ...int) (*scripted, string) {
	s := &scripted{statuses: statuses, clk: f.clk}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/hook"
}

// sendPass runs one SendWebhooks on n.
func sendPass(t *testing.T, n *app.Notify) int {
	t.Helper()
	sent, err := n.SendWebhooks(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

// toNextDue moves the clock to the earliest pending attempt, if later.
func (f *fixture) toNextDue(t *testing.T) bool {
	t.Helper()
	var next app.Delivery
	err := f.db.Collection(server.CollDeliveries).FindOne(ctxT(t), bson.D{{Key: "status", Value: app.DeliveryPending}},
		options.FindOne().SetSort(bson.D{{Key: "next_attempt_at", Value: 1}})).Decode(&next)
	if err != nil {
		return false
	}
	if next.NextAttemptAt.After(f.clk.Now()) {
		f.clk.Set(next.NextAttemptAt)
	}
	return true
}

func (f *fixture) hook(t *testing.T, id string) app.Webhook {
	t.Helper()
	raw, err := f.db.Collection(server.CollWebhooks).FindOne(ctxT(t), bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	var h app.Webhook // with its secrets opened
	if err := sealcodec.New(f.keys(), app.SealedSpec).Decode(ctxT(t), raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func verifier(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("the secret %q... is not a Standard Webhooks secret: %v", secret[:min(len(secret), 8)], err)
	}
	return wh
}

// A delivery that fails twice and then succeeds: every attempt verifies
// with the official library and the secret shown at creation, carries the
// same webhook-id (the delivery's id), is signed at its own time, and
// comes on the schedule (at once, 5 s, 5 min, within the jitter). The
// payload is thin: ids, the API's kind name, time and a link. The
// deprecated header still verifies by its rule.
func TestDeliveryVerifiesWithTheStandardLibraryAndKeepsItsIDAcrossRetries(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second) // the library checks against the real clock
	f := newFixture(t, start)
	f.sender(f.n)
	rcv, url := f.receiver(t, http.StatusInternalServerError, http.StatusInternalServerError, http.StatusNoContent)
	h, err := f.n.CreateWebhook(ctxT(t), caller(clientID), clientID, url, "", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.Secret, "whsec_") {
		t.Fatalf("the secret shown at creation is %q..., want a whsec_ secret", h.Secret[:min(len(h.Secret), 8)])
	}
	wh := verifier(t, h.Secret)
	f.deliver(t, milestone(clientID, 3))
	for range 3 {
		sendPass(t, f.n)
		f.toNextDue(t)
	}
	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("the receiver got %d requests, want 3", len(reqs))
	}
	ds := f.deliveriesOf(t, h.ID)
	if len(ds) != 1 || ds[0].Status != app.DeliveryDelivered {
		t.Fatalf("deliveries = %+v, want one delivered", ds)
	}
	for i, r := range reqs {
		if err := wh.VerifyIgnoringTimestamp(r.body, r.header); err != nil {
			t.Errorf("attempt %d does not verify with the Standard Webhooks library: %v", i+1, err)
		}
		if got := r.header.Get("webhook-id"); got != ds[0].ID {
			t.Errorf("attempt %d: webhook-id %q, want the delivery's id %q on every attempt", i+1, got, ds[0].ID)
		}
		if got, want := r.header.Get("webhook-timestamp"), strconv.FormatInt(r.at.Unix(), 10); got != want {
			t.Errorf("attempt %d: webhook-timestamp %s, want its own time %s", i+1, got, want)
		}
		if err := webhook.Verify([]byte(h.Secret), r.header.Get(webhook.SignatureHeader), r.body, r.at, 0); err != nil {
			t.Errorf("attempt %d: the deprecated %s: %v", i+1, webhook.SignatureHeader, err)
		}
	}
	if err := wh.Verify(reqs[0].body, reqs[0].header); err != nil {
		t.Errorf("the first attempt, with the timestamp check: %v", err)
	}
	for i, want := range []time.Duration{5 * time.Second, 5 * time.Minute} {
		gap := reqs[i+1].at.Sub(reqs[i].at)
		if d := float64(gap-want) / float64(want); d < -webhook.JitterFraction-0.01 || d > webhook.JitterFraction+0.01 {
			t.Errorf("retry %d came %s after the attempt before, want %s ± 10%%", i+1, gap, want)
		}
	}

	var p struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(reqs[0].body, &p); err != nil {
		t.Fatal(err)
	}
	note := f.inbox(t, clientID)[0]
	if p.Type != "notification.created" || p.Data["kind"] != "NOTIFICATION_KIND_MILESTONE_REACHED" || p.Data["notificationId"] != note.ID ||
		p.Data["userId"] != clientID || p.Data["url"] != "/v1/notifications/"+note.ID || !p.Timestamp.Equal(note.CreateTime) {
		t.Errorf("payload = %s", reqs[0].body)
	}
	for _, field := range []string{"title", "body", "planId", "clientId"} {
		if _, ok := p.Data[field]; ok {
			t.Errorf("the payload carries %s: %s", field, reqs[0].body)
		}
	}
	if strings.Contains(string(reqs[0].body), note.Body) || strings.Contains(string(reqs[0].body), note.Title) {
		t.Errorf("the payload carries the notification's text: %s", reqs[0].body)
	}
}

// A receiver that answers 410 Gone disables the webhook: the delivery is
// given up at once, the owner finds a notification (lock-screen safe) in
// their inbox, and later notifications are not sent to it.
func TestGoneDisablesTheWebhookAndTellsTheOwner(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	f.sender(f.n)
	rcv, url := f.receiver(t, http.StatusGone)
	h := f.webhookFor(t, f.n, clientID, url)
	f.deliver(t, milestone(clientID, 3))
	sendPass(t, f.n)
	ds := f.deliveriesOf(t, h.ID)
	if len(ds) != 1 || ds[0].Status != app.DeliveryFailed || ds[0].Attempts != 1 {
		t.Fatalf("deliveries = %+v, want one given up after its one attempt", ds)
	}
	if got := f.hook(t, h.ID); !got.Disabled || got.DisableReason != app.DisabledGone {
		t.Fatalf("webhook after 410: disabled %v (%s), want disabled as gone", got.Disabled, got.DisableReason)
	}
	notices := ofKind(f.inbox(t, clientID), message.WebhookDisabled)
	if len(notices) != 1 {
		t.Fatalf("the owner has %d webhook notices, want 1:%s", len(notices), describe(f.inbox(t, clientID)))
	}
	f.deliver(t, milestone(clientID, 7))
	f.clk.Advance(time.Hour)
	sendPass(t, f.n)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests, want only the one answered 410", n)
	}
	if ds := f.deliveriesOf(t, h.ID); len(ds) != 1 {
		t.Fatalf("a disabled webhook has %d deliveries, want no new one", len(ds))
	}
}

// A 503 with Retry-After: 3600 slows the whole webhook down: neither the
// delivery nor the webhook's other one is tried before the hour is up
// (the schedule alone would retry in 5 s), and both go out after it.
func TestRetryAfterSlowsTheWebhookDown(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	f.sender(f.n)
	rcv, url := f.receiver(t, http.StatusServiceUnavailable, http.StatusNoContent)
	rcv.retryAfter = "3600"
	h := f.webhookFor(t, f.n, clientID, url)
	f.deliver(t, milestone(clientID, 3))
	f.deliver(t, milestone(clientID, 7))
	sendPass(t, f.n)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("after a 503 the receiver got %d requests in the same pass, want 1", n)
	}
	f.clk.Set(start.Add(59 * time.Minute))
	sendPass(t, f.n)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("within the receiver's Retry-After the receiver got %d requests, want still 1", n)
	}
	f.clk.Set(start.Add(time.Hour + time.Second))
	if sent := sendPass(t, f.n); sent != 2 {
		t.Fatalf("after Retry-After the pass delivered %d, want both", sent)
	}
	for _, d := range f.deliveriesOf(t, h.ID) {
		if d.Status != app.DeliveryDelivered {
			t.Errorf("delivery %s is %s, want delivered", d.ID, d.Status)
		}
	}
}

// Rotation: the new secret is shown once and differs; for 24 hours each
// delivery carries two signatures and verifies with the old secret and the
// new one; after that, with the new one only. Two rotations at once lose
// no secret: the one returned first is still the previous one.
func TestRotationSignsWithBothSecretsForADay(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	f.sender(f.n)
	rcv, url := f.receiver(t, http.StatusNoContent)
	h := f.webhookFor(t, f.n, clientID, url)
	rotated, err := f.n.RotateWebhookSecret(ctxT(t), caller(clientID), clientID, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == h.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
		t.Fatal("the rotation did not return a new whsec_ secret")
	}
	f.deliver(t, milestone(clientID, 3))
	sendPass(t, f.n)
	f.clk.Set(start.Add(webhook.Backoff(1, nil) + 24*time.Hour + time.Second))
	f.deliver(t, milestone(clientID, 7))
	sendPass(t, f.n)
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("the receiver got %d requests, want 2", len(reqs))
	}
	if sigs := strings.Fields(reqs[0].header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("during the overlap webhook-signature has %d signatures, want 2", len(sigs))
	}
	for name, s := range map[string]string{"old": h.Secret, "new": rotated.Secret} {
		if err := verifier(t, s).VerifyIgnoringTimestamp(reqs[0].body, reqs[0].header); err != nil {
			t.Errorf("during the overlap, the %s secret: %v", name, err)
		}
	}
	if err := verifier(t, rotated.Secret).VerifyIgnoringTimestamp(reqs[1].body, reqs[1].header); err != nil {
		t.Errorf("after the overlap, the new secret: %v", err)
	}
	if err := verifier(t, h.Secret).VerifyIgnoringTimestamp(reqs[1].body, reqs[1].header); err == nil {
		t.Error("after the overlap the old secret still verifies")
	}

	// Replica B rotates between replica A's read and its write.
	b := f.sender(f.replica())
	var fromB app.Webhook
	once := sync.Once{}
	f.n.SetRaceHooks(app.RaceHooks{SecretRead: func(string) {
		once.Do(func() {
			if fromB, err = b.RotateWebhookSecret(ctxT(t), caller(clientID), clientID, h.ID); err != nil {
				t.Error(err)
			}
		})
	}})
	fromA, err := f.n.RotateWebhookSecret(ctxT(t), caller(clientID), clientID, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if now := f.hook(t, h.ID); now.Secret != fromA.Secret || now.PrevSecret != fromB.Secret {
		t.Fatal("of two rotations at once, the secret returned first no longer verifies")
	}
}

// Deleting a webhook stops its deliveries, retries included, and frees its
// place; disabling one gives up its pending deliveries and sends nothing
// new until it is enabled again. Both are the owner's only.
func TestDeleteAndDisableStopDeliveries(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	f.sender(f.n)
	rcv, url := f.receiver(t, http.StatusInternalServerError)
	h := f.webhookFor(t, f.n, clientID, url)
	f.deliver(t, milestone(clientID, 3))
	sendPass(t, f.n)
	if err := f.n.DeleteWebhook(ctxT(t), caller("client-2"), "client-2", h.ID); err == nil {
		t.Fatal("another user deleted the webhook")
	}
	if err := f.n.DeleteWebhook(ctxT(t), caller(clientID), clientID, h.ID); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)
	sendPass(t, f.n)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("after the delete the receiver got %d requests, want only the first", n)
	}
	if hooks, err := f.n.ListWebhooks(ctxT(t), caller(clientID), clientID); err != nil || len(hooks) != 0 {
		t.Fatalf("webhooks after the delete = %d, %v", len(hooks), err)
	}

	ok, okURL := f.receiver(t, http.StatusInternalServerError, http.StatusNoContent)
	h2 := f.webhookFor(t, f.n, clientID, okURL)
	f.deliver(t, milestone(clientID, 7))
	sendPass(t, f.n) // fails, a retry is pending
	if _, err := f.n.DisableWebhook(ctxT(t), caller("client-2"), clientID, h2.ID); err == nil {
		t.Fatal("another user disabled the webhook")
	}
	if w, err := f.n.DisableWebhook(ctxT(t), caller(clientID), clientID, h2.ID); err != nil || !w.Disabled || w.DisableReason != app.DisabledByOwner {
		t.Fatalf("DisableWebhook = %+v, %v", w.Disabled, err)
	}
	f.deliver(t, milestone(clientID, 14))
	f.clk.Advance(time.Hour)
	sendPass(t, f.n)
	if n := len(ok.requests()); n != 1 {
		t.Fatalf("a disabled webhook's receiver got %d requests, want only the first", n)
	}
	for _, d := range f.deliveriesOf(t, h2.ID) {
		if d.Status != app.DeliveryFailed {
			t.Errorf("a disabled webhook's delivery is %s, want given up", d.Status)
		}
	}
	if _, err := f.n.EnableWebhook(ctxT(t), caller(clientID), clientID, h2.ID); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, milestone(clientID, 21))
	if sent := sendPass(t, f.n); sent != 1 {
		t.Fatalf("after EnableWebhook the pass delivered %d, want the new notification", sent)
	}
}

// A receiver that fails every delivery: four days on it is still tried;
// once five days have passed since the first failure the webhook is
// disabled and its owner told, once, though two replicas reach the
// decision at the same moment (replica B disables between replica A's
// failure record and A's own disable).
func TestFailingForDaysDisablesAndNotifiesTheOwnerOnceOnTwoReplicas(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	a := f.sender(f.n)
	b := f.sender(f.replica())
	_, url := f.receiver(t, http.StatusInternalServerError)
	h := f.webhookFor(t, a, clientID, url)
	f.deliver(t, milestone(clientID, 3))
	sendPass(t, a)
	f.clk.Set(start.Add(4 * 24 * time.Hour))
	f.deliver(t, milestone(clientID, 7))
	sendPass(t, a)
	if got := f.hook(t, h.ID); got.Disabled {
		t.Fatal("disabled after four days of failures")
	}

	f.clk.Set(start.Add(webhook.FailingFor + time.Minute))
	f.deliver(t, milestone(clientID, 14))
	f.deliver(t, milestone(clientID, 21))
	once := sync.Once{}
	a.SetRaceHooks(app.RaceHooks{WebhookDisabling: func(string) { once.Do(func() { sendPass(t, b) }) }})
	sendPass(t, a)
	got := f.hook(t, h.ID)
	if !got.Disabled || got.DisableReason != app.DisabledFailing {
		t.Fatalf("after five days of failures: disabled %v (%s), want disabled as failing", got.Disabled, got.DisableReason)
	}
	if notices := ofKind(f.inbox(t, clientID), message.WebhookDisabled); len(notices) != 1 {
		t.Fatalf("the owner has %d webhook notices, want exactly 1:%s", len(notices), describe(f.inbox(t, clientID)))
	}
	for _, d := range f.deliveriesOf(t, h.ID) {
		if d.Status == app.DeliveryPending {
			t.Errorf("delivery %s is still pending on a disabled webhook", d.ID)
		}
	}
}

// A replica that stopped between disabling a webhook and telling its
// owner leaves the notice due: the next pass, on either replica, stores
// it, once.
func TestADisableWhoseNoticeWasLostIsToldOnce(t *testing.T) {
	start := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	a := f.sender(f.n)
	b := f.sender(f.replica())
	if _, err := f.db.Collection(server.CollWebhooks).InsertOne(ctxT(t), app.Webhook{ID: "wh-lost", UserID: clientID,
		URL: "http://127.0.0.1:9/hook", Secret: webhook.NewSecret(), CreateTime: start, Disabled: true,
		DisableReason: app.DisabledGone, DisableTime: &start, AutoDisables: 1, NoticeDue: true}); err != nil {
		t.Fatal(err)
	}
	sendPass(t, a)
	sendPass(t, b)
	if notices := ofKind(f.inbox(t, clientID), message.WebhookDisabled); len(notices) != 1 {
		t.Fatalf("the owner has %d webhook notices, want exactly 1", len(notices))
	}
	if got := f.hook(t, "wh-lost"); got.NoticeDue {
		t.Fatal("the notice is still due after it was stored")
	}
}
