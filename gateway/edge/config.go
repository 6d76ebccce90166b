// Package edge is the HTTP/JSON edge of the suite: grpc-gateway routes for
// every public RPC, authentication, CORS from an allow-list, request size and
// per-identity rate limits, error mapping without internals, health and the
// OpenAPI document. It dials the services over gRPC like any other client.
package edge

import (
	"time"

	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/tlsx"
)

// Config is the gateway's configuration, read from the environment.
type Config struct {
	// HTTPAddr is where the gateway listens.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// PlansAddr is the plans service's gRPC address (the *Addr settings
	// also take a comma-separated list, balanced round-robin).
	PlansAddr string `env:"PLANS_ADDR" envDefault:"127.0.0.1:9091"`
	// JournalAddr is the journal service's gRPC address.
	JournalAddr string `env:"JOURNAL_ADDR" envDefault:"127.0.0.1:9092"`
	// NotifyAddr is the notify service's gRPC address.
	NotifyAddr string `env:"NOTIFY_ADDR" envDefault:"127.0.0.1:9093"`
	// CORSAllowedOrigins lists the exact origins a browser may call from
	// (a counsellor dashboard). Empty allows no cross-origin calls.
	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
	// MaxBodyBytes caps a request body; larger ones answer 413.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES" envDefault:"1048576"`
	// RateLimitPerSecond is the sustained request rate per identity (per
	// remote address before authentication).
	RateLimitPerSecond float64 `env:"RATE_LIMIT_PER_SECOND" envDefault:"20"`
	// RateLimitBurst is how many requests an identity may send at once.
	RateLimitBurst int `env:"RATE_LIMIT_BURST" envDefault:"40"`
	// BackendTimeout bounds one call to a service (live feeds excepted:
	// they last as long as the dashboard keeps them open).
	BackendTimeout time.Duration `env:"BACKEND_TIMEOUT" envDefault:"10s"`
	// ExportDownloadTimeout bounds the download of one export archive
	// (every service's part, gathered; issue 13) instead of BackendTimeout.
	ExportDownloadTimeout time.Duration `env:"EXPORT_DOWNLOAD_TIMEOUT" envDefault:"2m"`
	// DashboardPlansTimeout bounds the dashboard's call to the plans
	// service (who the clients are; the journal and notify calls wait for
	// it). Plans plus the slower of the other two must fit in
	// BackendTimeout.
	DashboardPlansTimeout time.Duration `env:"DASHBOARD_PLANS_TIMEOUT" envDefault:"3s"`
	// DashboardJournalTimeout bounds the dashboard's call to the journal
	// service; past it the answer comes without the journal's part and
	// names SERVICE_JOURNAL as unavailable.
	DashboardJournalTimeout time.Duration `env:"DASHBOARD_JOURNAL_TIMEOUT" envDefault:"3s"`
	// DashboardNotifyTimeout bounds the dashboard's call to the notify
	// service, likewise.
	DashboardNotifyTimeout time.Duration `env:"DASHBOARD_NOTIFY_TIMEOUT" envDefault:"2s"`
	// ShutdownTimeout bounds the drain of in-flight requests at shutdown.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// MetricsAddr is where Prometheus metrics are served (GET /metrics, a
	// listener of its own); "" or "off" serves none.
	MetricsAddr string `env:"METRICS_ADDR" envDefault:":9464"`

	// DevTokens makes the dashboard page offer a button that mints a
	// development counsellor token (POST /dashboard/dev-token), signed
	// with the HS256 secret. Only the devstack turns it on; the gateway
	// refuses to start with it when tokens are verified with a JWKS URL
	// (there is no development secret to sign with then).
	DevTokens bool `env:"DEV_TOKENS" envDefault:"false"`
	// DevCounsellorID is the sub of the development counsellor token.
	DevCounsellorID string `env:"DEV_COUNSELLOR_ID" envDefault:"counsellor-demo"`

	// TLS makes the calls to the services mutual TLS (TLS_CERT_FILE,
	// TLS_KEY_FILE, TLS_CA_FILE: all or none), as the services require
	// when theirs is on.
	TLS tlsx.Files

	Auth config.Auth
	Log  config.Log
}
