// Command devstack runs the whole suite in one process for a laptop or a
// demo: embedded NATS (JetStream, file store) and embedded FerretDB (SQLite)
// unless NATS_URL / MONGODB_URI point at running ones, then every service
// and the gateway as separate gRPC/HTTP servers on loopback ports, talking
// over real connections exactly as in production.
//
//	go run ./devstack                                   # run the suite
//	go run ./devstack token --sub client-1 --role client  # print a dev token
//	go run ./devstack seed                                # demo data in a running devstack
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "token":
		err = tokenMain(os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "seed":
		err = seedMain(ctx, os.Args[2:], os.Stdout)
	default:
		err = realMain(ctx, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, out io.Writer) error {
	var s Settings
	if err := config.Load(&s); err != nil {
		return err
	}
	var logCfg config.Log
	if err := config.LoadFrom(&logCfg, map[string]string{"LOG_FORMAT": s.LogFormat, "LOG_LEVEL": s.LogLevel}); err != nil {
		return err
	}
	log := logging.New(logCfg, os.Stderr)

	st, err := Start(ctx, s, log, clock.Real())
	if err != nil {
		return err
	}
	secretNote := "from NOCONTACT_JWT_SECRET"
	if s.JWKSURL != "" {
		secretNote = "none: tokens are verified with the keys at " + s.JWKSURL
	} else if s.JWTSecret == "" {
		secretNote = fmt.Sprintf("development default %q (set NOCONTACT_JWT_SECRET to change it)", DevJWTSecret)
	}
	kekNote := "from NOCONTACT_KEK"
	if s.KEK == "" {
		kekNote = fmt.Sprintf("development default %q (set NOCONTACT_KEK to change it; never use it anywhere real)", DevKEK)
	}
	fmt.Fprintf(out, `no-contact devstack is up
  gateway (HTTP)   http://%s   (OpenAPI: /openapi.json, health: /healthz)
  dashboard        http://%s/dashboard/
  plans (gRPC)     %s
  journal (gRPC)   %s
  notify (gRPC)    %s
  metrics          %s
  NATS             %s%s
  MongoDB          %s%s
  data dir         %s
  JWT secret       %s
  journal KEK      %s
  between services %s
  tracing          %s
  get a token:     go run ./devstack token --sub client-1 --role client
Press Ctrl-C to stop.
`, st.HTTPAddr, st.HTTPAddr, st.PlansAddr, st.JournalAddr, st.NotifyAddr, metricsLine(st), st.NATSURL, embeddedNote(st.EmbeddedNATS), redactURI(st.MongoURI), embeddedNote(st.EmbeddedMongo), s.DataDir, secretNote, kekNote, transportNote(s), tracingNote())

	<-ctx.Done()
	fmt.Fprintln(out, "stopping…")
	if err := st.Wait(); err != nil {
		return err
	}
	fmt.Fprintln(out, "stopped")
	return nil
}

// tokenMain prints a development token signed with the devstack's secret.
func tokenMain(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "user id (the token's sub claim)")
	role := fs.String("role", "client", "client, counsellor or admin")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return fmt.Errorf("token: --sub is required")
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	var s Settings
	if err := config.Load(&s); err != nil {
		return err
	}
	secret := s.JWTSecret.Reveal()
	if secret == "" {
		secret = DevJWTSecret
	}
	var a config.Auth
	if err := config.LoadFrom(&a, nil); err != nil {
		return err
	}
	tok, err := auth.IssueHS256([]byte(secret), a.Issuer, a.Audience, *sub, r, *ttl, clock.Real())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}

// metricsLine lists where each component serves GET /metrics.
func metricsLine(st *Stack) string {
	if st.PlansMetricsAddr == "" {
		return "off (NOCONTACT_METRICS_ADDR)"
	}
	return fmt.Sprintf("plans http://%s/metrics, journal http://%s/metrics,\n                   notify http://%s/metrics, gateway http://%s/metrics",
		st.PlansMetricsAddr, st.JournalMetricsAddr, st.NotifyMetricsAddr, st.GatewayMetricsAddr)
}

func embeddedNote(embedded bool) string {
	if embedded {
		return " (embedded)"
	}
	return ""
}

// redactURI hides credentials in a MongoDB URI before printing it.
func redactURI(uri string) string {
	const scheme = "mongodb://"
	if len(uri) > len(scheme) && uri[:len(scheme)] == scheme {
		rest := uri[len(scheme):]
		for i := 0; i < len(rest) && rest[i] != '/'; i++ {
			if rest[i] == '@' {
				return scheme + "***@" + rest[i+1:]
			}
		}
	}
	return uri
}

func transportNote(s Settings) string {
	if s.TLSCertFile == "" && s.TLSKeyFile == "" && s.TLSCAFile == "" {
		return "plaintext on loopback (NOCONTACT_TLS_* for mutual TLS)"
	}
	return "mutual TLS (" + s.TLSCertFile + ")"
}

func tracingNote() string {
	if e := os.Getenv("OTEL_TRACES_EXPORTER"); e != "" && e != "none" {
		return "on, exporter " + e
	}
	return "off (OTEL_TRACES_EXPORTER=otlp or console to turn it on)"
}
