package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/config"
)

// binaryConfig is what a service's Config looks like.
type binaryConfig struct {
	GRPC  config.GRPC
	Mongo config.Mongo
	NATS  config.NATS
	Auth  config.Auth
	Log   config.Log
}

func TestLoadFromDefaults(t *testing.T) {
	var cfg binaryConfig
	if err := config.LoadFrom(&cfg, nil); err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	want := binaryConfig{
		GRPC:  config.GRPC{Addr: ":9090", ShutdownTimeout: 15 * time.Second, ReadinessInterval: 2 * time.Second, MaxConnectionAge: 5 * time.Minute, RateLimitPerSecond: 100, RateLimitBurst: 200},
		Mongo: config.Mongo{},
		NATS: config.NATS{URL: "nats://127.0.0.1:4222", StreamReplicas: 1, StreamMaxAge: 720 * time.Hour, StreamMaxBytes: 1 << 30,
			DeadLetterMaxAge: 168 * time.Hour, DeadLetterMaxBytes: 256 << 20, ConsumerAckWait: 30 * time.Second},
		Auth: config.Auth{Issuer: "nocontact", Audience: "nocontact", TokenCacheSize: 10000, TokenCacheMaxAge: time.Minute},
		Log:  config.Log{Format: config.LogJSON, Level: slog.LevelInfo},
	}
	if cfg != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestLoadFromOverrides(t *testing.T) {
	var cfg binaryConfig
	environ := map[string]string{
		"GRPC_ADDR":                   "127.0.0.1:7000",
		"SHUTDOWN_TIMEOUT":            "30s",
		"READINESS_INTERVAL":          "500ms",
		"GRPC_MAX_CONNECTION_AGE":     "90s",
		"MONGODB_URI":                 "mongodb://db:27017",
		"MONGODB_DATABASE":            "plans",
		"MONGODB_MAX_POOL_SIZE":       "1",
		"NATS_URL":                    "nats://nats:4222",
		"NATS_STREAM_REPLICAS":        "3",
		"NATS_STREAM_MAX_AGE":         "72h",
		"NATS_STREAM_MAX_BYTES":       "1048576",
		"NATS_DEADLETTER_MAX_AGE":     "48h",
		"NATS_DEADLETTER_MAX_BYTES":   "1024",
		"NATS_CONSUMER_ACK_WAIT":      "2s",
		"NOCONTACT_JWT_SECRET":        "s3cret",
		"NOCONTACT_JWT_ISSUER":        "iss",
		"NOCONTACT_JWT_AUDIENCE":      "aud",
		"NOCONTACT_JWT_CACHE_SIZE":    "50",
		"NOCONTACT_JWT_CACHE_MAX_AGE": "10s",
		"LOG_FORMAT":                  "TEXT",
		"LOG_LEVEL":                   "debug",
	}
	if err := config.LoadFrom(&cfg, environ); err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	want := binaryConfig{
		GRPC:  config.GRPC{Addr: "127.0.0.1:7000", ShutdownTimeout: 30 * time.Second, ReadinessInterval: 500 * time.Millisecond, MaxConnectionAge: 90 * time.Second, RateLimitPerSecond: 100, RateLimitBurst: 200},
		Mongo: config.Mongo{URI: "mongodb://db:27017", Database: "plans", MaxPoolSize: 1},
		NATS: config.NATS{URL: "nats://nats:4222", StreamReplicas: 3, StreamMaxAge: 72 * time.Hour, StreamMaxBytes: 1 << 20,
			DeadLetterMaxAge: 48 * time.Hour, DeadLetterMaxBytes: 1 << 10, ConsumerAckWait: 2 * time.Second},
		Auth: config.Auth{JWTSecret: "s3cret", Issuer: "iss", Audience: "aud", TokenCacheSize: 50, TokenCacheMaxAge: 10 * time.Second},
		Log:  config.Log{Format: config.LogText, Level: slog.LevelDebug},
	}
	if cfg != want {
		t.Errorf("overrides:\n got %#v\nwant %#v", cfg, want)
	}
}

func TestLoadFromRejectsBadValues(t *testing.T) {
	tests := []struct {
		name string
		key  string
		val  string
	}{
		{"unknown log format", "LOG_FORMAT", "xml"},
		{"unknown log level", "LOG_LEVEL", "loud"},
		{"bad duration", "SHUTDOWN_TIMEOUT", "soon"},
		{"negative pool size", "MONGODB_MAX_POOL_SIZE", "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg binaryConfig
			if err := config.LoadFrom(&cfg, map[string]string{tt.key: tt.val}); err == nil {
				t.Errorf("%s=%q accepted, want an error", tt.key, tt.val)
			}
		})
	}
}

func TestLoadFromPrefix(t *testing.T) {
	var cfg struct {
		Plans   config.Mongo `envPrefix:"PLANS_"`
		Journal config.Mongo `envPrefix:"JOURNAL_"`
	}
	err := config.LoadFrom(&cfg, map[string]string{
		"PLANS_MONGODB_DATABASE":   "plans",
		"JOURNAL_MONGODB_DATABASE": "journal",
		"MONGODB_DATABASE":         "ignored",
	})
	if err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	if cfg.Plans.Database != "plans" || cfg.Journal.Database != "journal" {
		t.Errorf("prefixed databases = %q, %q; want plans, journal", cfg.Plans.Database, cfg.Journal.Database)
	}
}

func TestLoadReadsProcessEnvironment(t *testing.T) {
	t.Setenv("GRPC_ADDR", ":1234")
	var cfg binaryConfig
	if err := config.Load(&cfg); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.GRPC.Addr != ":1234" {
		t.Errorf("GRPC.Addr = %q, want :1234", cfg.GRPC.Addr)
	}
}

func TestLoadRejectsNonPointer(t *testing.T) {
	if err := config.LoadFrom(binaryConfig{}, nil); err == nil {
		t.Error("LoadFrom(struct value) succeeded, want an error")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const raw = "hunter2-very-secret"
	cfg := binaryConfig{Auth: config.Auth{JWTSecret: raw, Issuer: "nocontact"}}

	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "cfg", cfg, "secret", cfg.Auth.JWTSecret)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("config", "cfg", cfg, "secret", cfg.Auth.JWTSecret)
	marshalled, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}

	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", cfg),
		"%+v":         fmt.Sprintf("%+v", cfg),
		"%#v":         fmt.Sprintf("%#v", cfg),
		"%s":          fmt.Sprintf("%s", cfg.Auth.JWTSecret),
		"%q":          fmt.Sprintf("%q", cfg.Auth.JWTSecret),
		"json":        string(marshalled),
		"slog json":   jsonLog.String(),
		"slog text":   textLog.String(),
		"String()":    cfg.Auth.JWTSecret.String(),
		"GoString()":  cfg.Auth.JWTSecret.GoString(),
		"LogValue()":  cfg.Auth.JWTSecret.LogValue().String(),
		"fmt.Sprint":  fmt.Sprint(cfg.Auth.JWTSecret),
		"fmt.Println": fmt.Sprintln(cfg),
	}
	for name, out := range outputs {
		if strings.Contains(out, raw) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s does not say [redacted]: %s", name, out)
		}
	}
	if got, want := fmt.Sprintf("%x", cfg.Auth.JWTSecret), fmt.Sprintf("%x", "[redacted]"); got != want {
		t.Errorf("%%x = %s, want the hex of [redacted] %s", got, want)
	}
	if got := cfg.Auth.JWTSecret.Reveal(); got != raw {
		t.Errorf("Reveal() = %q, want %q", got, raw)
	}
}

func TestValidate(t *testing.T) {
	good := strings.Repeat("k", config.MinJWTSecretLen)
	tests := []struct {
		name    string
		v       interface{ Validate() error }
		wantErr bool
	}{
		{"auth ok", config.Auth{JWTSecret: config.Secret(good), Issuer: "i", Audience: "a"}, false},
		{"auth missing secret", config.Auth{Issuer: "i", Audience: "a"}, true},
		{"auth short secret", config.Auth{JWTSecret: config.Secret(good[1:]), Issuer: "i", Audience: "a"}, true},
		{"auth empty issuer", config.Auth{JWTSecret: config.Secret(good), Audience: "a"}, true},
		{"auth with previous secret", config.Auth{JWTSecret: config.Secret(good), JWTPreviousSecret: config.Secret(strings.Repeat("p", config.MinJWTSecretLen)), Issuer: "i", Audience: "a"}, false},
		{"auth with a JWKS URL and no secret", config.Auth{JWKSURL: "https://login.example/.well-known/jwks.json", Issuer: "i", Audience: "a"}, false},
		{"auth with a loopback http JWKS URL", config.Auth{JWKSURL: "http://127.0.0.1:8081/jwks", Issuer: "i", Audience: "a"}, false},
		{"auth with a JWKS URL and a secret", config.Auth{JWKSURL: "https://login.example/jwks", JWTSecret: config.Secret(good), Issuer: "i", Audience: "a"}, true},
		{"auth with a plain http JWKS URL", config.Auth{JWKSURL: "http://login.example/jwks", Issuer: "i", Audience: "a"}, true},
		{"auth with a relative JWKS URL", config.Auth{JWKSURL: "/jwks", Issuer: "i", Audience: "a"}, true},
		{"auth short previous secret", config.Auth{JWTSecret: config.Secret(good), JWTPreviousSecret: "short", Issuer: "i", Audience: "a"}, true},
		{"auth empty audience", config.Auth{JWTSecret: config.Secret(good), Issuer: "i"}, true},
		{"auth with a token cache", config.Auth{JWTSecret: config.Secret(good), Issuer: "i", Audience: "a", TokenCacheSize: 10000, TokenCacheMaxAge: config.MaxTokenCacheMaxAge}, false},
		{"auth negative token cache size", config.Auth{JWTSecret: config.Secret(good), Issuer: "i", Audience: "a", TokenCacheSize: -1, TokenCacheMaxAge: time.Minute}, true},
		{"auth negative token cache age", config.Auth{JWTSecret: config.Secret(good), Issuer: "i", Audience: "a", TokenCacheSize: 1, TokenCacheMaxAge: -time.Minute}, true},
		{"auth token cache age past the bound", config.Auth{JWTSecret: config.Secret(good), Issuer: "i", Audience: "a", TokenCacheSize: 1, TokenCacheMaxAge: config.MaxTokenCacheMaxAge + time.Second}, true},
		{"grpc ok", config.GRPC{Addr: ":1", ShutdownTimeout: time.Second, ReadinessInterval: time.Second}, false},
		{"grpc empty addr", config.GRPC{ShutdownTimeout: time.Second, ReadinessInterval: time.Second}, true},
		{"grpc zero shutdown", config.GRPC{Addr: ":1", ReadinessInterval: time.Second}, true},
		{"grpc zero readiness", config.GRPC{Addr: ":1", ShutdownTimeout: time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			if (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), good) {
				t.Errorf("Validate error leaks the secret: %v", err)
			}
		})
	}
}

// During a rotation both keys are accepted, the current one first; a
// previous key equal to the current one (a half-done edit) is not doubled.
func TestAuthKeys(t *testing.T) {
	cur, prev := strings.Repeat("c", 32), strings.Repeat("p", 32)
	keys := config.Auth{JWTSecret: config.Secret(cur), JWTPreviousSecret: config.Secret(prev)}.Keys()
	if len(keys) != 2 || string(keys[0]) != cur || string(keys[1]) != prev {
		t.Fatalf("Keys() = %q, want current then previous", keys)
	}
	if keys := (config.Auth{JWTSecret: config.Secret(cur)}).Keys(); len(keys) != 1 {
		t.Fatalf("Keys() without a previous secret = %d keys, want 1", len(keys))
	}
	if keys := (config.Auth{JWTSecret: config.Secret(cur), JWTPreviousSecret: config.Secret(cur)}).Keys(); len(keys) != 1 {
		t.Fatalf("Keys() with previous == current = %d keys, want 1", len(keys))
	}
}
