package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/gateway/edge"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/mongox"
	journalserver "github.com/nocontact/backend/services/journal/server"
	notifyserver "github.com/nocontact/backend/services/notify/server"
	plansserver "github.com/nocontact/backend/services/plans/server"
)

// Settings is the devstack's configuration (the contract).
type Settings struct {
	HTTPAddr        string        `env:"NOCONTACT_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	PlansGRPCAddr   string        `env:"NOCONTACT_PLANS_GRPC_ADDR" envDefault:"127.0.0.1:0"`
	JournalGRPCAddr string        `env:"NOCONTACT_JOURNAL_GRPC_ADDR" envDefault:"127.0.0.1:0"`
	NotifyGRPCAddr  string        `env:"NOCONTACT_NOTIFY_GRPC_ADDR" envDefault:"127.0.0.1:0"`
	DataDir         string        `env:"NOCONTACT_DATA_DIR" envDefault:"./.devstack"`
	JWTSecret       config.Secret `env:"NOCONTACT_JWT_SECRET"`
	NATSURL         string        `env:"NATS_URL"`
	MongoURI        string        `env:"MONGODB_URI"`
	CORSOrigins     string        `env:"NOCONTACT_CORS_ALLOWED_ORIGINS" envDefault:"http://localhost:3000"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"text"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"warn"`
	// MilestoneScanInterval is short here so a demo sees milestones at once.
	MilestoneScanInterval string `env:"NOCONTACT_MILESTONE_SCAN_INTERVAL" envDefault:"1s"`
	// RiskEscalateAfter is how long a risk flag waits for the care team.
	RiskEscalateAfter string `env:"NOCONTACT_RISK_ESCALATE_AFTER" envDefault:"30m"`
	// MetricsAddr is where each service and the gateway serve /metrics,
	// every one on a port of its own: "127.0.0.1:0" (also when empty) is
	// any free loopback port, "off" serves none.
	MetricsAddr string `env:"NOCONTACT_METRICS_ADDR" envDefault:"127.0.0.1:0"`
	// TLS turns on mutual TLS between the gateway and the services and
	// between the services, as in production: one certificate (valid for
	// 127.0.0.1, for serving and for calling) used by every component.
	// Off (plaintext on loopback) unless all three files are given.
	TLSCertFile string `env:"NOCONTACT_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"NOCONTACT_TLS_KEY_FILE"`
	TLSCAFile   string `env:"NOCONTACT_TLS_CA_FILE"`
	// JWKSURL switches every component to asymmetric tokens verified with
	// the keys an identity provider publishes there, as production does;
	// the HS256 secret (and the token subcommand) are then not used.
	JWKSURL string `env:"NOCONTACT_JWT_JWKS_URL"`
	// Replicas is how many replicas of each service run (0 means 1), as
	// production runs two or more: each with its own gRPC and metrics
	// listener, NATS connection, background jobs and consumers, all
	// sharing one MongoDB client (DESIGN §6), the gateway (and journal's
	// calls to plans) balanced round-robin over them. Replica 0 listens on
	// the configured addresses, the others on free loopback ports.
	Replicas int `env:"NOCONTACT_REPLICAS" envDefault:"1"`
	// RateLimitPerSecond and RateLimitBurst are the gateway's limit per
	// identity (edge.Config); tests that drive many rounds raise them.
	RateLimitPerSecond string `env:"NOCONTACT_RATE_LIMIT_PER_SECOND" envDefault:"20"`
	RateLimitBurst     string `env:"NOCONTACT_RATE_LIMIT_BURST" envDefault:"40"`
	// DevCounsellorID is who the dashboard's "development counsellor
	// token" button signs in as (the gateway's DEV_TOKENS, which the
	// devstack turns on unless tokens come from a JWKS URL).
	DevCounsellorID string `env:"NOCONTACT_DEV_COUNSELLOR_ID" envDefault:"counsellor-demo"`
	// KEK is the key-encryption key of the journal's per-client keysets
	// (NOCONTACT_KEK of the services); DevKEK when not set.
	KEK config.Secret `env:"NOCONTACT_KEK"`
	// ConsumerAckWait is every service's NATS_CONSUMER_ACK_WAIT (empty:
	// the services' default, 30 s); the fault tests shorten it.
	ConsumerAckWait string `env:"NOCONTACT_CONSUMER_ACK_WAIT"`
}

// DevKEK is the development key-encryption key (the base64 of 32 bytes)
// used when NOCONTACT_KEK is not set. It is printed at start-up: whatever
// it sealed is readable by anyone who reads this file. Never use it
// anywhere real.
const DevKEK = "bm9jb250YWN0LWRldnN0YWNrLWtlay1ub3QtcmVhbCE="

// DevJWTSecret is the development HS256 secret used when
// NOCONTACT_JWT_SECRET is not set. It is printed at start-up: never use it
// anywhere real.
const DevJWTSecret = "nocontact-devstack-secret-do-not-use-in-production"

// Stack is a running suite: infrastructure, services and gateway.
type Stack struct {
	HTTPAddr string
	// Each service's gRPC address, every replica's separated by commas
	// (what grpcclient.Dial balances over).
	PlansAddr   string
	JournalAddr string
	NotifyAddr  string
	NATSURL     string
	MongoURI    string
	// Mongo is the one MongoDB client every service and replica uses.
	Mongo *mongo.Client
	// Embedded says which infrastructure the stack started itself.
	EmbeddedNATS, EmbeddedMongo bool

	// Where each component serves GET /metrics (a service's first
	// replica); empty when metrics are off.
	PlansMetricsAddr, JournalMetricsAddr, NotifyMetricsAddr, GatewayMetricsAddr string
	// Where every replica of each service serves GET /metrics, replica 0
	// first; empty when metrics are off.
	PlansMetricsAddrs, JournalMetricsAddrs, NotifyMetricsAddrs []string

	// stops holds each replica's stop (by replicaName), for StopReplica.
	stopsMu sync.Mutex
	stops   map[string]func()
	done    map[string]chan struct{}

	wg      sync.WaitGroup
	errMu   sync.Mutex
	errs    []error
	cleanup []func()
}

// Start brings the whole suite up and returns once every listener is bound.
// The services run until ctx is done; Wait then returns their first error.
func Start(ctx context.Context, s Settings, log *slog.Logger, clk clock.Clock) (st *Stack, err error) {
	return start(ctx, s, log, clk)
}

// start is Start with options added to the one MongoDB client (a load
// test's command monitor).
func start(ctx context.Context, s Settings, log *slog.Logger, clk clock.Clock, mongoOpts ...*options.ClientOptions) (st *Stack, err error) {
	st = &Stack{NATSURL: s.NATSURL, MongoURI: s.MongoURI}
	defer func() {
		if err != nil {
			st.stopInfra()
		}
	}()
	secret := s.JWTSecret.Reveal()
	if secret == "" {
		secret = DevJWTSecret
	}
	kek := s.KEK.Reveal()
	if kek == "" {
		kek = DevKEK
	}
	if err := os.MkdirAll(s.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}

	if st.NATSURL == "" {
		dir := filepath.Join(s.DataDir, "nats")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create nats dir: %w", err)
		}
		ns, err := embedded.StartNATS(embedded.NATSOptions{Port: embedded.RandomPort, StoreDir: dir})
		if err != nil {
			return nil, err
		}
		st.cleanup = append(st.cleanup, func() { ns.Shutdown(); ns.WaitForShutdown() })
		st.NATSURL = ns.ClientURL()
		st.EmbeddedNATS = true
	}
	if st.MongoURI == "" {
		dir, err := filepath.Abs(filepath.Join(s.DataDir, "ferretdb"))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create ferretdb dir: %w", err)
		}
		uri, stop, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: dir, Addr: "127.0.0.1:0", Logger: log})
		if err != nil {
			return nil, err
		}
		st.cleanup = append(st.cleanup, stop)
		st.MongoURI = uri
		st.EmbeddedMongo = true
	}

	common := map[string]string{
		"NOCONTACT_JWT_SECRET": secret,
		"NATS_URL":             st.NATSURL,
		"MONGODB_URI":          st.MongoURI,
		"LOG_FORMAT":           s.LogFormat,
		"LOG_LEVEL":            s.LogLevel,
		"TLS_CERT_FILE":        s.TLSCertFile,
		"TLS_KEY_FILE":         s.TLSKeyFile,
		"TLS_CA_FILE":          s.TLSCAFile,
	}
	if s.ConsumerAckWait != "" {
		common["NATS_CONSUMER_ACK_WAIT"] = s.ConsumerAckWait
	}
	if s.JWKSURL != "" {
		delete(common, "NOCONTACT_JWT_SECRET")
		common["NOCONTACT_JWT_JWKS_URL"] = s.JWKSURL
	}

	// One client for every service and replica: FerretDB isolates nothing
	// across connections (DESIGN §6); on MongoDB one pooled client is as good.
	mongoClient, err := mongox.Connect(ctx, st.MongoURI, 0, mongoOpts...)
	if err != nil {
		return nil, err
	}
	st.cleanup = append(st.cleanup, func() { _ = mongoClient.Disconnect(context.WithoutCancel(ctx)) })
	st.Mongo = mongoClient
	replicas := max(s.Replicas, 1)

	// plans
	plans, err := st.listenReplicas("plans", s.PlansGRPCAddr, s.MetricsAddr, replicas)
	if err != nil {
		return nil, err
	}
	st.PlansAddr, st.PlansMetricsAddrs = plans.grpcAddrs(), plans.metricsAddrs()
	st.PlansMetricsAddr = first(st.PlansMetricsAddrs)
	for i, r := range plans {
		var cfg plansserver.Config
		if err := config.LoadFrom(&cfg, with(common, map[string]string{
			"GRPC_ADDR":               r.grpc.Addr().String(),
			"METRICS_ADDR":            metricsSetting(r.metricsAddr()),
			"MONGODB_DATABASE":        "plans",
			"MILESTONE_SCAN_INTERVAL": s.MilestoneScanInterval,
			"NOCONTACT_KEK":           kek,
		})); err != nil {
			plans[i:].close()
			return nil, err
		}
		rctx := st.replicaContext(ctx, replicaName("plans", i, replicas))
		st.run(replicaName("plans", i, replicas), func() error {
			return plansserver.Run(rctx, cfg, plansserver.Options{Logger: replicaLog(log, "plans", i, replicas), Clock: clk, Listener: r.grpc, MetricsListener: r.metrics, Mongo: mongoClient})
		})
	}

	// journal
	journal, err := st.listenReplicas("journal", s.JournalGRPCAddr, s.MetricsAddr, replicas)
	if err != nil {
		return nil, err
	}
	st.JournalAddr, st.JournalMetricsAddrs = journal.grpcAddrs(), journal.metricsAddrs()
	st.JournalMetricsAddr = first(st.JournalMetricsAddrs)
	for i, r := range journal {
		var cfg journalserver.Config
		if err := config.LoadFrom(&cfg, with(common, map[string]string{
			"GRPC_ADDR":                r.grpc.Addr().String(),
			"METRICS_ADDR":             metricsSetting(r.metricsAddr()),
			"MONGODB_DATABASE":         "journal",
			"PLANS_ADDR":               st.PlansAddr,
			"RISK_ESCALATE_AFTER":      s.RiskEscalateAfter,
			"ESCALATION_SCAN_INTERVAL": "5s",
			"NOCONTACT_KEK":            kek,
		})); err != nil {
			journal[i:].close()
			return nil, err
		}
		rctx := st.replicaContext(ctx, replicaName("journal", i, replicas))
		st.run(replicaName("journal", i, replicas), func() error {
			return journalserver.Run(rctx, cfg, journalserver.Options{Logger: replicaLog(log, "journal", i, replicas), Clock: clk, Listener: r.grpc, MetricsListener: r.metrics, Mongo: mongoClient})
		})
	}

	// notify
	notify, err := st.listenReplicas("notify", s.NotifyGRPCAddr, s.MetricsAddr, replicas)
	if err != nil {
		return nil, err
	}
	st.NotifyAddr, st.NotifyMetricsAddrs = notify.grpcAddrs(), notify.metricsAddrs()
	st.NotifyMetricsAddr = first(st.NotifyMetricsAddrs)
	for i, r := range notify {
		var cfg notifyserver.Config
		if err := config.LoadFrom(&cfg, with(common, map[string]string{
			"GRPC_ADDR":         r.grpc.Addr().String(),
			"METRICS_ADDR":      metricsSetting(r.metricsAddr()),
			"MONGODB_DATABASE":  "notify",
			"PLANS_ADDR":        st.PlansAddr,
			"RELEASE_INTERVAL":  "1s",
			"REMINDER_INTERVAL": "1s",
			"WEBHOOK_INTERVAL":  "500ms",
			"NOTIFY_DEV_MODE":   "true",
			"NOCONTACT_KEK":     kek,
		})); err != nil {
			notify[i:].close()
			return nil, err
		}
		rctx := st.replicaContext(ctx, replicaName("notify", i, replicas))
		st.run(replicaName("notify", i, replicas), func() error {
			return notifyserver.Run(rctx, cfg, notifyserver.Options{Logger: replicaLog(log, "notify", i, replicas), Clock: clk, Listener: r.grpc, MetricsListener: r.metrics, Mongo: mongoClient})
		})
	}

	// gateway
	var gwCfg edge.Config
	gwEnv := with(common, map[string]string{
		"HTTP_ADDR":            s.HTTPAddr,
		"PLANS_ADDR":           st.PlansAddr,
		"JOURNAL_ADDR":         st.JournalAddr,
		"NOTIFY_ADDR":          st.NotifyAddr,
		"CORS_ALLOWED_ORIGINS": s.CORSOrigins,
		"METRICS_ADDR":         "off", // bound below, like the HTTP listener
	})
	// Settings built in code may leave the limit empty: the gateway's own
	// default applies then.
	for k, v := range map[string]string{"RATE_LIMIT_PER_SECOND": s.RateLimitPerSecond, "RATE_LIMIT_BURST": s.RateLimitBurst} {
		if v != "" {
			gwEnv[k] = v
		}
	}
	// The dashboard's development token button: only here, and only with
	// the HS256 secret (the gateway refuses it otherwise).
	if s.JWKSURL == "" {
		gwEnv["DEV_TOKENS"] = "true"
		if s.DevCounsellorID != "" {
			gwEnv["DEV_COUNSELLOR_ID"] = s.DevCounsellorID
		}
	}
	if err := config.LoadFrom(&gwCfg, gwEnv); err != nil {
		return nil, err
	}
	gwLog := log.With("service", "gateway")
	if err := gwCfg.Auth.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	verifier, err := auth.NewVerifier(ctx, gwCfg.Auth, clk, gwLog)
	if err != nil {
		return nil, err
	}
	gw, err := edge.New(ctx, gwCfg, gwLog, verifier, clk)
	if err != nil {
		return nil, err
	}
	httpLis, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for the gateway on %s: %w", s.HTTPAddr, err)
	}
	st.HTTPAddr = httpLis.Addr().String()
	gwMetricsLis, err := st.listenMetrics("the gateway", s.MetricsAddr, &st.GatewayMetricsAddr)
	if err != nil {
		_ = httpLis.Close()
		return nil, err
	}
	st.run("gateway", func() error { return gw.Serve(ctx, httpLis) })
	if gwMetricsLis != nil {
		st.run("gateway metrics", func() error { return gw.Metrics().Serve(ctx, gwMetricsLis) })
	}
	return st, nil
}

// replica is one replica's listeners: gRPC, and metrics (nil when off).
type replica struct {
	grpc, metrics net.Listener
}

func (r replica) metricsAddr() string {
	if r.metrics == nil {
		return ""
	}
	return r.metrics.Addr().String()
}

type replicaSet []replica

func (rs replicaSet) grpcAddrs() string {
	addrs := make([]string, len(rs))
	for i, r := range rs {
		addrs[i] = r.grpc.Addr().String()
	}
	return strings.Join(addrs, ",")
}

func (rs replicaSet) metricsAddrs() []string {
	var addrs []string
	for _, r := range rs {
		if a := r.metricsAddr(); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

func (rs replicaSet) close() {
	for _, r := range rs {
		closeAll(r.grpc, r.metrics)
	}
}

// listenReplicas binds the gRPC and metrics listeners of n replicas of a
// service: the first on the configured addresses, the others on free
// ports of the same hosts (a fixed port can be bound once).
func (st *Stack) listenReplicas(name, grpcAddr, metricsAddr string, n int) (replicaSet, error) {
	var rs replicaSet
	for i := range n {
		g, m := grpcAddr, metricsAddr
		if i > 0 {
			g = anyPort(g)
			if m != "off" {
				m = anyPort(m)
			}
		}
		lis, err := net.Listen("tcp", g)
		if err != nil {
			rs.close()
			return nil, fmt.Errorf("listen for %s on %s: %w", name, g, err)
		}
		var addr string
		mlis, err := st.listenMetrics(name, m, &addr)
		if err != nil {
			_ = lis.Close()
			rs.close()
			return nil, err
		}
		rs = append(rs, replica{grpc: lis, metrics: mlis})
	}
	return rs, nil
}

// anyPort is addr's host with port 0 (loopback when addr names none).
func anyPort(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, "0")
}

func first(addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	return addrs[0]
}

// replicaName names a component in errors: "plans", or "plans-1" for the
// second of several replicas.
func replicaName(service string, i, n int) string {
	if n == 1 {
		return service
	}
	return fmt.Sprintf("%s-%d", service, i)
}

func replicaLog(log *slog.Logger, service string, i, n int) *slog.Logger {
	l := log.With("service", service)
	if n > 1 {
		l = l.With("replica", i)
	}
	return l
}

// listenMetrics binds a metrics listener of its own for one component and
// records its address in *addr; it returns nil when metrics are off.
func (st *Stack) listenMetrics(name, setting string, addr *string) (net.Listener, error) {
	if setting == "" {
		setting = "127.0.0.1:0"
	}
	lis, err := metrics.Listen(setting)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if lis != nil {
		*addr = lis.Addr().String()
	}
	return lis, nil
}

// metricsSetting is a service's METRICS_ADDR for a bound address (the
// service is given the listener itself; "" means metrics are off).
func metricsSetting(addr string) string {
	if addr == "" {
		return "off"
	}
	return addr
}

func closeAll(listeners ...net.Listener) {
	for _, l := range listeners {
		if l != nil {
			_ = l.Close()
		}
	}
}

// replicaContext is ctx for one replica, cancelled by StopReplica(name).
func (st *Stack) replicaContext(ctx context.Context, name string) context.Context {
	rctx, cancel := context.WithCancel(ctx)
	st.stopsMu.Lock()
	defer st.stopsMu.Unlock()
	if st.stops == nil {
		st.stops = map[string]func(){}
	}
	st.stops[name] = cancel
	return rctx
}

// StopReplica stops one replica of a service ("notify-1", or "notify" when
// there is one) as its shutdown would, leaving the others running: the
// fault tests' replica taken away mid-burst. Run's error for it is kept
// for Wait like any other. It returns once the replica's Run returned,
// and reports whether name was found.
func (st *Stack) StopReplica(name string) bool {
	st.stopsMu.Lock()
	stop, ok := st.stops[name]
	done := st.done[name]
	st.stopsMu.Unlock()
	if !ok {
		return false
	}
	stop()
	<-done
	return true
}

// run starts one component; its error is kept for Wait.
func (st *Stack) run(name string, fn func() error) {
	done := make(chan struct{})
	st.stopsMu.Lock()
	if st.done == nil {
		st.done = map[string]chan struct{}{}
	}
	st.done[name] = done
	st.stopsMu.Unlock()
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		defer close(done)
		if err := fn(); err != nil {
			st.errMu.Lock()
			st.errs = append(st.errs, fmt.Errorf("%s: %w", name, err))
			st.errMu.Unlock()
		}
	}()
}

// Wait waits for every component to stop (after ctx is done), then stops the
// embedded infrastructure, services first so they can drain into it.
func (st *Stack) Wait() error {
	st.wg.Wait()
	st.stopInfra()
	st.errMu.Lock()
	defer st.errMu.Unlock()
	return errors.Join(st.errs...)
}

func (st *Stack) stopInfra() {
	for i := len(st.cleanup) - 1; i >= 0; i-- {
		st.cleanup[i]()
	}
	st.cleanup = nil
}

func with(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
