package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// TokenCacheOptions size the verified-token cache (config.Auth's
// TokenCacheSize and TokenCacheMaxAge: 10,000 tokens, 1 minute by
// default). Size or MaxAge <= 0 means no cache.
type TokenCacheOptions struct {
	// Size is the most tokens remembered; the least recently used goes.
	Size int
	// MaxAge is how long a verified token is remembered, at most.
	MaxAge time.Duration
}

// timedVerifier is a verifier of this package: it reports the times of a
// token it accepts and judges them again later by the same rules and clock
// (timeOptions), which is what lets NewCachingVerifier skip the signature
// and the JSON decoding of a token it has seen, and nothing else.
type timedVerifier interface {
	Verifier
	verifyTimes(ctx context.Context, token string) (Identity, tokenTimes, error)
	checkTimes(*tokenTimes) error
	now() time.Time
}

// cachedToken is what a verified token proved.
type cachedToken struct {
	id       Identity
	times    *tokenTimes // a pointer: checkTimes takes it as a jwt.Claims without an allocation
	verified time.Time   // the verifier's clock when the signature was checked
}

// cachingVerifier remembers the tokens its verifier accepted, by the
// SHA-256 of the token.
type cachingVerifier struct {
	v      timedVerifier
	tokens *lru.Cache[[sha256.Size]byte, cachedToken]
	maxAge time.Duration
}

// readyCachingVerifier keeps the Ready of a JWKS verifier visible through
// the cache (bootstrap adds the jwt-keys readiness check when it finds it).
type readyCachingVerifier struct {
	*cachingVerifier
	ready interface{ Ready(context.Context) error }
}

func (r readyCachingVerifier) Ready(ctx context.Context) error { return r.ready.Ready(ctx) }

// NewCachingVerifier returns v behind a bounded cache of the tokens it
// accepted, so that a token seen again is not parsed and its signature not
// checked again: the chain's profile put ~80% of its own CPU into that
// (docs/performance.md). A hit answers the cached identity only after the
// token's exp, nbf and iat pass again, against v's clock with the same
// Leeway, so an expired token is refused the moment v would refuse it.
// Only accepted tokens are cached; a refused one costs a hash and a map
// lookup more than v alone, and is verified in full on every call.
//
// What the cache does not see is a change of keys: a token is trusted for
// up to opts.MaxAge after its signature was last checked, so a key
// withdrawn from a JWK Set is honoured for up to MaxAge longer than
// without the cache (docs/decisions.md). HS256 keys come from the
// configuration and do not change while a process runs.
//
// v is returned as it is when it is not one of this package's verifiers
// (nothing to re-check the times with) or opts turn the cache off. A v
// with a Ready method keeps it.
func NewCachingVerifier(v Verifier, opts TokenCacheOptions) Verifier {
	tv, ok := v.(timedVerifier)
	if !ok || opts.Size <= 0 || opts.MaxAge <= 0 {
		return v
	}
	tokens, err := lru.New[[sha256.Size]byte, cachedToken](opts.Size)
	if err != nil { // only for a size <= 0, excluded above
		return v
	}
	c := &cachingVerifier{v: tv, tokens: tokens, maxAge: opts.MaxAge}
	if r, ok := v.(interface{ Ready(context.Context) error }); ok {
		return readyCachingVerifier{cachingVerifier: c, ready: r}
	}
	return c
}

// Verify implements Verifier.
//
// The key is the token's SHA-256, not the token: a hit then means the very
// same bytes, signature included, were verified before (a token with a
// changed signature or claim hashes elsewhere and is verified in full);
// an entry's size does not depend on what a caller sends; and the cache
// holds no bearer credential that a heap dump could hand to someone else.
func (c *cachingVerifier) Verify(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return c.v.Verify(ctx, token)
	}
	// The token's bytes without a copy (a token is ~200 bytes, and the
	// copy was most of a hit's allocations): Sum256 only reads them.
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	e, cached := c.tokens.Get(key)
	if cached {
		if err := c.v.checkTimes(e.times); err != nil {
			c.tokens.Remove(key)
			// Worded as the parser words it, for the log.
			return Identity{}, fmt.Errorf("%w: %w: %w", ErrInvalidToken, jwt.ErrTokenInvalidClaims, err)
		}
		if age := c.v.now().Sub(e.verified); age >= 0 && age < c.maxAge {
			return e.id, nil
		}
		// Too old, or the clock stepped back before its verification:
		// verify in full again.
	}
	// The time before the signature is checked: the entry's age then
	// covers the whole verification, keys fetched during it included.
	verified := c.v.now()
	id, times, err := c.v.verifyTimes(ctx, token)
	if err != nil {
		if cached { // it stopped verifying: its key was withdrawn
			c.tokens.Remove(key)
		}
		return Identity{}, err
	}
	kept := new(tokenTimes) // allocated here, not on the refused path
	*kept = times
	c.tokens.Add(key, cachedToken{id: id, times: kept, verified: verified})
	return id, nil
}

// cacheLen is the number of cached tokens (tests).
func (c *cachingVerifier) cacheLen() int { return c.tokens.Len() }
