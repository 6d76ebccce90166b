// Package server wires the plans service: configuration, MongoDB, NATS
// JetStream, the outbox relay, the milestone scheduler and the gRPC server.
// cmd/plans and the devstack both call Run.
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

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	planevents "github.com/nocontact/backend/services/plans/internal/ports/events"
	"github.com/nocontact/backend/services/plans/internal/ports/grpcapi"
	"github.com/nocontact/backend/services/plans/internal/scheduler"
)

// Stream is the JetStream stream the plans service publishes to.
const Stream = "PLANS"

// JournalStream is the journal service's stream, consumed here.
const JournalStream = "JOURNAL"

// Config is the plans service's configuration.
type Config struct {
	GRPC  config.GRPC
	Mongo config.Mongo
	NATS  config.NATS
	Auth  config.Auth
	Log   config.Log
	// MilestoneScanInterval is how often the scheduler looks for due
	// milestones. A back-dated activation reaches its milestones in the
	// activation itself; the scan is for days that pass while nobody calls.
	MilestoneScanInterval time.Duration `env:"MILESTONE_SCAN_INTERVAL" envDefault:"30s"`
	// OutboxInterval is how often the relay polls for unpublished events
	// (it is also woken after every write).
	OutboxInterval time.Duration `env:"OUTBOX_INTERVAL" envDefault:"1s"`
}

// Options are what the caller supplies beyond configuration.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// Listener, when set, is used instead of listening on GRPC.Addr (the
	// devstack binds ports before it prints them).
	Listener net.Listener
}

// Run serves the plans service until ctx is done, then shuts down in order:
// health NOT_SERVING, graceful stop of RPCs, the scheduler and the relay
// (with a last flush), NATS drained, MongoDB closed.
func Run(ctx context.Context, cfg Config, opts Options) error {
	log, clk := opts.Logger, opts.Clock
	if log == nil {
		log = slog.Default()
	}
	if clk == nil {
		clk = clock.Real()
	}
	if cfg.Mongo.Database == "" {
		cfg.Mongo.Database = "plans"
	}
	if err := errors.Join(cfg.GRPC.Validate(), cfg.Auth.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}

	startCtx, cancelStart := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStart()
	client, err := connectMongo(startCtx, cfg.Mongo)
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(context.WithoutCancel(ctx)) }()
	db := client.Database(cfg.Mongo.Database)
	if err := mongox.EnsureIndexes(startCtx, db, mongodb.Indexes()); err != nil {
		return err
	}

	nc, js, err := natsx.Connect(cfg.NATS.URL, "plans", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := natsx.EnsureStream(startCtx, js, Stream, []string{"plans.>"}); err != nil {
		return err
	}
	// The journal's stream, which this service consumes; whichever service
	// starts first creates it, with the same configuration.
	if _, err := natsx.EnsureStream(startCtx, js, JournalStream, []string{"journal.>"}); err != nil {
		return err
	}

	planColl := db.Collection(mongodb.CollPlans)
	assignColl := db.Collection(mongodb.CollAssignments)
	consentColl := db.Collection(mongodb.CollConsents)
	relay := outbox.NewRelay(js, log, outbox.Options{Interval: cfg.OutboxInterval}, planColl, assignColl, consentColl)

	assignments := docstore.New[care.Assignment](assignColl, relay.Kick)
	consents := docstore.New[care.Consents](consentColl, relay.Kick)
	access := app.NewAccess(assignments, consents, db.Collection(mongodb.CollAccessLog), clk)
	plans := app.NewPlans(mongodb.NewPlanStore(planColl, relay.Kick), assignments, access, clk)
	careApp := app.NewCare(assignments, consents, access, clk)
	sched := scheduler.New(plans, clk, log, cfg.MilestoneScanInterval)

	verifier := auth.NewHS256Verifier([]byte(cfg.Auth.JWTSecret.Reveal()), cfg.Auth.Issuer, cfg.Auth.Audience, clk)
	srv := grpcserver.New(grpcserver.Options{
		Logger:            log,
		Verifier:          verifier,
		ServiceName:       plansv1.PlansService_ServiceDesc.ServiceName,
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
	plansv1.RegisterPlansServiceServer(srv.GRPC(), grpcapi.NewPlansServer(plans))
	plansv1.RegisterCareServiceServer(srv.GRPC(), grpcapi.NewCareServer(careApp, access))

	lis := opts.Listener
	if lis == nil {
		lis, err = net.Listen("tcp", cfg.GRPC.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.GRPC.Addr, err)
		}
	}

	// Background work runs on its own context so that it outlives the RPC
	// drain: events written by the last RPCs still leave.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = relay.Run(workCtx) }()
	go func() { defer wg.Done(); sched.Run(workCtx) }()
	stopConsumer, err := natsx.Consume(workCtx, js, planevents.JournalSpec, planevents.JournalHandler(plans, access), log)
	if err != nil {
		stopWork()
		wg.Wait()
		return fmt.Errorf("consume journal events: %w", err)
	}

	log.Info("plans service listening", "addr", lis.Addr().String())
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

// connectMongo connects and, on FerretDB, reconnects with one connection:
// FerretDB 1.x does not isolate read-modify-write across connections
// (DESIGN.md §6), and version checks rely on it.
func connectMongo(ctx context.Context, cfg config.Mongo) (*mongo.Client, error) {
	client, err := mongox.Connect(ctx, cfg.URI, cfg.MaxPoolSize)
	if err != nil {
		return nil, err
	}
	if cfg.MaxPoolSize != 1 && mongox.IsFerretDB(ctx, client) {
		_ = client.Disconnect(ctx)
		return mongox.Connect(ctx, cfg.URI, 1)
	}
	return client, nil
}
