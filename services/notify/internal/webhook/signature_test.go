package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	secret  = []byte("whsec_0123456789abcdef0123456789abcdef")
	sentAt  = time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)
	payload = []byte(`{"id":"n_1","kind":"milestone_reached","milestone_day":7}`)
)

// receiverHMAC is what a receiver writes from the documented rule alone:
// hex(HMAC-SHA256(secret, "<unix>.<body>")).
func receiverHMAC(key []byte, unix int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%d.%s", unix, body)
	return hex.EncodeToString(m.Sum(nil))
}

// receiverVerify is a receiver's own check, independent of Verify.
func receiverVerify(key []byte, header string, body []byte, now time.Time) bool {
	var unix int64 = -1
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			unix, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if unix < 0 || now.Sub(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		return false
	}
	want := receiverHMAC(key, unix, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func TestSignIsVerifiableFromTheDocumentedRule(t *testing.T) {
	header := Sign(secret, sentAt, payload)
	if !regexp.MustCompile(`^t=\d+,v1=[0-9a-f]{64}$`).MatchString(header) {
		t.Fatalf("Sign = %q, want t=<unix>,v1=<64 hex digits>", header)
	}
	if want := fmt.Sprintf("t=%d,v1=%s", sentAt.Unix(), receiverHMAC(secret, sentAt.Unix(), payload)); header != want {
		t.Errorf("Sign = %q, want %q", header, want)
	}
	if !receiverVerify(secret, header, payload, sentAt.Add(time.Minute)) {
		t.Error("an independent receiver rejects Sign's header")
	}
	if receiverVerify(secret, header, []byte(`{"id":"n_2"}`), sentAt) {
		t.Error("an independent receiver accepts Sign's header for another body")
	}
}

func TestVerify(t *testing.T) {
	good := Sign(secret, sentAt, payload)
	goodHex := receiverHMAC(secret, sentAt.Unix(), payload)
	ts := strconv.FormatInt(sentAt.Unix(), 10)
	oldSecretHex := receiverHMAC([]byte("whsec_previous_secret_previous_secret"), sentAt.Unix(), payload)

	tests := []struct {
		name      string
		secret    []byte
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", secret, good, payload, sentAt, time.Minute, nil},
		{"built by a third party from the rule", secret, "t=" + ts + ",v1=" + goodHex, payload, sentAt, time.Minute, nil},
		{"spaces after commas", secret, "t=" + ts + ", v1=" + goodHex, payload, sentAt, time.Minute, nil},
		{"within tolerance, late", secret, good, payload, sentAt.Add(4 * time.Minute), 5 * time.Minute, nil},
		{"within tolerance, clock behind", secret, good, payload, sentAt.Add(-4 * time.Minute), 5 * time.Minute, nil},
		{"secret rotation: old and new", secret, "t=" + ts + ",v1=" + oldSecretHex + ",v1=" + goodHex, payload, sentAt, time.Minute, nil},
		{"new scheme alongside is ignored", secret, "t=" + ts + ",v2=abc,v1=" + goodHex, payload, sentAt, time.Minute, nil},
		{"a bad v1 beside a good one", secret, "t=" + ts + ",v1=zz,v1=" + goodHex, payload, sentAt, time.Minute, nil},
		{"tampered body", secret, good, []byte(`{"id":"n_1","kind":"milestone_reached","milestone_day":8}`), sentAt, time.Minute, ErrSignatureMismatch},
		{"wrong secret", []byte("whsec_someone_else_someone_else_1234"), good, payload, sentAt, time.Minute, ErrSignatureMismatch},
		{"timestamp changed", secret, strings.Replace(good, ts, strconv.FormatInt(sentAt.Unix()+1, 10), 1), payload, sentAt, time.Minute, ErrSignatureMismatch},
		{"old secret only", secret, "t=" + ts + ",v1=" + oldSecretHex, payload, sentAt, time.Minute, ErrSignatureMismatch},
		{"stale", secret, good, payload, sentAt.Add(6 * time.Minute), 5 * time.Minute, ErrStaleSignature},
		{"from the future", secret, good, payload, sentAt.Add(-6 * time.Minute), 5 * time.Minute, ErrStaleSignature},
		{"default tolerance is five minutes", secret, good, payload, sentAt.Add(6 * time.Minute), 0, ErrStaleSignature},
		{"empty", secret, "", payload, sentAt, time.Minute, ErrMalformedSignature},
		{"garbage", secret, "sha256=" + goodHex, payload, sentAt, time.Minute, ErrMalformedSignature},
		{"no timestamp", secret, "v1=" + goodHex, payload, sentAt, time.Minute, ErrMalformedSignature},
		{"no signature", secret, "t=" + ts, payload, sentAt, time.Minute, ErrMalformedSignature},
		{"timestamp not a number", secret, "t=yesterday,v1=" + goodHex, payload, sentAt, time.Minute, ErrMalformedSignature},
		{"two timestamps", secret, "t=" + ts + ",t=" + ts + ",v1=" + goodHex, payload, sentAt, time.Minute, ErrMalformedSignature},
		{"signed timestamp", secret, "t=+" + ts + ",v1=" + goodHex, payload, sentAt, time.Minute, ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, tt.tolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), string(tt.secret)) {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}
