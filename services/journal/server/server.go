// Package server wires the journal service: configuration, MongoDB, NATS
// JetStream (its JOURNAL stream, the outbox relay, the care projection
// consumer, the risk-flag consumer of its own events), the plans client, the risk escalation scan and the gRPC
// server. cmd/journal and the devstack both call Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/bootstrap"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/keyjobs"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/adapters/plansclient"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
	jevents "github.com/nocontact/backend/services/journal/internal/ports/events"
	"github.com/nocontact/backend/services/journal/internal/ports/grpcapi"
)

// Stream is where the journal publishes. It reads no care events: who may
// see what is asked of the plans service on every counsellor access.
const Stream = "JOURNAL"

// Config is the journal service's configuration.
type Config struct {
	bootstrap.Base
	// PlansAddr is the plans service's gRPC address.
	PlansAddr string `env:"PLANS_ADDR" envDefault:"127.0.0.1:9091"`
	// SupportTimeout bounds the call to plans while a client logs an urge.
	SupportTimeout time.Duration `env:"SUPPORT_TIMEOUT" envDefault:"800ms"`
	// RiskEscalateAfter is how long a raised risk flag waits for the care
	// team before it escalates.
	RiskEscalateAfter time.Duration `env:"RISK_ESCALATE_AFTER" envDefault:"30m"`
	// EscalationScanInterval is how often unacknowledged flags are checked.
	EscalationScanInterval time.Duration `env:"ESCALATION_SCAN_INTERVAL" envDefault:"1m"`
	// Crypto is the key-encryption key of the clients' keysets (free text
	// is sealed at rest, issue 13): NOCONTACT_KEK or NOCONTACT_KEK_URI.
	Crypto fieldcrypt.Config
	// RequireKMS refuses a key-encryption key from the environment (set it
	// in production once a KMS client is wired: docs/decisions.md).
	RequireKMS bool `env:"KEK_REQUIRE_KMS" envDefault:"false"`
	// Retention periods and their sweeps (retention.go).
	Retention Retention
	// KeyJobs re-wrap keysets under the current KEK and, when asked,
	// re-encrypt stored values (platform/keyjobs, docs/operations.md).
	KeyJobs keyjobs.Config
}

// Options are what the caller supplies beyond configuration.
type Options struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Listener net.Listener
	// MetricsListener, when set, is used instead of listening on
	// METRICS_ADDR.
	MetricsListener net.Listener
	// Mongo, when set, is the MongoDB client to use instead of connecting
	// (left open at shutdown): the devstack's replicas share one.
	Mongo *mongo.Client
}

// Run serves the journal service until ctx is done, then shuts down in the
// order of DESIGN.md §7 (see bootstrap).
func Run(ctx context.Context, cfg Config, opts Options) error {
	keks, err := cfg.Crypto.KEKs(cfg.RequireKMS)
	if err != nil {
		return err
	}
	if err := errors.Join(cfg.Retention.Validate(), cfg.KeyJobs.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	d, err := bootstrap.Start(ctx, cfg.Base, bootstrap.Spec{
		Name:     "journal",
		Database: "journal",
		Indexes:  withExportIndexes(withErasureIndexes(mongodb.Indexes())),
		// PLANS: the erasure and export requests (plans owns the stream;
		// every service that reads it ensures it the same way).
		Streams: map[string][]string{Stream: {"journal.>"}, "PLANS": {"plans.>"}},
		Mongo:   opts.Mongo,
	}, opts.Logger, opts.Clock)
	if err != nil {
		return err
	}
	plansConn, err := grpcclient.Dial(cfg.PlansAddr, d.DialOptions()...)
	if err != nil {
		return fmt.Errorf("dial plans: %w", err)
	}
	defer plansConn.Close()

	keys, err := fieldcrypt.New(d.DB, keks, fieldcrypt.Options{Clock: d.Clock, CacheSize: cfg.Crypto.CacheSize, CacheTTL: cfg.Crypto.CacheTTL})
	if err != nil {
		return err
	}
	relay := d.Relay(mongodb.CollCheckIns, mongodb.CollEntries, mongodb.CollUrges, mongodb.CollFlags, mongodb.CollAccess, erasure.Collection, exportpart.Collection)
	plans := plansclient.New(plansConn)
	access := app.NewAccess(plans, docstore.New[app.AccessRecord](d.DB.Collection(mongodb.CollAccess), relay.Kick), d.Clock)
	j := app.NewJournal(app.Stores{
		CheckIns: mongodb.Sealed(docstore.New[journal.CheckIn](d.DB.Collection(mongodb.CollCheckIns), relay.Kick), keys),
		Entries:  mongodb.Sealed(docstore.New[journal.Entry](d.DB.Collection(mongodb.CollEntries), relay.Kick), keys),
		Urges:    mongodb.Sealed(docstore.New[journal.Urge](d.DB.Collection(mongodb.CollUrges), relay.Kick), keys),
		Flags:    docstore.New[journal.RiskFlag](d.DB.Collection(mongodb.CollFlags), relay.Kick),
		Care:     mongodb.NewCareStore(d.DB, keys),
	}, access, plans, d.Clock, d.Log, app.Options{SupportTimeout: cfg.SupportTimeout, EscalateAfter: cfg.RiskEscalateAfter}).
		WithErasure(erasure.NewMarks(d.DB, "journal", relay.Kick), mongodb.NewClientData(d.DB), keys)

	srv := d.NewServer(journalv1.JournalService_ServiceDesc.ServiceName)
	journalv1.RegisterJournalServiceServer(srv.GRPC(), grpcapi.New(j))
	exports := app.NewExports(j, docstore.New[exportpart.Part](d.DB.Collection(exportpart.Collection), relay.Kick), d.Clock)
	journalv1.RegisterJournalExportServiceServer(srv.GRPC(), grpcapi.NewExportServer(exports))

	reseal := func(ctx context.Context, opts docstore.ResealOptions) (map[string]docstore.ResealResult, error) {
		return mongodb.Reseal(ctx, d.DB, keys, opts)
	}
	_, runJobs := d.Jobs(append(RetentionJobs(cfg.Retention, d.DB, d.Clock, d.Log), keyjobs.Jobs(cfg.KeyJobs, keys, reseal, d.Log)...)...)
	return d.Serve(ctx, srv, opts.Listener, opts.MetricsListener, relay,
		[]bootstrap.Work{
			func(ctx context.Context) { escalate(ctx, j, cfg.EscalationScanInterval, d.Log) },
			runJobs,
			erasure.ForgetEverywhere(d.JS, Stream, "journal", keys.Forget, d.Log),
		},
		[]bootstrap.Consumer{
			d.Consumer(jevents.RiskSpec, jevents.RiskHandler(j)), d.Consumer(jevents.ErasureSpec, jevents.ErasureHandler(j)),
			d.Consumer(jevents.ExportSpec, jevents.ExportHandler(exports)),
		})
}

// withExportIndexes adds the export parts' indexes.
func withExportIndexes(idx map[string][]mongo.IndexModel) map[string][]mongo.IndexModel {
	for coll, models := range exportpart.Indexes() {
		idx[coll] = models
	}
	return idx
}

// withErasureIndexes adds the erasure markers' indexes.
func withErasureIndexes(idx map[string][]mongo.IndexModel) map[string][]mongo.IndexModel {
	for k, v := range erasure.Indexes() {
		idx[k] = v
	}
	return idx
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
