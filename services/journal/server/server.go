// Package server wires the journal service: configuration, MongoDB, NATS
// JetStream (its JOURNAL stream, the outbox relay, the care projection
// consumer), the plans client, the risk escalation scan and the gRPC
// server. cmd/journal and the devstack both call Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/mongo"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/adapters/plansclient"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
	jevents "github.com/nocontact/backend/services/journal/internal/ports/events"
	"github.com/nocontact/backend/services/journal/internal/ports/grpcapi"
)

// Streams: the journal publishes to JOURNAL and reads care events from PLANS.
const (
	Stream      = "JOURNAL"
	PlansStream = "PLANS"
)

// Config is the journal service's configuration.
type Config struct {
	GRPC  config.GRPC
	Mongo config.Mongo
	NATS  config.NATS
	Auth  config.Auth
	Log   config.Log
	// PlansAddr is the plans service's gRPC address.
	PlansAddr string `env:"PLANS_ADDR" envDefault:"127.0.0.1:9091"`
	// SupportTimeout bounds the call to plans while a client logs an urge.
	SupportTimeout time.Duration `env:"SUPPORT_TIMEOUT" envDefault:"800ms"`
	// RiskEscalateAfter is how long a raised risk flag waits for the care
	// team before it escalates.
	RiskEscalateAfter time.Duration `env:"RISK_ESCALATE_AFTER" envDefault:"30m"`
	// EscalationScanInterval is how often unacknowledged flags are checked.
	EscalationScanInterval time.Duration `env:"ESCALATION_SCAN_INTERVAL" envDefault:"1m"`
	// OutboxInterval is how often the relay polls (it is also woken after
	// every write).
	OutboxInterval time.Duration `env:"OUTBOX_INTERVAL" envDefault:"1s"`
}

// Options are what the caller supplies beyond configuration.
type Options struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Listener net.Listener
}

// Run serves the journal service until ctx is done, then shuts down in
// order: health NOT_SERVING, graceful stop, consumer and background work
// stopped, last outbox flush, NATS drained, MongoDB closed.
func Run(ctx context.Context, cfg Config, opts Options) error {
	log, clk := opts.Logger, opts.Clock
	if log == nil {
		log = slog.Default()
	}
	if clk == nil {
		clk = clock.Real()
	}
	if cfg.Mongo.Database == "" {
		cfg.Mongo.Database = "journal"
	}
	if err := errors.Join(cfg.GRPC.Validate(), cfg.Auth.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}

	startCtx, cancelStart := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStart()
	client, err := mongox.Connect(startCtx, cfg.Mongo.URI, cfg.Mongo.MaxPoolSize)
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(context.WithoutCancel(ctx)) }()
	db := client.Database(cfg.Mongo.Database)
	if err := mongox.EnsureIndexes(startCtx, db, mongodb.Indexes()); err != nil {
		return err
	}

	nc, js, err := natsx.Connect(cfg.NATS.URL, "journal", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	for name, subjects := range map[string][]string{Stream: {"journal.>"}, PlansStream: {"plans.>"}} {
		if _, err := natsx.EnsureStream(startCtx, js, name, subjects); err != nil {
			return err
		}
	}

	plansConn, err := grpcclient.Dial(cfg.PlansAddr)
	if err != nil {
		return fmt.Errorf("dial plans: %w", err)
	}
	defer plansConn.Close()

	colls := []string{mongodb.CollCheckIns, mongodb.CollEntries, mongodb.CollUrges, mongodb.CollFlags, mongodb.CollAccess}
	relayColls := make([]*mongo.Collection, 0, len(colls))
	for _, c := range colls {
		relayColls = append(relayColls, db.Collection(c))
	}
	relay := outbox.NewRelay(js, log, outbox.Options{Interval: cfg.OutboxInterval}, relayColls...)
	access := app.NewAccess(db.Collection(mongodb.CollLinks), db.Collection(mongodb.CollConsents),
		docstore.New[app.AccessRecord](db.Collection(mongodb.CollAccess), relay.Kick), clk)
	j := app.NewJournal(app.Stores{
		CheckIns: docstore.New[journal.CheckIn](db.Collection(mongodb.CollCheckIns), relay.Kick),
		Entries:  docstore.New[journal.Entry](db.Collection(mongodb.CollEntries), relay.Kick),
		Urges:    docstore.New[journal.Urge](db.Collection(mongodb.CollUrges), relay.Kick),
		Flags:    docstore.New[journal.RiskFlag](db.Collection(mongodb.CollFlags), relay.Kick),
	}, access, plansclient.New(plansConn), clk, log, app.Options{SupportTimeout: cfg.SupportTimeout, EscalateAfter: cfg.RiskEscalateAfter})

	verifier := auth.NewHS256Verifier([]byte(cfg.Auth.JWTSecret.Reveal()), cfg.Auth.Issuer, cfg.Auth.Audience, clk)
	srv := grpcserver.New(grpcserver.Options{
		Logger:            log,
		Verifier:          verifier,
		ServiceName:       journalv1.JournalService_ServiceDesc.ServiceName,
		ReadinessInterval: cfg.GRPC.ReadinessInterval,
		Readiness: []grpcserver.Check{
			{Name: "mongodb", Fn: func(ctx context.Context) error { return client.Ping(ctx, nil) }},
			{Name: "nats", Fn: func(context.Context) error {
				if nc.Status() != nats.CONNECTED {
					return fmt.Errorf("nats is %s", nc.Status())
				}
				return nil
			}},
		},
	})
	journalv1.RegisterJournalServiceServer(srv.GRPC(), grpcapi.New(j))

	lis := opts.Listener
	if lis == nil {
		if lis, err = net.Listen("tcp", cfg.GRPC.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.GRPC.Addr, err)
		}
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = relay.Run(workCtx) }()
	go func() { defer wg.Done(); escalate(workCtx, j, cfg.EscalationScanInterval, log) }()
	stopConsumer, err := natsx.Consume(workCtx, js, jevents.CareSpec, jevents.CareHandler(access), log)
	if err != nil {
		stopWork()
		wg.Wait()
		return fmt.Errorf("consume care events: %w", err)
	}

	log.Info("journal service listening", "addr", lis.Addr().String())
	serveErr := srv.Serve(ctx, lis, cfg.GRPC.ShutdownTimeout)

	stopConsumer()
	stopWork()
	wg.Wait()
	flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if _, err := relay.Flush(flushCtx); err != nil {
		log.Warn("final outbox flush incomplete; events stay stored and leave at the next start", "error", err)
	}
	cancelFlush()
	if err := nc.Drain(); err != nil {
		log.Warn("nats drain", "error", err)
	}
	return serveErr
}

// escalate scans for unacknowledged risk flags until ctx is done.
func escalate(ctx context.Context, j *app.Journal, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := j.EscalateDue(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "risk escalation scan failed", "error", err)
		} else if n > 0 {
			log.InfoContext(ctx, "risk flags escalated", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
