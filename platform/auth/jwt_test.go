package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
)

const (
	issuer   = "nocontact"
	audience = "nocontact"
)

// sign signs arbitrary claims, for tokens IssueHS256 would refuse to make.
func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "user-1", "role": "client", "iss": issuer, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, key string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, val := range c {
		out[k] = val
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

func TestHS256Verifier(t *testing.T) {
	issued, err := auth.IssueHS256(secret, issuer, audience, "user-7", auth.RoleCounsellor, time.Hour, clock.NewFake(now))
	if err != nil {
		t.Fatalf("IssueHS256: %v", err)
	}
	tests := []struct {
		name    string
		token   string
		at      time.Time // verifier's now
		want    auth.Identity
		wantErr bool
	}{
		{name: "issued token", token: issued, at: now, want: auth.Identity{Subject: "user-7", Role: auth.RoleCounsellor}},
		{name: "hand-made valid token", token: sign(t, jwt.SigningMethodHS256, secret, validClaims()), at: now, want: auth.Identity{Subject: "user-1", Role: auth.RoleClient}},
		{name: "audience list containing ours", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "aud", []string{"other", audience})), at: now, want: auth.Identity{Subject: "user-1", Role: auth.RoleClient}},
		{name: "expired within leeway", token: issued, at: now.Add(time.Hour + auth.Leeway/2), want: auth.Identity{Subject: "user-7", Role: auth.RoleCounsellor}},
		{name: "expired", token: issued, at: now.Add(time.Hour + auth.Leeway + time.Second), wantErr: true},
		{name: "issued in the future", token: issued, at: now.Add(-time.Hour), wantErr: true},
		{name: "bad signature", token: sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-!!"), validClaims()), at: now, wantErr: true},
		{name: "tampered payload", token: tamper(t, issued), at: now, wantErr: true},
		{name: "HS512 with the same secret", token: sign(t, jwt.SigningMethodHS512, secret, validClaims()), at: now, wantErr: true},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims()), at: now, wantErr: true},
		{name: "wrong audience", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "aud", "billing")), at: now, wantErr: true},
		{name: "missing audience", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "aud", nil)), at: now, wantErr: true},
		{name: "wrong issuer", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "iss", "evil")), at: now, wantErr: true},
		{name: "exp as a JSON string", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))), at: now, wantErr: true},
		{name: "sub outside the user-id charset", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "sub", "a|b")), at: now, wantErr: true},
		{name: "sub with a NUL", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "sub", "client\x001")), at: now, wantErr: true},
		{name: "iat as a JSON string", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "iat", strconv.FormatInt(now.Unix(), 10))), at: now, wantErr: true},
		{name: "nbf as a JSON string", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "nbf", strconv.FormatInt(now.Unix(), 10))), at: now, wantErr: true},
		{name: "exp as null", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "exp", json.RawMessage("null"))), at: now, wantErr: true},
		{name: "nbf as a number", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "nbf", now.Unix())), at: now, want: auth.Identity{Subject: "user-1", Role: auth.RoleClient}},
		{name: "missing exp", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "exp", nil)), at: now, wantErr: true},
		{name: "missing sub", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "sub", nil)), at: now, wantErr: true},
		{name: "missing role", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "role", nil)), at: now, wantErr: true},
		{name: "unknown role", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "role", "superuser")), at: now, wantErr: true},
		{name: "role in wrong case", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "role", "Admin")), at: now, wantErr: true},
		{name: "role of wrong type", token: sign(t, jwt.SigningMethodHS256, secret, with(validClaims(), "role", 3)), at: now, wantErr: true},
		{name: "empty", token: "", at: now, wantErr: true},
		{name: "garbage", token: "not.a.jwt", at: now, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := auth.NewHS256Verifier(secret, issuer, audience, clock.NewFake(tt.at))
			got, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Verify accepted the token as %+v", got)
				}
				if !errors.Is(err, auth.ErrInvalidToken) {
					t.Errorf("error %v does not wrap ErrInvalidToken", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tt.want {
				t.Errorf("identity = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// tamper changes the payload of a token while keeping its signature.
func tamper(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	forged := sign(t, jwt.SigningMethodHS256, []byte("x"), with(validClaims(), "role", "admin"))
	parts[1] = strings.Split(forged, ".")[1]
	return strings.Join(parts, ".")
}

func TestMisconfiguredVerifierRejectsEverything(t *testing.T) {
	token, err := auth.IssueHS256(secret, issuer, audience, "u", auth.RoleAdmin, time.Hour, clock.NewFake(now))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		secret        []byte
		issuer, aud   string
		signingSecret []byte
	}{
		{"empty secret", nil, issuer, audience, nil},
		{"empty issuer", secret, "", audience, secret},
		{"empty audience", secret, issuer, "", secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := auth.NewHS256Verifier(tt.secret, tt.issuer, tt.aud, clock.NewFake(now))
			if id, err := v.Verify(context.Background(), token); err == nil {
				t.Errorf("misconfigured verifier accepted %+v", id)
			}
		})
	}
}

func TestVerifierCopiesSecret(t *testing.T) {
	key := append([]byte(nil), secret...)
	v := auth.NewHS256Verifier(key, issuer, audience, clock.NewFake(now))
	token, _ := auth.IssueHS256(secret, issuer, audience, "u", auth.RoleClient, time.Hour, clock.NewFake(now))
	key[0] ^= 0xff // the caller reuses its buffer
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Errorf("Verify after the caller changed its key slice: %v", err)
	}
}

func TestIssueHS256Rejects(t *testing.T) {
	clk := clock.NewFake(now)
	tests := []struct {
		name   string
		secret []byte
		sub    string
		role   auth.Role
		ttl    time.Duration
	}{
		{"empty secret", nil, "u", auth.RoleClient, time.Hour},
		{"empty subject", secret, "", auth.RoleClient, time.Hour},
		{"unknown role", secret, "u", auth.Role("root"), time.Hour},
		{"zero ttl", secret, "u", auth.RoleClient, 0},
		{"negative ttl", secret, "u", auth.RoleClient, -time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := auth.IssueHS256(tt.secret, issuer, audience, tt.sub, tt.role, tt.ttl, clk); err == nil {
				t.Errorf("IssueHS256 returned a token %q, want an error", tok)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    auth.Role
		wantErr bool
	}{
		{"client", auth.RoleClient, false},
		{"counsellor", auth.RoleCounsellor, false},
		{"admin", auth.RoleAdmin, false},
		{"counselor", "", true},
		{"ADMIN", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := auth.ParseRole(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, auth.ErrUnknownRole) {
			t.Errorf("ParseRole(%q) error %v does not wrap ErrUnknownRole", tt.in, err)
		}
	}
}

func TestIdentityContext(t *testing.T) {
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Error("FromContext(empty) = ok")
	}
	want := auth.Identity{Subject: "s", Role: auth.RoleAdmin}
	got, ok := auth.FromContext(auth.WithIdentity(context.Background(), want))
	if !ok || got != want {
		t.Errorf("FromContext = %+v, %v; want %+v", got, ok, want)
	}
}

// A key rotation: while the retiring key is configured as previous, tokens
// signed with either key are accepted; once it is removed, only the new
// key's are. A key that was never configured is refused throughout.
func TestHS256VerifierRotation(t *testing.T) {
	newKey := []byte("fedcba9876543210fedcba9876543210")
	stranger := []byte("ffffffffffffffffffffffffffffffff")
	clk := clock.NewFake(now)
	oldToken := sign(t, jwt.SigningMethodHS256, secret, validClaims())
	newToken := sign(t, jwt.SigningMethodHS256, newKey, with(validClaims(), "sub", "user-2"))
	strangerToken := sign(t, jwt.SigningMethodHS256, stranger, validClaims())

	during := auth.NewHS256Verifier(newKey, issuer, audience, clk, secret)
	for name, tok := range map[string]string{"old key": oldToken, "new key": newToken} {
		if _, err := during.Verify(context.Background(), tok); err != nil {
			t.Errorf("during the rotation, a token signed with the %s is refused: %v", name, err)
		}
	}
	if id, _ := during.Verify(context.Background(), newToken); id.Subject != "user-2" {
		t.Errorf("identity = %+v, want user-2", id)
	}
	if _, err := during.Verify(context.Background(), strangerToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a token signed with an unknown key: err = %v, want ErrInvalidToken", err)
	}

	after := auth.NewHS256Verifier(newKey, issuer, audience, clk, nil)
	if _, err := after.Verify(context.Background(), oldToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("after the rotation, the old key's token: err = %v, want ErrInvalidToken", err)
	}
	if _, err := after.Verify(context.Background(), newToken); err != nil {
		t.Errorf("after the rotation, the new key's token is refused: %v", err)
	}
}
