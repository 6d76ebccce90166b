package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/auth/authtest"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
)

// cacheOpts is production's default cache.
var cacheOpts = auth.TokenCacheOptions{Size: 10_000, MaxAge: time.Minute}

// cachedHS256 is an HS256 verifier on clk behind a cache, and the same
// verifier without one (the reference every answer is checked against).
func cachedHS256(clk clock.Clock, opts auth.TokenCacheOptions) (cached, plain auth.Verifier) {
	plain = auth.NewHS256Verifier(secret, issuer, audience, clk)
	return auth.NewCachingVerifier(plain, opts), plain
}

func hs(t *testing.T, c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, secret, c) }

func claimsFor(sub, role string, exp time.Time) jwt.MapClaims {
	return with(with(with(validClaims(), "sub", sub), "role", role), "exp", exp.Unix())
}

// A hit answers what the verifier answered, token by token, for HS256 and
// JWKS alike, and is a hit (the cache holds each token once).
func TestCachedIdentityEqualsVerified(t *testing.T) {
	clk := clock.NewFake(now)
	p := authtest.NewProvider(t)
	p.Publish(t, "k1")
	jwks := newJWKSOn(t, p.URL, clk, auth.JWKSOptions{UnknownKIDEvery: time.Millisecond})
	hsCached, hsPlain := cachedHS256(clk, cacheOpts)
	for name, tc := range map[string]struct {
		cached, plain auth.Verifier
		sign          func(jwt.MapClaims) string
	}{
		"HS256": {hsCached, hsPlain, func(c jwt.MapClaims) string { return hs(t, c) }},
		"JWKS":  {auth.NewCachingVerifier(jwks, cacheOpts), jwks, func(c jwt.MapClaims) string { return p.Sign(t, "k1", c) }},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var tokens []string
			for i, role := range []string{"client", "counsellor", "admin", "client"} {
				tokens = append(tokens, tc.sign(claimsFor(fmt.Sprintf("user-%d", i), role, now.Add(time.Hour))))
			}
			for round := range 3 {
				for i, tok := range tokens {
					want, err := tc.plain.Verify(ctx, tok)
					if err != nil {
						t.Fatalf("the verifier refused token %d: %v", i, err)
					}
					got, err := tc.cached.Verify(ctx, tok)
					if err != nil || got != want {
						t.Fatalf("round %d, token %d: cached answer %+v, %v; the verifier's %+v", round, i, got, err, want)
					}
				}
			}
			if n := auth.CacheLen(tc.cached); n != len(tokens) {
				t.Fatalf("the cache holds %d tokens, want %d", n, len(tokens))
			}
		})
	}
}

func newJWKSOn(t *testing.T, url string, clk clock.Clock, opts auth.JWKSOptions) *auth.JWKSVerifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := auth.NewJWKSVerifier(ctx, url, issuer, audience, clk, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A cached token is refused the moment it expires (exp + Leeway on the
// verifier's clock), well within the entry's maximum age.
func TestCacheRefusesAnExpiredTokenAfterAHit(t *testing.T) {
	clk := clock.NewFake(now)
	cached, plain := cachedHS256(clk, cacheOpts)
	exp := now.Add(10 * time.Second)
	tok := hs(t, claimsFor("user-1", "client", exp))
	ctx := context.Background()
	for range 2 { // a miss, then a hit
		if _, err := cached.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(exp.Add(auth.Leeway - time.Second))
	if _, err := cached.Verify(ctx, tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	clk.Set(exp.Add(auth.Leeway))
	if _, err := plain.Verify(ctx, tok); err == nil {
		t.Fatal("the verifier itself still accepts the token: the test's instants are wrong")
	}
	_, err := cached.Verify(ctx, tok)
	if !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("at exp+Leeway, %v after it was cached: err = %v, want an expired ErrInvalidToken", clk.Now().Sub(now), err)
	}
	if n := auth.CacheLen(cached); n != 0 {
		t.Fatalf("the expired token is still cached (%d entries)", n)
	}
}

// A token not valid yet (nbf ahead beyond the leeway) is refused and not
// remembered as refused: it is accepted once its nbf comes. A clock that
// steps back before nbf refuses it again although it is cached.
func TestCacheNotBefore(t *testing.T) {
	clk := clock.NewFake(now)
	cached, _ := cachedHS256(clk, cacheOpts)
	nbf := now.Add(2 * time.Minute)
	tok := hs(t, with(validClaims(), "nbf", nbf.Unix()))
	ctx := context.Background()
	for range 2 {
		if id, err := cached.Verify(ctx, tok); err == nil {
			t.Fatalf("accepted before nbf as %+v", id)
		}
	}
	if n := auth.CacheLen(cached); n != 0 {
		t.Fatalf("a refused token is cached (%d entries)", n)
	}
	clk.Set(nbf.Add(-auth.Leeway))
	for range 2 {
		if _, err := cached.Verify(ctx, tok); err != nil {
			t.Fatalf("at nbf-Leeway: %v", err)
		}
	}
	clk.Set(nbf.Add(-auth.Leeway - time.Second))
	if id, err := cached.Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("clock stepped back before nbf-Leeway: accepted as %+v (%v)", id, err)
	}
}

// A token that differs from a cached one in any byte is verified in full:
// another signature, or the cached token's signature on another payload.
func TestCacheRefusesATamperedTokenWhenTheOriginalIsCached(t *testing.T) {
	clk := clock.NewFake(now)
	cached, _ := cachedHS256(clk, cacheOpts)
	tok := hs(t, validClaims())
	ctx := context.Background()
	if _, err := cached.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	signingInput, sig := parts[0]+"."+parts[1], parts[2]
	flipped := "A" + sig[1:]
	if sig[0] == 'A' {
		flipped = "B" + sig[1:]
	}
	for name, forged := range map[string]string{
		"another signature":       signingInput + "." + flipped,
		"a shorter signature":     signingInput + "." + sig[:len(sig)-1],
		"the payload of an admin": parts[0] + "." + strings.Split(hs(t, with(validClaims(), "role", "admin")), ".")[1] + "." + sig,
	} {
		if id, err := cached.Verify(ctx, forged); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: accepted as %+v (%v)", name, id, err)
		}
	}
	if id, err := cached.Verify(ctx, tok); err != nil || id.Role != auth.RoleClient {
		t.Fatalf("the original after the forgeries: %+v, %v", id, err)
	}
}

// Failed verifications are never cached, whatever the reason.
func TestCacheKeepsNoRefusedToken(t *testing.T) {
	clk := clock.NewFake(now)
	cached, _ := cachedHS256(clk, cacheOpts)
	for name, tok := range map[string]string{
		"expired":        hs(t, with(validClaims(), "exp", now.Add(-time.Hour).Unix())),
		"issued later":   hs(t, with(validClaims(), "iat", now.Add(time.Hour).Unix())),
		"wrong audience": hs(t, with(validClaims(), "aud", "billing")),
		"unknown role":   hs(t, with(validClaims(), "role", "root")),
		"bad signature":  sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-!!"), validClaims()),
		"garbage":        "not.a.jwt",
		"empty":          "",
	} {
		for range 2 {
			if id, err := cached.Verify(context.Background(), tok); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("%s: accepted as %+v (%v)", name, id, err)
			}
		}
	}
	if n := auth.CacheLen(cached); n != 0 {
		t.Fatalf("%d refused tokens are cached", n)
	}
}

// The cache never holds more than its size: the least recently used go.
func TestCacheEvictionBound(t *testing.T) {
	clk := clock.NewFake(now)
	cached, _ := cachedHS256(clk, auth.TokenCacheOptions{Size: 3, MaxAge: time.Minute})
	ctx := context.Background()
	for i := range 20 {
		tok := hs(t, with(validClaims(), "sub", fmt.Sprintf("user-%d", i)))
		id, err := cached.Verify(ctx, tok)
		if err != nil || id.Subject != fmt.Sprintf("user-%d", i) {
			t.Fatalf("token %d: %+v, %v", i, id, err)
		}
		if n := auth.CacheLen(cached); n > 3 || n != min(i+1, 3) {
			t.Fatalf("after %d tokens the cache holds %d, want %d", i+1, n, min(i+1, 3))
		}
	}
}

// Every answer through the cache equals the verifier's answer at that
// instant, the clock going forward past every boundary and stepping back
// (an entry's age here stays under MaxAge: these answers come from hits).
func TestCacheAnswersAsTheVerifierAtEveryInstant(t *testing.T) {
	clk := clock.NewFake(now)
	cached, plain := cachedHS256(clk, auth.TokenCacheOptions{Size: 100, MaxAge: 3 * time.Hour})
	exp := now.Add(time.Hour)
	tokens := map[string]string{
		"plain":        hs(t, with(validClaims(), "exp", exp.Unix())),
		"nbf":          hs(t, with(with(validClaims(), "exp", exp.Unix()), "nbf", now.Add(10*time.Minute).Unix())),
		"iat ahead":    hs(t, with(with(validClaims(), "exp", exp.Unix()), "iat", now.Add(20*time.Minute).Unix())),
		"no nbf, iat":  hs(t, with(with(validClaims(), "exp", exp.Unix()), "iat", nil)),
		"short-lived":  hs(t, with(validClaims(), "exp", now.Add(time.Minute).Unix())),
		"already gone": hs(t, with(validClaims(), "exp", now.Add(-time.Minute).Unix())),
	}
	var instants []time.Time
	for _, b := range []time.Time{now, now.Add(time.Minute), now.Add(10 * time.Minute), now.Add(20 * time.Minute), exp} {
		for _, d := range []time.Duration{-auth.Leeway - time.Second, -auth.Leeway, 0, auth.Leeway - time.Second, auth.Leeway, auth.Leeway + time.Second} {
			instants = append(instants, b.Add(d))
		}
	}
	// Forward, then back again.
	for i := len(instants) - 1; i >= 0; i-- {
		instants = append(instants, instants[i])
	}
	ctx := context.Background()
	hits := 0
	for _, at := range instants {
		clk.Set(at)
		for name, tok := range tokens {
			before := auth.CacheLen(cached)
			want, wantErr := plain.Verify(ctx, tok)
			got, gotErr := cached.Verify(ctx, tok)
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("%s at now%+v: cached %+v, %v; the verifier %+v, %v", name, at.Sub(now), got, gotErr, want, wantErr)
			}
			if before == auth.CacheLen(cached) && gotErr == nil {
				hits++
			}
		}
	}
	if hits == 0 {
		t.Fatal("no answer came from the cache")
	}
}

// A key withdrawn from the JWK Set stops being honoured within MaxAge: the
// documented lag (docs/decisions.md), measured on the verifier's clock once
// the verifier itself refuses the token.
func TestCacheHonoursAWithdrawnKeyAtMostMaxAge(t *testing.T) {
	clk := clock.NewFake(now)
	p := authtest.NewProvider(t)
	p.Publish(t, "old")
	p.Publish(t, "new")
	jwks := newJWKSOn(t, p.URL, clk, auth.JWKSOptions{RefreshInterval: 50 * time.Millisecond, UnknownKIDEvery: time.Millisecond})
	cached := auth.NewCachingVerifier(jwks, cacheOpts)
	ctx := context.Background()
	tok := p.Sign(t, "old", validClaims())
	if _, err := cached.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second) // the entry is not brand new
	p.Withdraw("old")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := jwks.Verify(ctx, tok); errors.Is(err, auth.ErrInvalidToken) {
			break // the verifier fetched the set without the key
		}
		if time.Now().After(deadline) {
			t.Fatal("the verifier still accepts a withdrawn key 5 s after it left the set")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The lag: until MaxAge after the signature was checked, the cache
	// answers without checking it.
	clk.Set(now.Add(cacheOpts.MaxAge - time.Nanosecond))
	if _, err := cached.Verify(ctx, tok); err != nil {
		t.Fatalf("within MaxAge: %v (the cache is not used)", err)
	}
	clk.Set(now.Add(cacheOpts.MaxAge))
	if id, err := cached.Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("MaxAge after its verification a token of a withdrawn key is accepted as %+v (%v)", id, err)
	}
	if n := auth.CacheLen(cached); n != 0 {
		t.Fatalf("the token of the withdrawn key is still cached (%d entries)", n)
	}
	// A token of a key still in the set is cached again after MaxAge.
	other := p.Sign(t, "new", validClaims())
	for range 2 {
		if _, err := cached.Verify(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
}

// Concurrent callers (go test -race) each get their own token's identity,
// tampered tokens are refused, while a small cache evicts all the time.
func TestCacheConcurrentCallers(t *testing.T) {
	clk := clock.NewFake(now)
	cached, _ := cachedHS256(clk, auth.TokenCacheOptions{Size: 4, MaxAge: time.Minute})
	const users = 8
	var tokens, forged [users]string
	for i := range users {
		tokens[i] = hs(t, with(validClaims(), "sub", fmt.Sprintf("user-%d", i)))
		forged[i] = tamper(t, tokens[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for g := range users {
		wg.Go(func() {
			for n := range 300 {
				i := (g + n) % users
				id, err := cached.Verify(context.Background(), tokens[i])
				if err != nil || id.Subject != fmt.Sprintf("user-%d", i) {
					errs <- fmt.Errorf("token of user-%d: %+v, %v", i, id, err)
					return
				}
				if id, err := cached.Verify(context.Background(), forged[i]); err == nil {
					errs <- fmt.Errorf("forged token of user-%d accepted as %+v", i, id)
					return
				}
				if n%50 == 0 {
					clk.Advance(time.Second) // entries age and are verified again
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := auth.CacheLen(cached); n > 4 {
		t.Fatalf("the cache holds %d tokens, more than its size 4", n)
	}
}

// NewVerifier puts the cache the configuration sizes in front of either
// verifier, keeps a JWKS verifier's readiness visible, and leaves it out
// when the configuration turns it off.
func TestNewVerifierCaches(t *testing.T) {
	p := authtest.NewProvider(t)
	p.Publish(t, "k1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := func(env map[string]string) config.Auth {
		t.Helper()
		var cfg config.Auth
		if err := config.LoadFrom(&cfg, env); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	clk := clock.NewFake(now)
	hsCfg := load(map[string]string{"NOCONTACT_JWT_SECRET": string(secret)})
	jwksCfg := load(map[string]string{"NOCONTACT_JWT_JWKS_URL": p.URL})
	for name, tc := range map[string]struct {
		cfg config.Auth
		tok string
	}{
		"HS256": {hsCfg, hs(t, validClaims())},
		"JWKS":  {jwksCfg, p.Sign(t, "k1", validClaims())},
	} {
		v, err := auth.NewVerifier(ctx, tc.cfg, clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tc.tok); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := auth.CacheLen(v); n != 1 {
			t.Errorf("%s: by default the verifier caches (%d entries, want 1)", name, n)
		}
		_, ready := v.(interface{ Ready(context.Context) error })
		if ready != (name == "JWKS") {
			t.Errorf("%s: has Ready = %v", name, ready)
		}
	}
	off := hsCfg
	off.TokenCacheMaxAge = 0
	if v, _ := auth.NewVerifier(ctx, off, clk, nil); auth.CacheLen(v) != -1 {
		t.Error("NOCONTACT_JWT_CACHE_MAX_AGE=0 still caches")
	}
}

// BenchmarkVerify compares a verifier with and without the cache on an
// accepted token (a hit, with the cache) and on a refused one (a bad
// signature: verified in full either way, the cache adds a hash and a
// lookup).
func BenchmarkVerify(b *testing.B) {
	clk := clock.NewFake(now)
	plain := auth.NewHS256Verifier(secret, issuer, audience, clk)
	cached := auth.NewCachingVerifier(plain, cacheOpts)
	good, err := auth.IssueHS256(secret, issuer, audience, "client-1", auth.RoleClient, time.Hour, clk)
	if err != nil {
		b.Fatal(err)
	}
	bad, err := auth.IssueHS256([]byte("another-secret-another-secret-!!"), issuer, audience, "client-1", auth.RoleClient, time.Hour, clk)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		v     auth.Verifier
		token string
		ok    bool
	}{
		{"accepted/plain", plain, good, true},
		{"accepted/cached", cached, good, true},
		{"refused/plain", plain, bad, false},
		{"refused/cached", cached, bad, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.v.Verify(ctx, bc.token); (err == nil) != bc.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
