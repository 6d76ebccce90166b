package webhook

import (
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// A receiver using the official Standard Webhooks library verifies a
// delivery with the secret it was shown; during a rotation, with either
// secret; and the deprecated header still verifies by its old rule.
func TestHeadersVerifyWithTheStandardWebhooksLibrary(t *testing.T) {
	current, previous := NewSecret(), NewSecret()
	if !strings.HasPrefix(current, "whsec_") || current == previous {
		t.Fatalf("NewSecret() = %q, %q; want two distinct whsec_ secrets", current, previous)
	}
	body := []byte(`{"type":"notification.created"}`)
	now := time.Now()
	h := Headers("dl-1", now, body, current, previous)
	if got := len(strings.Split(h.Get(StandardSignatureHeader), " ")); got != 2 {
		t.Fatalf("webhook-signature %q has %d signatures, want 2", h.Get(StandardSignatureHeader), got)
	}
	for _, s := range []string{current, previous} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("verify with a live secret: %v", err)
		}
		if err := Verify([]byte(s), h.Get(SignatureHeader), body, now, 0); err != nil {
			t.Errorf("the deprecated header with a live secret: %v", err)
		}
	}
	other, _ := standardwebhooks.NewWebhook(NewSecret())
	if err := other.Verify(body, h); err == nil {
		t.Error("another secret verified the delivery")
	}
	only := Headers("dl-1", now, body, current)
	wh, _ := standardwebhooks.NewWebhook(previous)
	if err := wh.Verify(body, only); err == nil {
		t.Error("the previous secret verified a delivery signed with the current one only")
	}
	// A secret a user chose before the server generated them is the raw key.
	legacy := strings.Repeat("s", 32)
	raw, _ := standardwebhooks.NewWebhookRaw([]byte(legacy))
	if err := raw.Verify(body, Headers("dl-2", now, body, legacy)); err != nil {
		t.Errorf("a user-chosen secret as the raw key: %v", err)
	}
}
