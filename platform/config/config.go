// Package config loads a binary's configuration from the environment.
//
// Each binary declares one Config struct and embeds (or names) the shared
// sub-configs below, then calls Load once in main:
//
//	type Config struct {
//		GRPC  config.GRPC
//		Mongo config.Mongo
//		Auth  config.Auth
//		Log   config.Log
//		PlanScanInterval time.Duration `env:"PLAN_SCAN_INTERVAL" envDefault:"30s"`
//	}
//
// Variable names are not prefixed by default: every binary runs in its own
// container, so MONGODB_URI cannot mean two things. A process that hosts
// several services (the devstack) either builds each Config with LoadFrom
// from its own map, or gives a sub-config a prefix with the envPrefix tag of
// caarlos0/env, which prepends to every variable inside that struct:
//
//	Mongo config.Mongo `envPrefix:"PLANS_"` // reads PLANS_MONGODB_URI, ...
//
// Secrets use the Secret type so that logging a whole Config never prints
// them.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Load fills v, a pointer to a struct, from the process environment using
// the `env` and `envDefault` tags.
func Load(v any) error {
	if err := env.Parse(v); err != nil {
		return fmt.Errorf("load config from environment: %w", err)
	}
	return nil
}

// LoadFrom fills v from environ instead of the process environment. Tests
// use it to avoid mutating global state, and the devstack to configure
// several services inside one process.
func LoadFrom(v any, environ map[string]string) error {
	if environ == nil {
		// caarlos0/env falls back to the process environment on a nil map;
		// an explicit empty map keeps LoadFrom hermetic.
		environ = map[string]string{}
	}
	if err := env.ParseWithOptions(v, env.Options{Environment: environ}); err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	return nil
}

// GRPC configures a gRPC server.
type GRPC struct {
	// Addr is the listen address.
	Addr string `env:"GRPC_ADDR" envDefault:":9090"`
	// ShutdownTimeout bounds the graceful stop; in-flight calls still running
	// after it are cut. Keep it below the pod's terminationGracePeriodSeconds.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// ReadinessInterval is how often the readiness checks (Mongo, NATS) run.
	ReadinessInterval time.Duration `env:"READINESS_INTERVAL" envDefault:"2s"`
	// MaxConnectionAge is how long a client connection is kept before the
	// server asks the client to open a new one (calls in flight and open
	// streams are not cut), so that clients resolve the service again and
	// spread their calls over replicas added since.
	MaxConnectionAge time.Duration `env:"GRPC_MAX_CONNECTION_AGE" envDefault:"5m"`
	// RateLimitPerSecond and RateLimitBurst bound the calls per identity
	// (token subject, or peer address without one) straight to gRPC: above
	// the gateway's own limit, since one HTTP request may fan out to a
	// service's calls to another (0: no limit).
	RateLimitPerSecond float64 `env:"GRPC_RATE_LIMIT_PER_SECOND" envDefault:"100"`
	RateLimitBurst     int     `env:"GRPC_RATE_LIMIT_BURST" envDefault:"200"`
}

// Validate reports settings that would make the server misbehave.
func (g GRPC) Validate() error {
	var errs []error
	if g.Addr == "" {
		errs = append(errs, errors.New("GRPC_ADDR is empty"))
	}
	if g.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	if g.ReadinessInterval <= 0 {
		errs = append(errs, errors.New("READINESS_INTERVAL must be positive"))
	}
	return errors.Join(errs...)
}

// Mongo configures the MongoDB connection of a service (each service owns
// its own database).
type Mongo struct {
	// URI is the connection string. Empty means "no external database" to
	// binaries that can embed one (the devstack). It may hold credentials:
	// never log it.
	URI string `env:"MONGODB_URI"`
	// Database is the service's database name.
	Database string `env:"MONGODB_DATABASE"`
	// MaxPoolSize caps the driver's connection pool; 0 keeps the driver's
	// default. FerretDB needs 1 (see DESIGN.md section 6).
	MaxPoolSize uint64 `env:"MONGODB_MAX_POOL_SIZE" envDefault:"0"`
}

// NATS configures the NATS connection.
type NATS struct {
	// URL of the NATS server(s), comma separated.
	URL string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	// StreamReplicas is how many copies of each stream the NATS cluster
	// keeps: 3 in production, 1 on a single server. Every service must use
	// the same value (they all ensure the streams they touch at start-up).
	StreamReplicas int `env:"NATS_STREAM_REPLICAS" envDefault:"1"`
	// StreamMaxAge is how long the services' event streams (PLANS,
	// JOURNAL, NOTIFY) keep a message: a consumer down for longer misses
	// what aged out. Every service must use the same value. At least 1h,
	// the streams' duplicate window.
	StreamMaxAge time.Duration `env:"NATS_STREAM_MAX_AGE" envDefault:"720h"`
	// StreamMaxBytes bounds each event stream's size; a full stream
	// refuses new messages (they wait in the outboxes) rather than drop
	// unconsumed ones.
	StreamMaxBytes int64 `env:"NATS_STREAM_MAX_BYTES" envDefault:"1073741824"`
	// DeadLetterMaxAge is how long the DEADLETTER stream keeps a message
	// given up on. Dead letters are copies of the journal's events (mood,
	// triggers, urges), so it may not exceed StreamMaxAge: no health text
	// outlives the journal's own stream in a dead letter.
	DeadLetterMaxAge time.Duration `env:"NATS_DEADLETTER_MAX_AGE" envDefault:"168h"`
	// DeadLetterMaxBytes bounds the DEADLETTER stream; when full, its
	// oldest messages go first.
	DeadLetterMaxBytes int64 `env:"NATS_DEADLETTER_MAX_BYTES" envDefault:"268435456"`
	// ConsumerAckWait is how long JetStream waits for a consumer's answer
	// to a delivery before it redelivers it, for every consumer of the
	// service that does not set its own. A handler running longer sends
	// in-progress acks every third of it, so it bounds a stalled or
	// vanished consumer, not the slowest handler. Tests shorten it; 0 is
	// natsx.DefaultAckWait (30 s).
	ConsumerAckWait time.Duration `env:"NATS_CONSUMER_ACK_WAIT" envDefault:"30s"`
}

// minStreamMaxAge is the streams' duplicate window (natsx.DuplicateWindow):
// JetStream refuses a stream that keeps messages for less.
const minStreamMaxAge = time.Hour

// Validate checks the stream limits: every age at least the duplicate
// window, every size positive, and a dead letter never kept longer than
// the stream it came from.
func (n NATS) Validate() error {
	var errs []error
	if n.StreamMaxAge < minStreamMaxAge {
		errs = append(errs, fmt.Errorf("NATS_STREAM_MAX_AGE must be at least %s", minStreamMaxAge))
	}
	if n.DeadLetterMaxAge < minStreamMaxAge {
		errs = append(errs, fmt.Errorf("NATS_DEADLETTER_MAX_AGE must be at least %s", minStreamMaxAge))
	}
	if n.DeadLetterMaxAge > n.StreamMaxAge {
		errs = append(errs, fmt.Errorf("NATS_DEADLETTER_MAX_AGE (%s) must not exceed NATS_STREAM_MAX_AGE (%s): a dead letter would keep the journal's health text longer than the journal's stream", n.DeadLetterMaxAge, n.StreamMaxAge))
	}
	if n.ConsumerAckWait < 0 {
		errs = append(errs, errors.New("NATS_CONSUMER_ACK_WAIT must not be negative"))
	}
	if n.StreamMaxBytes <= 0 {
		errs = append(errs, errors.New("NATS_STREAM_MAX_BYTES must be positive"))
	}
	if n.DeadLetterMaxBytes <= 0 {
		errs = append(errs, errors.New("NATS_DEADLETTER_MAX_BYTES must be positive"))
	}
	return errors.Join(errs...)
}

// Auth configures JWT verification (HS256 in development and tests).
type Auth struct {
	// JWTSecret is the HS256 key shared with the token issuer.
	JWTSecret Secret `env:"NOCONTACT_JWT_SECRET"`
	// JWTPreviousSecret, when set, is also accepted: the key being
	// retired during a rotation, so that tokens signed before the issuer
	// switched keep working and no pod rejects what another accepts.
	JWTPreviousSecret Secret `env:"NOCONTACT_JWT_PREVIOUS_SECRET"`
	// JWKSURL, when set, replaces the HS256 secrets: tokens are verified
	// with the identity provider's asymmetric keys published at this URL
	// (https; http only to a loopback host, for development).
	JWKSURL string `env:"NOCONTACT_JWT_JWKS_URL"`
	// Issuer is the expected `iss` claim.
	Issuer string `env:"NOCONTACT_JWT_ISSUER" envDefault:"nocontact"`
	// Audience is the expected `aud` claim.
	Audience string `env:"NOCONTACT_JWT_AUDIENCE" envDefault:"nocontact"`
	// TokenCacheSize bounds the verified-token cache (auth.NewVerifier):
	// a token seen again within TokenCacheMaxAge skips the signature
	// check, never the exp/nbf/iat checks. An entry is ~300 bytes (the
	// token's SHA-256, not the token), so 10,000 are ~3 MB. 0 turns the
	// cache off.
	TokenCacheSize int `env:"NOCONTACT_JWT_CACHE_SIZE" envDefault:"10000"`
	// TokenCacheMaxAge is how long a verified token is trusted without
	// checking its signature again: with JWKS, how much longer a key
	// withdrawn from the set is honoured. 0 turns the cache off.
	TokenCacheMaxAge time.Duration `env:"NOCONTACT_JWT_CACHE_MAX_AGE" envDefault:"1m"`
}

// MaxTokenCacheMaxAge bounds Auth.TokenCacheMaxAge: the key-withdrawal lag
// it adds stays short of the key set's own 15-minute refresh.
const MaxTokenCacheMaxAge = 10 * time.Minute

// MinJWTSecretLen is the shortest HS256 key accepted: RFC 7518 section 3.2
// requires a key at least as long as the hash output (256 bits).
const MinJWTSecretLen = 32

// Validate reports a missing or too short secret (or a bad JWKS URL) and
// empty claims expectations: a service must never start unable to
// authenticate, nor accept tokens minted for another issuer or audience.
// Exactly one mode: the HS256 secret(s), or a JWKS URL.
func (a Auth) Validate() error {
	var errs []error
	if a.JWKSURL != "" {
		if a.JWTSecret != "" || a.JWTPreviousSecret != "" {
			errs = append(errs, errors.New("NOCONTACT_JWT_JWKS_URL and NOCONTACT_JWT_SECRET/NOCONTACT_JWT_PREVIOUS_SECRET are both set: choose the JWKS URL (asymmetric keys) or the HS256 secret, not both"))
		}
		if err := validJWKSURL(a.JWKSURL); err != nil {
			errs = append(errs, err)
		}
	} else {
		if n := len(a.JWTSecret); n < MinJWTSecretLen {
			errs = append(errs, fmt.Errorf("NOCONTACT_JWT_SECRET must be at least %d bytes, got %d (or set NOCONTACT_JWT_JWKS_URL)", MinJWTSecretLen, n))
		}
		if n := len(a.JWTPreviousSecret); n > 0 && n < MinJWTSecretLen {
			errs = append(errs, fmt.Errorf("NOCONTACT_JWT_PREVIOUS_SECRET must be empty or at least %d bytes, got %d", MinJWTSecretLen, n))
		}
	}
	if a.Issuer == "" {
		errs = append(errs, errors.New("NOCONTACT_JWT_ISSUER is empty"))
	}
	if a.Audience == "" {
		errs = append(errs, errors.New("NOCONTACT_JWT_AUDIENCE is empty"))
	}
	if a.TokenCacheSize < 0 {
		errs = append(errs, fmt.Errorf("NOCONTACT_JWT_CACHE_SIZE is %d: want 0 (off) or more", a.TokenCacheSize))
	}
	if a.TokenCacheMaxAge < 0 || a.TokenCacheMaxAge > MaxTokenCacheMaxAge {
		errs = append(errs, fmt.Errorf("NOCONTACT_JWT_CACHE_MAX_AGE is %v: want 0 (off) up to %v", a.TokenCacheMaxAge, MaxTokenCacheMaxAge))
	}
	return errors.Join(errs...)
}

func validJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("NOCONTACT_JWT_JWKS_URL %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	default:
		return fmt.Errorf("NOCONTACT_JWT_JWKS_URL %q must use https (plain http only to a loopback host): the keys decide who may sign in", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Keys are the HS256 keys to accept, the current one first.
func (a Auth) Keys() [][]byte {
	keys := [][]byte{[]byte(a.JWTSecret.Reveal())}
	if a.JWTPreviousSecret != "" && a.JWTPreviousSecret != a.JWTSecret {
		keys = append(keys, []byte(a.JWTPreviousSecret.Reveal()))
	}
	return keys
}

// LogFormat selects the log encoding.
type LogFormat string

// Log formats.
const (
	LogJSON LogFormat = "json"
	LogText LogFormat = "text"
)

// UnmarshalText accepts "json" or "text" (any case), so that a typo in
// LOG_FORMAT fails at start-up instead of silently picking a format.
func (f *LogFormat) UnmarshalText(b []byte) error {
	switch v := LogFormat(strings.ToLower(strings.TrimSpace(string(b)))); v {
	case LogJSON, LogText:
		*f = v
		return nil
	default:
		return fmt.Errorf("log format %q: want %q or %q", string(b), LogJSON, LogText)
	}
}

// Log configures logging.
type Log struct {
	// Format is json (production) or text (a developer's terminal).
	Format LogFormat `env:"LOG_FORMAT" envDefault:"json"`
	// Level is the minimum level: debug, info, warn or error (slog syntax,
	// so "info+2" works too).
	Level slog.Level `env:"LOG_LEVEL" envDefault:"info"`
}

// Secret is a string that never shows itself in logs, fmt output or JSON.
// Use Reveal at the single place that needs the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer; fmt uses it for %v, %s, %q and %x.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText implements encoding.TextMarshaler, which other encoders
// (YAML, XML, slog's text handler for map keys) prefer over the raw string.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
