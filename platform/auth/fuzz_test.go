package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
)

// checkAccepted asserts what every token the verifier accepts proves, as
// documented on NewHS256Verifier: a sub in the user-id charset, a known
// role, an HS256 header, our issuer and audience, and an expiry that has
// not passed (beyond auth.Leeway).
func checkAccepted(t *testing.T, token string, id auth.Identity) {
	t.Helper()
	if !auth.ValidUserID(id.Subject) {
		t.Fatalf("accepted %q with subject %q outside the user-id charset", token, id.Subject)
	}
	if !id.Role.Valid() {
		t.Fatalf("accepted %q with unknown role %q", token, id.Role)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted %q, which has %d parts", token, len(parts))
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp *float64        `json:"exp"`
		Rol string          `json:"role"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil || hdr.Alg != "HS256" {
		t.Fatalf("accepted %q with header alg %q (%v)", token, hdr.Alg, err)
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		t.Fatalf("accepted %q whose claims do not decode: %v", token, err)
	}
	if c.Iss != issuer || c.Sub != id.Subject || c.Rol != string(id.Role) {
		t.Fatalf("accepted %q: iss %q sub %q role %q, identity %+v", token, c.Iss, c.Sub, c.Rol, id)
	}
	var aud []string
	if err := json.Unmarshal(c.Aud, &aud); err != nil {
		var one string
		if err := json.Unmarshal(c.Aud, &one); err != nil {
			t.Fatalf("accepted %q with aud %s", token, c.Aud)
		}
		aud = []string{one}
	}
	found := false
	for _, a := range aud {
		found = found || a == audience
	}
	if !found {
		t.Fatalf("accepted %q with aud %s, want %q among them", token, c.Aud, audience)
	}
	if c.Exp == nil || time.Unix(int64(*c.Exp), 0).Add(auth.Leeway).Before(now) {
		t.Fatalf("accepted %q with exp %v at %v", token, c.Exp, now)
	}
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// FuzzVerifyToken feeds arbitrary strings to the HS256 verifier as bearer
// tokens: it must never panic, and whatever it accepts carries the
// documented claims (checkAccepted). Without the secret the fuzzer cannot
// forge a signature, so this covers the parsing in front of it; see
// FuzzVerifySignedClaims for the claims behind it.
func FuzzVerifyToken(f *testing.F) {
	v := auth.NewHS256Verifier(secret, issuer, audience, clock.NewFake(now))
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err == nil {
			checkAccepted(t, token, id)
		}
	})
}

// FuzzVerifySignedClaims signs an arbitrary header and claims set with the
// verifier's own secret (base64url, HMAC-SHA256: what an issuer holding the
// key could write) and verifies the result: never a panic, and a token that
// verifies has the documented claims whatever else the JSON holds
// (duplicate keys, strings for numbers, odd types, non-ASCII subjects).
func FuzzVerifySignedClaims(f *testing.F) {
	v := auth.NewHS256Verifier(secret, issuer, audience, clock.NewFake(now))
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signing))
		token := signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		id, err := v.Verify(context.Background(), token)
		if err == nil {
			checkAccepted(t, token, id)
		}
	})
}
