// Package bootstrap is what every service binary does the same way: check
// its configuration, connect to MongoDB (one connection on FerretDB) and
// NATS, set up its indexes and streams, report readiness truthfully, and
// shut down in the order of DESIGN.md §7: health NOT_SERVING, graceful stop
// of RPCs, consumers and background work stopped, a last outbox flush, NATS
// drained, MongoDB closed.
package bootstrap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/buildinfo"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/tlsx"
	"github.com/nocontact/backend/platform/tracing"
)

// Base is the configuration every service shares; a service's Config
// embeds it.
type Base struct {
	GRPC  config.GRPC
	Mongo config.Mongo
	NATS  config.NATS
	Auth  config.Auth
	Log   config.Log
	// OutboxInterval is how often the relay polls for unpublished events
	// (it is also woken after every write).
	OutboxInterval time.Duration `env:"OUTBOX_INTERVAL" envDefault:"1s"`
	// OutboxIdleInterval is how far that period grows while the relay
	// finds nothing (doubling from OutboxInterval): each write wakes the
	// relay anyway, so the poll only catches what a stopped replica left.
	OutboxIdleInterval time.Duration `env:"OUTBOX_IDLE_INTERVAL" envDefault:"15s"`
	// MetricsAddr is where Prometheus metrics are served (GET /metrics, a
	// listener of its own); "" or "off" serves none.
	MetricsAddr string `env:"METRICS_ADDR" envDefault:":9464"`
	// TLS turns on mutual TLS for the gRPC API and for calls to the other
	// services (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE: all or none).
	TLS tlsx.Files
	// ProbeAddr, when set, serves the gRPC health service alone in
	// plaintext there, for the kubelet's probes (which cannot speak TLS).
	ProbeAddr string `env:"PROBE_ADDR"`
}

// Spec is what one service owns.
type Spec struct {
	// Name is the service's name (NATS connection name, logs).
	Name string
	// Database is the default database name (MONGODB_DATABASE overrides).
	Database string
	// Indexes of the service's collections, created at start-up.
	Indexes map[string][]mongo.IndexModel
	// Streams to ensure, by name: the service's own and those it consumes
	// (whichever service starts first creates them, with one configuration).
	Streams map[string][]string
	// Mongo, when set, is the client to use instead of connecting to
	// MONGODB_URI; it is left open at shutdown (its owner closes it). The
	// devstack shares one client between replicas, as DESIGN §6 requires
	// on FerretDB.
	Mongo *mongo.Client
}

// Deps are the connections a running service uses.
type Deps struct {
	Log      *slog.Logger
	Clock    clock.Clock
	Mongo    *mongo.Client
	DB       *mongo.Database
	NC       *nats.Conn
	JS       jetstream.JetStream
	Verifier auth.Verifier
	// Metrics is the service's registry; NewServer, Relay and Consumer
	// wire their hooks to it, and Serve serves it on MetricsAddr.
	Metrics *metrics.Metrics
	// Tracing is the service's tracer provider (OTEL_* variables; off by
	// default); NewServer, Relay, Consumer and DialOptions use it, and
	// Serve flushes it last.
	Tracing *tracing.Provider
	// TLS is the service's certificate and CA when mutual TLS is on, nil
	// when the service speaks plaintext.
	TLS       *tlsx.Source
	base      Base
	ownsMongo bool
}

// Start checks the configuration and connects. On error nothing is left
// open.
func Start(ctx context.Context, base Base, spec Spec, log *slog.Logger, clk clock.Clock) (*Deps, error) {
	if log == nil {
		log = slog.Default()
	}
	if clk == nil {
		clk = clock.Real()
	}
	if base.Mongo.Database == "" {
		base.Mongo.Database = spec.Database
	}
	if err := errors.Join(base.GRPC.Validate(), base.Auth.Validate(), base.TLS.Validate(), base.NATS.Validate()); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var certs *tlsx.Source
	if base.TLS.Enabled() {
		var err error
		if certs, err = tlsx.Load(base.TLS, log); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// mongox.Connect uses a single connection on FerretDB, which does not
	// isolate read-modify-write across connections (DESIGN.md §6).
	client, ownsMongo := spec.Mongo, spec.Mongo == nil
	if ownsMongo {
		var err error
		if client, err = mongox.Connect(startCtx, base.Mongo.URI, base.Mongo.MaxPoolSize); err != nil {
			return nil, err
		}
	}
	tp, err := tracing.Setup(ctx, spec.Name, log)
	if err != nil {
		d := &Deps{Mongo: client, ownsMongo: ownsMongo}
		d.closeMongoAndTraces(ctx)
		return nil, err
	}
	d := &Deps{Log: log, Clock: clk, Mongo: client, DB: client.Database(base.Mongo.Database), Metrics: metrics.New(spec.Name), Tracing: tp, TLS: certs, base: base, ownsMongo: ownsMongo}
	if err := mongox.EnsureIndexes(startCtx, d.DB, spec.Indexes); err != nil {
		d.closeMongoAndTraces(ctx)
		return nil, err
	}
	d.NC, d.JS, err = natsx.Connect(base.NATS.URL, spec.Name, log)
	if err != nil {
		d.closeMongoAndTraces(ctx)
		return nil, err
	}
	for name, subjects := range spec.Streams {
		limits := natsx.StreamLimits{MaxAge: base.NATS.StreamMaxAge, MaxBytes: base.NATS.StreamMaxBytes}
		if _, err := natsx.EnsureStreamLimited(startCtx, d.JS, name, subjects, base.NATS.StreamReplicas, limits); err != nil {
			d.NC.Close()
			d.closeMongoAndTraces(ctx)
			return nil, err
		}
	}
	// A JWKS verifier refreshes its keys for as long as the service runs.
	if d.Verifier, err = auth.NewVerifier(ctx, base.Auth, clk, log); err != nil {
		d.NC.Close()
		d.closeMongoAndTraces(ctx)
		return nil, fmt.Errorf("config: %w", err)
	}
	info := buildinfo.Get()
	log.Info("starting", "service", spec.Name, "version", info.Version, "commit", info.Commit, "go", info.GoVersion, "tracing", tp.Enabled(), "mutual_tls", certs != nil)
	return d, nil
}

// Readiness checks MongoDB and NATS for the health service, and that the
// token verifier has keys when it fetches them (JWKS).
func (d *Deps) Readiness() []grpcserver.Check {
	checks := []grpcserver.Check{
		{Name: "mongodb", Fn: func(ctx context.Context) error { return d.Mongo.Ping(ctx, nil) }},
		{Name: "nats", Fn: func(context.Context) error {
			if s := d.NC.Status(); s != nats.CONNECTED {
				return fmt.Errorf("nats is %s", s)
			}
			return nil
		}},
	}
	if r, ok := d.Verifier.(interface{ Ready(context.Context) error }); ok {
		checks = append(checks, grpcserver.Check{Name: "jwt-keys", Fn: r.Ready})
	}
	return checks
}

// NewServer builds the gRPC server with the shared interceptors, readiness
// and RPC metrics.
func (d *Deps) NewServer(serviceName string) *grpcserver.Server {
	var serverTLS *tls.Config
	if d.TLS != nil {
		serverTLS = d.TLS.ServerConfig()
	}
	return grpcserver.New(grpcserver.Options{
		TLS:                serverTLS,
		Logger:             d.Log,
		Clock:              d.Clock,
		Verifier:           d.Verifier,
		ServiceName:        serviceName,
		ReadinessInterval:  d.base.GRPC.ReadinessInterval,
		MaxConnectionAge:   d.base.GRPC.MaxConnectionAge,
		RateLimitPerSecond: d.base.GRPC.RateLimitPerSecond,
		RateLimitBurst:     d.base.GRPC.RateLimitBurst,
		Readiness:          d.Readiness(),
		ObserveRPC:         d.Metrics.ObserveRPC,
		ServerOptions:      []grpc.ServerOption{d.Tracing.ServerOption()},
	})
}

// Consumer starts a durable consumer; it returns the function that stops it.
type Consumer func(ctx context.Context) (stop func(), err error)

// Consumer starts spec's durable consumer with handler when Serve runs,
// its dead-letter stream replicated like every other stream and its
// outcomes counted in Metrics (unless spec has an Observe hook of its own).
func (d *Deps) Consumer(spec natsx.ConsumerSpec, handler natsx.Handler) Consumer {
	spec.DeadLetterReplicas = d.base.NATS.StreamReplicas
	spec.DeadLetterLimits = natsx.StreamLimits{MaxAge: d.base.NATS.DeadLetterMaxAge, MaxBytes: d.base.NATS.DeadLetterMaxBytes}
	spec.Tracing = d.Tracing
	if spec.AckWait == 0 {
		spec.AckWait = d.base.NATS.ConsumerAckWait
	}
	if spec.Observe == nil {
		spec.Observe = d.Metrics.ConsumerObserver(spec.Durable)
	}
	// How far behind the consumer is, asked of JetStream at each scrape.
	// Until Serve has created the consumer the answer is an error, and the
	// scrape shows no value for it.
	if js := d.JS; js != nil {
		stream, durable := spec.Stream, spec.Durable
		d.Metrics.ConsumerLag(durable, func(ctx context.Context) (uint64, uint64, error) {
			c, err := js.Consumer(ctx, stream, durable)
			if err != nil {
				return 0, 0, err
			}
			// Consumer has just fetched the info; no second request.
			info := c.CachedInfo()
			return info.NumPending, uint64(max(info.NumAckPending, 0)), nil
		})
	}
	return func(ctx context.Context) (func(), error) {
		return natsx.Consume(ctx, d.JS, spec, handler, d.Log)
	}
}

// Work is background work that runs until its context is done.
type Work func(ctx context.Context)

// Serve answers RPCs on lis (a listener on GRPC.Addr when nil) until ctx is
// done, with the relay, the background work and the consumers running
// beside it on a context of their own, so that events written by the last
// RPCs still leave. Then it shuts down in order and closes the connections.
// Metrics are served on metricsLis (a listener on MetricsAddr when nil,
// none when MetricsAddr is off) until everything else has stopped.
func (d *Deps) Serve(ctx context.Context, srv *grpcserver.Server, lis, metricsLis net.Listener, relay *outbox.Relay, work []Work, consumers []Consumer) error {
	defer d.closeMongoAndTraces(ctx)
	defer d.NC.Close()
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", d.base.GRPC.Addr); err != nil {
			if metricsLis != nil {
				_ = metricsLis.Close()
			}
			return fmt.Errorf("listen on %s: %w", d.base.GRPC.Addr, err)
		}
	}
	if metricsLis == nil {
		var err error
		if metricsLis, err = metrics.Listen(d.base.MetricsAddr); err != nil {
			_ = lis.Close()
			return err
		}
	}
	if metricsLis != nil {
		// Stopped when Serve returns, after the shutdown below (and before
		// the connections close), so the shutdown can still be scraped.
		metricsCtx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
		metricsDone := make(chan struct{})
		go func() {
			defer close(metricsDone)
			if err := d.Metrics.Serve(metricsCtx, metricsLis); err != nil {
				d.Log.Error("metrics server stopped", "error", err)
			}
		}()
		defer func() { stopMetrics(); <-metricsDone }()
		d.Log.Info("metrics listening", "addr", metricsLis.Addr().String())
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if relay != nil {
		work = append(work, func(ctx context.Context) { _ = relay.Run(ctx) })
	}
	for _, w := range work {
		wg.Add(1)
		go func() { defer wg.Done(); w(workCtx) }()
	}
	var stops []func()
	stopAll := func() {
		for _, stop := range stops {
			stop()
		}
		stopWork()
		wg.Wait()
	}
	for _, c := range consumers {
		stop, err := c(workCtx)
		if err != nil {
			stopAll()
			_ = lis.Close()
			return fmt.Errorf("start consumer: %w", err)
		}
		stops = append(stops, stop)
	}

	if d.base.ProbeAddr != "" {
		probeLis, err := net.Listen("tcp", d.base.ProbeAddr)
		if err != nil {
			stopAll()
			_ = lis.Close()
			return fmt.Errorf("listen for probes on %s: %w", d.base.ProbeAddr, err)
		}
		stopProbes := srv.ServeProbes(probeLis)
		// Stopped once the API has stopped: until then the probes see
		// the same statuses, NOT_SERVING during the shutdown included.
		defer stopProbes()
		d.Log.Info("probes listening", "addr", probeLis.Addr().String())
	}

	d.Log.Info("service listening", "addr", lis.Addr().String(), "mutual_tls", d.TLS != nil)
	serveErr := srv.Serve(ctx, lis, d.base.GRPC.ShutdownTimeout)

	stopAll()
	if relay != nil {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if _, err := relay.Flush(flushCtx); err != nil {
			d.Log.Warn("final outbox flush incomplete; events stay stored and leave at the next start", "error", err)
		}
		cancel()
	}
	// Wait for the drain: the last acks and publishes reach the server
	// before the process (or a devstack stopping its embedded server)
	// goes on.
	if err := natsx.DrainAndWait(d.NC, 5*time.Second); err != nil {
		d.Log.Warn("nats drain", "error", err)
	}
	return serveErr
}

// Relay builds the outbox relay over the named collections.
func (d *Deps) Relay(collections ...string) *outbox.Relay {
	colls := make([]*mongo.Collection, len(collections))
	for i, c := range collections {
		colls[i] = d.DB.Collection(c)
	}
	return outbox.NewRelay(d.JS, d.Log, outbox.Options{Interval: d.base.OutboxInterval, IdleInterval: d.base.OutboxIdleInterval, Observe: d.Metrics.OutboxObserver(), Tracing: d.Tracing}, colls...)
}

// DialOptions are the options for grpcclient.Dial of another service:
// calls join the caller's trace, over mutual TLS when it is on.
func (d *Deps) DialOptions() []grpc.DialOption {
	opts := []grpc.DialOption{d.Tracing.DialOption()}
	if d.TLS != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(d.TLS.ClientConfig())))
	}
	return opts
}

func (d *Deps) closeMongoAndTraces(ctx context.Context) {
	if d.ownsMongo {
		_ = d.Mongo.Disconnect(context.WithoutCancel(ctx))
	}
	// Spans are flushed last: every span of the shutdown has ended by now.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.Tracing.Shutdown(flushCtx); err != nil && d.Log != nil {
		d.Log.Warn("flushing traces", "error", err)
	}
}
