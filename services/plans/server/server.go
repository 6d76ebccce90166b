// Package server wires the plans service: its stores, the outbox relay, the
// milestone scheduler, the journal-events consumer and the gRPC server, on
// the shared bootstrap. cmd/plans and the devstack both call Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/bootstrap"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/keyjobs"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/erasure"
	planevents "github.com/nocontact/backend/services/plans/internal/ports/events"
	"github.com/nocontact/backend/services/plans/internal/ports/grpcapi"
	"github.com/nocontact/backend/services/plans/internal/scheduler"
)

// Streams: plans publishes to PLANS and consumes JOURNAL and NOTIFY.
const (
	Stream        = "PLANS"
	JournalStream = "JOURNAL"
	// NotifyStream holds notify's access records (only those: notify's
	// live-feed signals are core NATS and stay outside every stream).
	NotifyStream = "NOTIFY"
)

// NotifySubjects are the NOTIFY stream's subjects: notify's access records
// and its erasure confirmations and export parts' readiness. Plans and
// notify both ensure the stream and must give the same list.
var NotifySubjects = []string{"notify.access.recorded", "notify.erasure.confirmed", exportpart.ReadySubject("notify")}

// withExportIndexes adds the export collections' indexes.
func withExportIndexes(idx map[string][]mongo.IndexModel) map[string][]mongo.IndexModel {
	for coll, models := range mongodb.ExportIndexes() {
		idx[coll] = models
	}
	return idx
}

// Config is the plans service's configuration.
type Config struct {
	bootstrap.Base
	// MilestoneScanInterval is how often the scheduler looks for due
	// milestones. A back-dated activation reaches its milestones in the
	// activation itself; the scan is for days that pass while nobody calls.
	MilestoneScanInterval time.Duration `env:"MILESTONE_SCAN_INTERVAL" envDefault:"30s"`
	// Crypto is the key-encryption key of the clients' keysets (plans'
	// free text and contact notes are sealed at rest, issue 13):
	// NOCONTACT_KEK or NOCONTACT_KEK_URI.
	Crypto fieldcrypt.Config
	// RequireKMS refuses a key-encryption key from the environment (set it
	// in production once a KMS client is wired: docs/decisions.md).
	RequireKMS bool `env:"KEK_REQUIRE_KMS" envDefault:"false"`
	// Retention periods and their sweeps (retention.go).
	Retention Retention
	// Erasure drives erasures to completion (erasure.go).
	Erasure Erasure
	// KeyJobs re-wrap keysets under the current KEK and, when asked,
	// re-encrypt stored values (platform/keyjobs, docs/operations.md).
	KeyJobs keyjobs.Config
	// ExportRetention is how long an export request and every service's
	// part are served after the request (issue 13).
	ExportRetention time.Duration `env:"EXPORT_RETENTION" envDefault:"168h"`
}

// Options are what the caller supplies beyond configuration.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// Listener, when set, is used instead of listening on GRPC.Addr (the
	// devstack binds ports before it prints them).
	Listener net.Listener
	// MetricsListener, when set, is used instead of listening on
	// METRICS_ADDR.
	MetricsListener net.Listener
	// Mongo, when set, is the MongoDB client to use instead of connecting
	// (left open at shutdown): the devstack's replicas share one.
	Mongo *mongo.Client
}

// Run serves the plans service until ctx is done, then shuts down in the
// order of DESIGN.md §7 (see bootstrap).
func Run(ctx context.Context, cfg Config, opts Options) error {
	if err := errors.Join(cfg.Retention.Validate(), cfg.Erasure.Validate(), cfg.KeyJobs.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	keks, err := cfg.Crypto.KEKs(cfg.RequireKMS)
	if err != nil {
		return err
	}
	d, err := bootstrap.Start(ctx, cfg.Base, bootstrap.Spec{
		Name:     "plans",
		Database: "plans",
		Indexes:  withExportIndexes(mongodb.Indexes()),
		Streams:  map[string][]string{Stream: {"plans.>"}, JournalStream: {"journal.>"}, NotifyStream: NotifySubjects},
		Mongo:    opts.Mongo,
	}, opts.Logger, opts.Clock)
	if err != nil {
		return err
	}
	keys, err := fieldcrypt.New(d.DB, keks, fieldcrypt.Options{Clock: d.Clock, CacheSize: cfg.Crypto.CacheSize, CacheTTL: cfg.Crypto.CacheTTL})
	if err != nil {
		return err
	}
	relay := d.Relay(mongodb.CollPlans, mongodb.CollAssignments, mongodb.CollConsents, mongodb.CollErasures, mongodb.CollExports, exportpart.Collection)
	assignments := docstore.New[care.Assignment](d.DB.Collection(mongodb.CollAssignments), relay.Kick)
	consents := docstore.New[care.Consents](d.DB.Collection(mongodb.CollConsents), relay.Kick)
	access := app.NewAccess(assignments, consents, d.DB.Collection(mongodb.CollAccessLog), d.Clock)
	planStore := mongodb.NewPlanStore(d.DB.Collection(mongodb.CollPlans), d.DB.Collection(mongodb.CollContacts), keys, relay.Kick)
	erasures := mongodb.NewErasureStore(d.DB.Collection(mongodb.CollErasures), relay.Kick)
	clientData := mongodb.NewClientData(d.DB)
	erasureApp := app.NewErasure(erasures, clientData, keys, access, d.Clock)
	plans := app.NewPlans(planStore, assignments, access, d.Clock).WithErasures(erasures, clientData)
	careApp := app.NewCare(assignments, consents, access, d.Clock).WithErasures(erasures, clientData)
	lag, ran := d.Metrics.Scheduler("milestones")
	sched := scheduler.New(plans, d.Clock, d.Log, cfg.MilestoneScanInterval).WithHooks(scheduler.Hooks{Lag: lag, Ran: ran, Tracer: d.Tracing.Tracer()})

	srv := d.NewServer(plansv1.PlansService_ServiceDesc.ServiceName)
	plansv1.RegisterPlansServiceServer(srv.GRPC(), grpcapi.NewPlansServer(plans))
	careView := app.NewCareView(planStore, assignments, access, mongodb.NewReviewStore(d.DB.Collection(mongodb.CollReviews)), d.Clock)
	plansv1.RegisterCareServiceServer(srv.GRPC(), grpcapi.NewCareServer(careApp, access, careView))
	plansv1.RegisterErasureServiceServer(srv.GRPC(), grpcapi.NewErasureServer(erasureApp))
	exports := app.NewExports(mongodb.NewExportStore(d.DB.Collection(mongodb.CollExports), relay.Kick),
		docstore.New[exportpart.Part](d.DB.Collection(exportpart.Collection), relay.Kick), plans, careApp, access, d.Clock, cfg.ExportRetention).
		WithErasures(erasures)
	plansv1.RegisterExportServiceServer(srv.GRPC(), grpcapi.NewExportServer(exports))

	reseal := func(ctx context.Context, opts docstore.ResealOptions) (map[string]docstore.ResealResult, error) {
		p, c, err := planStore.Reseal(ctx, opts)
		return map[string]docstore.ResealResult{mongodb.CollPlans: p, mongodb.CollContacts: c}, err
	}
	js := append(RetentionJobs(cfg.Retention, d.DB, d.Clock, d.Log), ErasureJobs(cfg.Erasure, erasureApp)...)
	_, runJobs := d.Jobs(append(js, keyjobs.Jobs(cfg.KeyJobs, keys, reseal, d.Log)...)...)
	return d.Serve(ctx, srv, opts.Listener, opts.MetricsListener, relay,
		[]bootstrap.Work{sched.Run, runJobs},
		[]bootstrap.Consumer{
			d.Consumer(planevents.JournalSpec, planevents.DropErased(erasureApp, planevents.JournalHandler(plans, access))),
			d.Consumer(planevents.NotifySpec, planevents.NotifyHandler(access)),
			d.Consumer(planevents.ErasureSpec, planevents.ErasureHandler(erasureApp)),
			d.Consumer(planevents.JournalConfirmSpec, planevents.ConfirmHandler(erasureApp, erasure.ServiceJournal)),
			d.Consumer(planevents.NotifyConfirmSpec, planevents.ConfirmHandler(erasureApp, erasure.ServiceNotify)),
			d.Consumer(planevents.ExportSpec, planevents.ExportHandler(exports)),
			d.Consumer(planevents.PlansPartsSpec, planevents.PartsHandler(exports)),
			d.Consumer(planevents.JournalPartsSpec, planevents.PartsHandler(exports)),
			d.Consumer(planevents.NotifyPartsSpec, planevents.PartsHandler(exports)),
		})
}
