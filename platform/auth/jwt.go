package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nocontact/backend/platform/clock"
)

// Leeway is the clock skew tolerated on exp, nbf and iat between the issuer
// and the verifying service.
const Leeway = 30 * time.Second

// ErrInvalidToken wraps every verification failure. Its details are for
// logs only; callers are told no more than "invalid token".
var ErrInvalidToken = errors.New("invalid token")

// Verifier verifies a bearer token and returns the identity it proves.
type Verifier interface {
	Verify(ctx context.Context, token string) (Identity, error)
}

// claims are the token's claims: the registered ones plus the role.
type claims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
}

// UnmarshalJSON decodes the claims strictly: RFC 7519 makes exp, nbf and
// iat JSON numbers, and the library would also take a string holding one
// ("exp": "1700000000"), which no issuer of ours writes.
func (c *claims) UnmarshalJSON(b []byte) error {
	// Only the three time claims, not a map of every claim: this runs on
	// every authenticated call (docs/performance.md, the chain's profile).
	var raw struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, nv := range [...]struct {
		name string
		v    json.RawMessage
	}{{"exp", raw.Exp}, {"nbf", raw.Nbf}, {"iat", raw.Iat}} {
		name, v := nv.name, nv.v
		if v == nil {
			continue
		}
		v = bytes.TrimSpace(v)
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return fmt.Errorf("claim %q is not a JSON number", name)
		}
	}
	type plain claims // without this method, so no recursion
	return json.Unmarshal(b, (*plain)(c))
}

type hs256Verifier struct {
	secret   []byte
	keys     jwt.VerificationKeySet // secret, then the previous ones
	issuer   string
	audience string
	parser   *jwt.Parser
	times    *jwt.Validator // the parser's time checks, for the cache
	clk      clock.Clock
}

// NewHS256Verifier returns a Verifier for HS256 tokens signed with secret
// (development and tests; production uses asymmetric keys). A token is
// accepted only when it is HS256-signed with secret, has not expired (exp is
// required), has iss == issuer and audience among its aud, and carries a
// non-empty sub and a known role.
//
// previous keys (a rotation's retiring key) are accepted as well; empty
// ones are ignored.
//
// A verifier built with an empty secret, issuer or audience rejects every
// token: deny by default rather than accept tokens nobody meant for us.
func NewHS256Verifier(secret []byte, issuer, audience string, clk clock.Clock, previous ...[]byte) Verifier {
	if clk == nil {
		clk = clock.Real()
	}
	secret = append([]byte(nil), secret...) // the caller may reuse its slice
	keys := jwt.VerificationKeySet{Keys: []jwt.VerificationKey{secret}}
	for _, p := range previous {
		if len(p) > 0 {
			keys.Keys = append(keys.Keys, append([]byte(nil), p...))
		}
	}
	return &hs256Verifier{
		secret:   secret,
		keys:     keys,
		issuer:   issuer,
		audience: audience,
		// Pinning the algorithm stops "alg: none" and algorithm confusion
		// attacks.
		parser: newParser([]string{jwt.SigningMethodHS256.Alg()}, issuer, audience, clk),
		times:  newTimeValidator(clk),
		clk:    clk,
	}
}

// newParser checks what every token must carry whatever its signature:
// one of the algorithms, the issuer and audience, and the time claims of
// timeOptions.
func newParser(algorithms []string, issuer, audience string, clk clock.Clock) *jwt.Parser {
	return jwt.NewParser(append([]jwt.ParserOption{
		jwt.WithValidMethods(algorithms),
		// Non-canonical base64 (stray padding bits) is refused too.
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
	}, timeOptions(clk)...)...)
}

// timeOptions are the time checks of every token: an expiry (required),
// nbf and iat, with Leeway for clock skew, against clk. The parser applies
// them at verification and the token cache again on every hit
// (newTimeValidator), so both judge a token's times the same way.
func timeOptions(clk clock.Clock) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(clk.Now),
	}
}

// newTimeValidator checks tokenTimes with timeOptions.
func newTimeValidator(clk clock.Clock) *jwt.Validator { return jwt.NewValidator(timeOptions(clk)...) }

// tokenTimes are a verified token's exp, nbf and iat (nil when absent), as
// the parser read them: what may turn a token that verified into one that
// does not without any change to it or to the keys.
type tokenTimes struct {
	exp, nbf, iat *jwt.NumericDate
}

var _ jwt.Claims = (*tokenTimes)(nil)

func (t *tokenTimes) GetExpirationTime() (*jwt.NumericDate, error) { return t.exp, nil }
func (t *tokenTimes) GetNotBefore() (*jwt.NumericDate, error)      { return t.nbf, nil }
func (t *tokenTimes) GetIssuedAt() (*jwt.NumericDate, error)       { return t.iat, nil }
func (t *tokenTimes) GetIssuer() (string, error)                   { return "", nil }
func (t *tokenTimes) GetSubject() (string, error)                  { return "", nil }
func (t *tokenTimes) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// parseIdentity verifies token with parser and keyfunc and returns the
// identity it proves (a non-empty sub and a known role) and its times.
func parseIdentity(parser *jwt.Parser, token string, keyfunc jwt.Keyfunc) (Identity, tokenTimes, error) {
	if token == "" {
		return Identity{}, tokenTimes{}, fmt.Errorf("%w: empty token", ErrInvalidToken)
	}
	var c claims
	if _, err := parser.ParseWithClaims(token, &c, keyfunc); err != nil {
		return Identity{}, tokenTimes{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return Identity{}, tokenTimes{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	if !ValidUserID(c.Subject) {
		return Identity{}, tokenTimes{}, fmt.Errorf("%w: subject is not a user id (%s)", ErrInvalidToken, UserIDRule)
	}
	role, err := ParseRole(c.Role)
	if err != nil {
		return Identity{}, tokenTimes{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return Identity{Subject: c.Subject, Role: role}, tokenTimes{exp: c.ExpiresAt, nbf: c.NotBefore, iat: c.IssuedAt}, nil
}

// Verify implements Verifier.
func (v *hs256Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	id, _, err := v.verifyTimes(ctx, token)
	return id, err
}

// verifyTimes implements timedVerifier.
func (v *hs256Verifier) verifyTimes(_ context.Context, token string) (Identity, tokenTimes, error) {
	if len(v.secret) == 0 || v.issuer == "" || v.audience == "" {
		return Identity{}, tokenTimes{}, fmt.Errorf("%w: verifier has no secret, issuer or audience", ErrInvalidToken)
	}
	return parseIdentity(v.parser, token, func(*jwt.Token) (any, error) {
		if len(v.keys.Keys) == 1 {
			return v.secret, nil
		}
		return v.keys, nil // each key is tried in turn
	})
}

// checkTimes implements timedVerifier.
func (v *hs256Verifier) checkTimes(t *tokenTimes) error { return v.times.Validate(t) }

// now implements timedVerifier.
func (v *hs256Verifier) now() time.Time { return v.clk.Now() }

// IssueHS256 signs a token for sub with role, valid for ttl from clk's now.
// It exists for the devstack and tests; production tokens come from the
// identity provider.
func IssueHS256(secret []byte, issuer, audience, sub string, role Role, ttl time.Duration, clk clock.Clock) (string, error) {
	switch {
	case len(secret) == 0:
		return "", errors.New("issue token: empty secret")
	case sub == "":
		return "", errors.New("issue token: empty subject")
	case !role.Valid():
		return "", fmt.Errorf("issue token: %w %q", ErrUnknownRole, string(role))
	case ttl <= 0:
		return "", fmt.Errorf("issue token: ttl %v is not positive", ttl)
	}
	if clk == nil {
		clk = clock.Real()
	}
	now := clk.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   sub,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Role: string(role),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return s, nil
}
