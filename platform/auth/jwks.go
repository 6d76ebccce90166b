package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
)

// Asymmetric algorithms a JWKS verifier accepts. HS* is never among them:
// a public key must not be usable as an HMAC secret (algorithm confusion).
var asymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
}

// JWKSOptions tune a JWKS verifier; the zero value is production's.
type JWKSOptions struct {
	// RefreshInterval is how often the key set is fetched again (15 min
	// when 0), besides when a token names an unknown kid.
	RefreshInterval time.Duration
	// UnknownKIDEvery bounds the fetches caused by unknown kids (one per
	// 30 s when 0): tokens with made-up kids cannot hammer the identity
	// provider, and never wait for the limiter either.
	UnknownKIDEvery time.Duration
	// Client fetches the key set (a client with a 5 s timeout when nil).
	Client *http.Client
	// Log receives fetch failures (slog.Default when nil).
	Log *slog.Logger
}

// JWKSVerifier verifies tokens signed with the identity provider's
// asymmetric keys, published as a JWK Set at a URL. The set is kept in
// memory and fetched again periodically and when a token names a key id it
// does not know yet, so a key rotation at the provider (publish the new key
// beside the old one, sign with the new, later remove the old) needs no
// restart here.
type JWKSVerifier struct {
	url      string
	keyfunc  keyfunc.Keyfunc
	parser   *jwt.Parser
	times    *jwt.Validator // the parser's time checks, for the cache
	clk      clock.Clock
	issuer   string
	audience string
}

// NewJWKSVerifier starts fetching the key set at url; the refreshing stops
// when ctx is done. It does not fail when the first fetch does: the service
// starts, Ready reports the problem (readiness keeps the replica out of
// rotation) and every token is refused until a fetch succeeds.
func NewJWKSVerifier(ctx context.Context, url, issuer, audience string, clk clock.Clock, opts JWKSOptions) (*JWKSVerifier, error) {
	if clk == nil {
		clk = clock.Real()
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 15 * time.Minute
	}
	if opts.UnknownKIDEvery <= 0 {
		opts.UnknownKIDEvery = 30 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 5 * time.Second}
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:          opts.Client,
		HTTPTimeout:     opts.Client.Timeout,
		RefreshInterval: opts.RefreshInterval,
		// A token with an unknown kid may cause a fetch, at most one per
		// UnknownKIDEvery. The library fetches under the same deadline it
		// waits for the limiter with, so that deadline is the fetch's
		// timeout (a 1 ms one made the fetch after a rotation fail on a
		// busy machine). A request still does not queue behind the
		// limiter: rate.Limiter.Wait fails at once when the next token
		// comes later than the deadline.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(opts.UnknownKIDEvery), 1),
		RateLimitWaitMax:  opts.Client.Timeout,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "fetching the JWT key set failed; keeping the keys already known", "url", u, "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", url, err)
	}
	return &JWKSVerifier{
		url:      url,
		keyfunc:  kf,
		parser:   newParser(asymmetricAlgorithms, issuer, audience, clk),
		times:    newTimeValidator(clk),
		clk:      clk,
		issuer:   issuer,
		audience: audience,
	}, nil
}

// Verify implements Verifier: an asymmetric signature by a key of the set
// (the one its kid names), then the same claims as NewHS256Verifier asks.
func (v *JWKSVerifier) Verify(ctx context.Context, token string) (Identity, error) {
	id, _, err := v.verifyTimes(ctx, token)
	return id, err
}

// verifyTimes implements timedVerifier.
func (v *JWKSVerifier) verifyTimes(ctx context.Context, token string) (Identity, tokenTimes, error) {
	if v.issuer == "" || v.audience == "" {
		return Identity{}, tokenTimes{}, fmt.Errorf("%w: verifier has no issuer or audience", ErrInvalidToken)
	}
	return parseIdentity(v.parser, token, v.keyfunc.KeyfuncCtx(ctx))
}

// checkTimes implements timedVerifier.
func (v *JWKSVerifier) checkTimes(t *tokenTimes) error { return v.times.Validate(t) }

// now implements timedVerifier.
func (v *JWKSVerifier) now() time.Time { return v.clk.Now() }

// Ready reports an error while no key is known (the set could not be
// fetched yet, or it is empty): every token would be refused.
func (v *JWKSVerifier) Ready(ctx context.Context) error {
	keys, err := v.keyfunc.Storage().KeyReadAll(ctx)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", v.url, err)
	}
	if len(keys) == 0 {
		return errors.New("no JWT verification key known yet from " + v.url)
	}
	return nil
}

// NewVerifier builds the verifier cfg describes: JWKS when
// NOCONTACT_JWT_JWKS_URL is set, else HS256 with the current and previous
// secrets, behind the verified-token cache cfg sizes (NewCachingVerifier;
// off when cfg.TokenCacheSize or TokenCacheMaxAge is 0). cfg must have
// passed Validate. A JWKS verifier refreshes its keys until ctx is done.
func NewVerifier(ctx context.Context, cfg config.Auth, clk clock.Clock, log *slog.Logger) (Verifier, error) {
	cache := TokenCacheOptions{Size: cfg.TokenCacheSize, MaxAge: cfg.TokenCacheMaxAge}
	if cfg.JWKSURL != "" {
		v, err := NewJWKSVerifier(ctx, cfg.JWKSURL, cfg.Issuer, cfg.Audience, clk, JWKSOptions{Log: log})
		if err != nil {
			return nil, err
		}
		return NewCachingVerifier(v, cache), nil
	}
	keys := cfg.Keys()
	return NewCachingVerifier(NewHS256Verifier(keys[0], cfg.Issuer, cfg.Audience, clk, keys[1:]...), cache), nil
}
