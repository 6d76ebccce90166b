package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/nocontact/backend/platform/auth"
)

func notificationsByKind(t *testing.T, s *suite, tok string) map[string][]map[string]any {
	t.Helper()
	out := s.mustCall(http.StatusOK, "GET", "/v1/notifications?pageSize=100", tok, nil)
	by := map[string][]map[string]any{}
	list, _ := out["notifications"].([]any)
	for _, n := range list {
		nm := n.(map[string]any)
		by[nm["kind"].(string)] = append(by[nm["kind"].(string)], nm)
	}
	return by
}

// A plan started 8 days ago and activated gives its client exactly one
// notification for each of milestones 1, 3 and 7 within seconds; a live
// feed opened by a dashboard receives the next ones as they happen.
func TestNotificationsExactlyOnceAndLiveFeed(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	client := token(t, "client-n", auth.RoleClient)
	start := time.Now().Add(-8 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "Europe/Paris", "startTime": start})
	id := plan["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})

	eventually(t, 5*time.Second, func() string {
		if len(notificationsByKind(t, s, client)["NOTIFICATION_KIND_MILESTONE_REACHED"]) < 3 {
			return "milestone notifications did not arrive within 5 s"
		}
		return ""
	})
	s.settle() // a scan on every replica, the outbox empty, notify through it
	days := map[float64]int{}
	for _, n := range notificationsByKind(t, s, client)["NOTIFICATION_KIND_MILESTONE_REACHED"] {
		days[n["milestoneDay"].(float64)]++
		if n["title"] == "" || n["body"] == "" || n["planId"] != id {
			t.Fatalf("milestone notification = %v", n)
		}
	}
	if len(days) != 3 || days[1] != 1 || days[3] != 1 || days[7] != 1 {
		t.Fatalf("milestone notifications by day = %v, want one each for 1, 3 and 7", days)
	}

	// The live feed: a dashboard connects, then a slip is logged.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/v1/notifications:stream", nil)
	req.Header.Set("Authorization", "Bearer "+client)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("live feed Content-Type = %q, want application/x-ndjson (as documented)", ct)
	}
	got := make(chan map[string]any, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var line struct {
				Result struct {
					Notification map[string]any `json:"notification"`
				} `json:"result"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Result.Notification != nil {
				got <- line.Result.Notification
			}
		}
		close(got)
	}()
	// The feed answered its headers (resp above) only once it was
	// subscribed: a slip logged now is on it.
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+"/contacts", client, map[string]any{
		"direction": "OUTBOUND", "channel": "TEXT", "occurredAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
	})
	select {
	case n := <-got:
		if n["kind"] != "NOTIFICATION_KIND_SLIP_RECORDED" {
			t.Fatalf("live feed sent %v, want the slip notification", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the live feed sent nothing within 5 s")
	}
	cancel()

	// Reading: one, then all.
	unread := s.mustCall(http.StatusOK, "GET", "/v1/notifications?unreadOnly=true", client, nil)
	if unread["unreadCount"] != float64(4) {
		t.Fatalf("unread = %v, want 4 (three milestones and the slip)", unread["unreadCount"])
	}
	first := unread["notifications"].([]any)[0].(map[string]any)
	read := s.mustCall(http.StatusOK, "POST", "/v1/notifications/"+first["id"].(string)+":markRead", client, map[string]any{})
	if read["readTime"] == nil {
		t.Fatalf("marked notification = %v", read)
	}
	all := s.mustCall(http.StatusOK, "POST", "/v1/notifications:markAllRead", client, map[string]any{})
	if all["marked"] != float64(3) {
		t.Fatalf("markAllRead marked %v, want 3", all["marked"])
	}
	// Another user cannot read or mark someone else's notification.
	other := token(t, "client-o", auth.RoleClient)
	s.mustCall(http.StatusNotFound, "POST", "/v1/notifications/"+first["id"].(string)+":markRead", other, map[string]any{})
}

// Quiet hours hold a non-urgent notification (it is stored, not shown);
// preferences are the user's own and validated.
func TestQuietHoursHoldNotifications(t *testing.T) {
	s := startSuite(t)
	client := token(t, "client-q", auth.RoleClient)
	now := time.Now().UTC()
	quiet := map[string]any{
		"timeZone":   "UTC",
		"quietStart": now.Add(-time.Hour).Format("15:04"),
		"quietEnd":   now.Add(2 * time.Hour).Format("15:04"),
		"discreet":   true,
	}
	s.mustCall(http.StatusOK, "PATCH", "/v1/users/client-q/notification-preferences", client, quiet)
	s.mustCall(http.StatusNotFound, "GET", "/v1/users/client-q/notification-preferences", token(t, "client-z", auth.RoleClient), nil)
	code, out := s.call("PATCH", "/v1/users/client-q/notification-preferences", client, map[string]any{"quietStart": "25:00"})
	if code != http.StatusBadRequest || len(fieldViolations(out)) == 0 {
		t.Fatalf("an impossible time = %d %v, want 400 naming the field", code, out)
	}

	start := now.Add(-3 * 24 * time.Hour).Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "UTC", "startTime": start})
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+plan["id"].(string)+":activate", client, map[string]any{})
	// Every event of the plan handled by notify (so its notifications are
	// stored, held) before the inbox is looked at.
	s.settle()
	if got := notificationsByKind(t, s, client); len(got) != 0 {
		t.Fatalf("during quiet hours the inbox shows %v, want nothing yet", got)
	}
}

// A webhook receiver verifying with the official Standard Webhooks
// library and the secret shown once at registration, and checking the
// deprecated X-Nocontact-Signature (t=<unix>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">, keyed with the secret string) by its documented rule: it
// fails once, then accepts; the retry keeps its webhook-id and is recorded.
func TestWebhookSignedAndRetried(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	client := token(t, "client-w", auth.RoleClient)

	var (
		mu       sync.Mutex
		calls    int
		valid    int
		ids      = map[string]bool{}
		verifier *standardwebhooks.Webhook
		secret   string
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ts, sig string
		for _, part := range strings.Split(r.Header.Get("X-Nocontact-Signature"), ",") {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "t":
				ts = v
			case "v1":
				sig = v
			}
		}
		mu.Lock()
		defer mu.Unlock()
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + string(body)))
		calls++
		ids[r.Header.Get("webhook-id")] = true
		if verifier != nil && verifier.Verify(body, r.Header) == nil && hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(sig)) {
			valid++
		}
		if calls <= 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	for _, bad := range []string{"https://169.254.169.254/latest/meta-data", "http://example.com/hook", "https://user:pw@example.com/x"} {
		code, out := s.call("POST", "/v1/users/client-w/webhooks", client, map[string]any{"url": bad})
		if code != http.StatusBadRequest || !contains(fieldViolations(out), "webhook.url") {
			t.Fatalf("registering %s = %d %v, want 400 naming webhook.url", bad, code, out)
		}
	}
	if code, out := s.call("POST", "/v1/users/client-w/webhooks", client, map[string]any{"url": receiver.URL + "/hook", "secret": strings.Repeat("s", 40)}); code != http.StatusBadRequest || !contains(fieldViolations(out), "webhook.secret") {
		t.Fatalf("registering with a chosen secret = %d %v, want 400 naming webhook.secret", code, out)
	}
	hook := s.mustCall(http.StatusOK, "POST", "/v1/users/client-w/webhooks?requestId=hook-1", client, map[string]any{"url": receiver.URL + "/hook"})
	shown, _ := hook["secret"].(string)
	wh, err := standardwebhooks.NewWebhook(shown)
	if err != nil || !strings.HasPrefix(shown, "whsec_") {
		t.Fatalf("the secret shown at registration is not a whsec_ secret: %v", err)
	}
	mu.Lock()
	verifier, secret = wh, shown
	mu.Unlock()
	if list := s.mustCall(http.StatusOK, "GET", "/v1/users/client-w/webhooks", client, nil); strings.Contains(fmt.Sprint(list), shown) {
		t.Fatal("ListWebhooks shows the secret")
	}
	// A retry answers the same webhook; the request id reused for another
	// URL is a 400 naming it (AIP-155).
	if again := s.mustCall(http.StatusOK, "POST", "/v1/users/client-w/webhooks?requestId=hook-1", client, map[string]any{"url": receiver.URL + "/hook"}); again["id"] != hook["id"] {
		t.Fatalf("the retried registration = %v, want webhook %v", again["id"], hook["id"])
	}
	reused := s.mustCall(http.StatusBadRequest, "POST", "/v1/users/client-w/webhooks?requestId=hook-1", client, map[string]any{"url": receiver.URL + "/other"})
	if v := fieldViolations(reused); !contains(v, "request_id") {
		t.Fatalf("reusing a request id for another webhook = %v, want a 400 naming request_id", reused)
	}

	start := time.Now().Add(-2 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "UTC", "startTime": start})
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+plan["id"].(string)+":activate", client, map[string]any{})

	path := "/v1/users/client-w/webhooks/" + hook["id"].(string) + "/deliveries"
	eventually(t, 20*time.Second, func() string {
		out := s.mustCall(http.StatusOK, "GET", path, client, nil)
		list, _ := out["deliveries"].([]any)
		for _, d := range list {
			dm := d.(map[string]any)
			if dm["status"] == "DELIVERY_STATUS_DELIVERED" && dm["attempts"] == float64(2) {
				return ""
			}
		}
		return "no delivery succeeded on its second attempt"
	})
	mu.Lock()
	defer mu.Unlock()
	if valid != calls || calls < 2 || len(ids) != 1 {
		t.Fatalf("receiver saw %d calls, %d with valid signatures, %d webhook-ids (want one: the delivery's, on every retry)", calls, valid, len(ids))
	}
}
