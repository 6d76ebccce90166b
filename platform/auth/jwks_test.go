package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/auth/authtest"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
)

func newJWKS(t *testing.T, url string, opts auth.JWKSOptions) *auth.JWKSVerifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // stops the refreshing
	v, err := auth.NewJWKSVerifier(ctx, url, issuer, audience, clock.NewFake(now), opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestJWKSVerifier(t *testing.T) {
	p := authtest.NewProvider(t)
	p.Publish(t, "k1")
	v := newJWKS(t, p.URL, auth.JWKSOptions{UnknownKIDEvery: time.Millisecond})
	ctx := context.Background()

	id, err := v.Verify(ctx, p.Sign(t, "k1", validClaims()))
	if err != nil || id.Subject != "user-1" || id.Role != auth.RoleClient {
		t.Fatalf("Verify = %+v, %v; want user-1 client", id, err)
	}
	for name, tok := range map[string]string{
		"another audience":         p.Sign(t, "k1", with(validClaims(), "aud", "someone-else")),
		"expired":                  p.Sign(t, "k1", with(validClaims(), "exp", now.Add(-time.Hour).Unix())),
		"no role":                  p.Sign(t, "k1", with(validClaims(), "role", nil)),
		"signed by an unknown key": p.Sign(t, "k9", validClaims()),
		// A shared-secret token, even with a published kid: HS256 is never
		// accepted when keys are asymmetric (algorithm confusion).
		"HS256 with a published kid": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
			tok.Header["kid"] = "k1"
			s, _ := tok.SignedString([]byte("0123456789abcdef0123456789abcdef"))
			return s
		}(),
	} {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
}

// A rotation at the provider needs no restart: a token signed with a newly
// published key is accepted at once (its unknown kid makes the verifier
// fetch the set again), and a withdrawn key stops working at the next
// refresh.
func TestJWKSKeyRotation(t *testing.T) {
	p := authtest.NewProvider(t)
	p.Publish(t, "2026-old")
	v := newJWKS(t, p.URL, auth.JWKSOptions{RefreshInterval: 50 * time.Millisecond, UnknownKIDEvery: time.Millisecond})
	ctx := context.Background()
	oldToken := p.Sign(t, "2026-old", validClaims())
	if _, err := v.Verify(ctx, oldToken); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}

	p.Publish(t, "2026-new")
	if _, err := v.Verify(ctx, p.Sign(t, "2026-new", validClaims())); err != nil {
		t.Fatalf("a token signed with the newly published key: %v", err)
	}
	if _, err := v.Verify(ctx, oldToken); err != nil {
		t.Fatalf("the old key while both are published: %v", err)
	}

	p.Withdraw("2026-old")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(ctx, oldToken)
		if errors.Is(err, auth.ErrInvalidToken) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a withdrawn key is still accepted 5 s after it left the key set")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Made-up kids cannot make the verifier hammer the provider: at most one
// fetch per UnknownKIDEvery, and no request waits for it.
func TestJWKSUnknownKIDsAreRateLimited(t *testing.T) {
	p := authtest.NewProvider(t)
	p.Publish(t, "k1")
	v := newJWKS(t, p.URL, auth.JWKSOptions{UnknownKIDEvery: time.Hour})
	before := p.Fetches()
	start := time.Now()
	for i := range 50 {
		if _, err := v.Verify(context.Background(), p.Sign(t, "made-up-"+string(rune('a'+i%26)), validClaims())); err == nil {
			t.Fatal("a token with an unknown kid was accepted")
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("50 refused tokens took %v: requests waited for the limiter", took)
	}
	if extra := p.Fetches() - before; extra > 1 {
		t.Fatalf("50 unknown kids caused %d fetches, want at most 1", extra)
	}
}

// With the provider down at start the service still starts, but is not
// ready and refuses every token; once a fetch succeeds it is ready.
func TestJWKSReadiness(t *testing.T) {
	p := authtest.NewProvider(t)
	p.Publish(t, "k1")
	p.SetDown(true)
	v := newJWKS(t, p.URL, auth.JWKSOptions{RefreshInterval: 50 * time.Millisecond, UnknownKIDEvery: time.Hour})
	if err := v.Ready(context.Background()); err == nil {
		t.Fatal("ready without any key")
	}
	p.SetDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for v.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("not ready 5 s after the provider came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), p.Sign(t, "k1", validClaims())); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestNewVerifierFollowsTheConfiguration(t *testing.T) {
	p := authtest.NewProvider(t)
	p.Publish(t, "k1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jwks, err := auth.NewVerifier(ctx, config.Auth{JWKSURL: p.URL, Issuer: issuer, Audience: audience}, clock.NewFake(now), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwks.Verify(ctx, p.Sign(t, "k1", validClaims())); err != nil {
		t.Fatalf("JWKS mode refused the provider's token: %v", err)
	}
	hs, err := auth.NewVerifier(ctx, config.Auth{JWTSecret: config.Secret(secret), Issuer: issuer, Audience: audience}, clock.NewFake(now), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hs.Verify(ctx, sign(t, jwt.SigningMethodHS256, secret, validClaims())); err != nil {
		t.Fatalf("HS256 mode refused a token signed with the secret: %v", err)
	}
	if _, err := hs.Verify(ctx, p.Sign(t, "k1", validClaims())); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("HS256 mode accepted an ES256 token: %v", err)
	}
}
