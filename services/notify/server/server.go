// Package server wires the notify service: its collections, the consumers
// of the plans and journal events, the outbox relay of its access records, the release of held notifications, the
// daily reminders and the gRPC server, on the shared bootstrap. cmd/notify
// and the devstack both call Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"

	"github.com/nocontact/backend/platform/bootstrap"
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/keyjobs"
	"github.com/nocontact/backend/platform/outbox"
	notifymongo "github.com/nocontact/backend/services/notify/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/notify/internal/adapters/plansclient"
	"github.com/nocontact/backend/services/notify/internal/app"
	nevents "github.com/nocontact/backend/services/notify/internal/ports/events"
	"github.com/nocontact/backend/services/notify/internal/ports/grpcapi"
	"github.com/nocontact/backend/services/notify/internal/webhook"
)

// Collections of the notify database.
const (
	CollNotifications = "notifications"
	CollPreferences   = "preferences"
	CollWebhooks      = "webhooks"
	CollDeliveries    = "webhook_deliveries"
	// CollDailyCaps holds the daily cap's per-(user, local day) counters
	// (the app reaches it beside the notifications; only _id is queried).
	CollDailyCaps = app.DailyCapsCollection
	// CollAccess holds attempts by others on a user's routes, each with its
	// outbox event for the plans service's access log.
	CollAccess = "access_records"
)

// Stream is where notify publishes: only its access records (the live feed's
// core NATS signals, notify.live.*, stay outside every stream).
const Stream = "NOTIFY"

// StreamSubjects are the NOTIFY stream's subjects: the access records and
// the erasure confirmations and the export parts' readiness. The plans
// service ensures the same list (its server.NotifySubjects).
var StreamSubjects = []string{app.AccessSubject, erasure.ConfirmedSubject("notify"), exportpart.ReadySubject(app.ExportService)}

// Config is the notify service's configuration.
type Config struct {
	bootstrap.Base
	// ReleaseInterval is how often held notifications (quiet hours, daily
	// cap) are checked for release.
	ReleaseInterval time.Duration `env:"RELEASE_INTERVAL" envDefault:"15s"`
	// ReminderInterval is how often due daily reminders are sent.
	ReminderInterval time.Duration `env:"REMINDER_INTERVAL" envDefault:"30s"`
	// WebhookInterval is how often due webhook attempts are made.
	WebhookInterval time.Duration `env:"WEBHOOK_INTERVAL" envDefault:"1s"`
	// PlansAddr is the plans service's gRPC address: notify asks it for the
	// care team's access on every counsellor read.
	PlansAddr string `env:"PLANS_ADDR" envDefault:"127.0.0.1:9091"`
	// DevMode allows webhooks over plain HTTP to loopback receivers. Never
	// in production.
	DevMode bool `env:"NOTIFY_DEV_MODE" envDefault:"false"`
	// Crypto is the key-encryption key of the users' keysets (webhook
	// secrets are sealed at rest, issue 13): NOCONTACT_KEK or
	// NOCONTACT_KEK_URI.
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

// Indexes declares every index of the notify database.
func Indexes() map[string][]mongo.IndexModel {
	idx := func(name string, keys ...bson.E) mongo.IndexModel {
		return mongo.IndexModel{Keys: bson.D(keys), Options: options.Index().SetName(name)}
	}
	out := careview.Indexes()
	out[CollNotifications] = []mongo.IndexModel{
		idx("user_deliver", bson.E{Key: "user_id", Value: 1}, bson.E{Key: "delivered", Value: 1}, bson.E{Key: "deliver_at", Value: -1}),
		idx("user_feed", bson.E{Key: "user_id", Value: 1}, bson.E{Key: "delivered_at", Value: 1}, bson.E{Key: "_id", Value: 1}),
		idx("held", bson.E{Key: "delivered", Value: 1}, bson.E{Key: "deliver_at", Value: 1}),
		idx("user_day", bson.E{Key: "user_id", Value: 1}, bson.E{Key: "deliver_date", Value: 1}, bson.E{Key: "urgent", Value: 1}),
		// Released notifications whose webhooks are still to be enqueued
		// (app.ReleaseDue); the field exists only for those.
		{Keys: bson.D{{Key: "webhooks_due", Value: 1}}, Options: options.Index().SetName("webhooks_due").SetSparse(true)},
		idx("create_time", bson.E{Key: "create_time", Value: 1}), // retention sweep
	}
	out[CollWebhooks] = []mongo.IndexModel{
		idx("user", bson.E{Key: "user_id", Value: 1}, bson.E{Key: "create_time", Value: 1}),
		// A user's places (app.MaxWebhooks): the limit holds under any
		// interleaving. Sparse: webhooks from before places have none.
		{Keys: bson.D{{Key: "slot", Value: 1}}, Options: options.Index().SetName("slot").SetUnique(true).SetSparse(true)},
		// Webhooks the server disabled whose owner is still to be told
		// (app.noticeOwners, every pass); the field exists only for those.
		{Keys: bson.D{{Key: "notice_due", Value: 1}}, Options: options.Index().SetName("notice_due").SetSparse(true)},
	}
	out[CollDeliveries] = []mongo.IndexModel{
		idx("due", bson.E{Key: "status", Value: 1}, bson.E{Key: "next_attempt_at", Value: 1}),
		idx("webhook", bson.E{Key: "webhook_id", Value: 1}, bson.E{Key: "create_time", Value: -1}),
		idx("status_created", bson.E{Key: "status", Value: 1}, bson.E{Key: "create_time", Value: 1}), // retention sweeps
	}
	out[CollDailyCaps] = []mongo.IndexModel{idx("date", bson.E{Key: "date", Value: 1})} // retention sweep
	out[CollPreferences] = []mongo.IndexModel{
		idx("next_check_in", bson.E{Key: "next_check_in_at", Value: 1}),
		idx("next_prompt", bson.E{Key: "next_prompt_at", Value: 1}),
	}
	out[CollAccess] = append(outbox.IndexModels(), idx("sent_time", bson.E{Key: outbox.FieldPending, Value: 1}, bson.E{Key: "time", Value: 1})) // retention sweep
	// The users' keysets (platform/fieldcrypt): the Rewrap scan.
	out[fieldcrypt.Collection] = fieldcrypt.IndexesOf(fieldcrypt.Collection)[fieldcrypt.Collection]
	out[erasure.Collection] = erasure.Indexes()[erasure.Collection]
	// The erasure's deletions of a user's data.
	out[CollDailyCaps] = []mongo.IndexModel{idx("user", bson.E{Key: "user_id", Value: 1})}
	out[CollNotifications] = append(out[CollNotifications], idx("client", bson.E{Key: "client_id", Value: 1}))
	out[CollDeliveries] = append(out[CollDeliveries], idx("user", bson.E{Key: "user_id", Value: 1}), idx("notification", bson.E{Key: "notification_id", Value: 1}))
	for coll, models := range exportpart.Indexes() {
		out[coll] = models
	}
	return out
}

// Run serves the notify service until ctx is done, then shuts down in the
// order of DESIGN.md §7 (see bootstrap).
func Run(ctx context.Context, cfg Config, opts Options) error {
	if err := errors.Join(cfg.Retention.Validate(), cfg.KeyJobs.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	keks, err := cfg.Crypto.KEKs(cfg.RequireKMS)
	if err != nil {
		return err
	}
	d, err := bootstrap.Start(ctx, cfg.Base, bootstrap.Spec{
		Name:     "notify",
		Database: "notify",
		Indexes:  Indexes(),
		Streams:  map[string][]string{"PLANS": {"plans.>"}, "JOURNAL": {"journal.>"}, Stream: StreamSubjects},
		Mongo:    opts.Mongo,
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
	relay := d.Relay(CollAccess, erasure.Collection, exportpart.Collection)
	// Preferences from before version-checked writes get their version 1.
	if err := app.VersionPreferences(ctx, d.DB.Collection(CollPreferences)); err != nil {
		return err
	}
	webhooks := app.NewWebhooks(d.DB.Collection(CollWebhooks), d.DB.Collection(CollDeliveries), keys, cfg.DevMode)
	n := app.New(d.DB.Collection(CollNotifications), d.DB.Collection(CollPreferences), careview.New(d.DB), d.NC, d.Clock, d.Log, ctx.Done()).
		WithWebhooks(webhooks).
		WithCareAuthority(plansclient.New(plansConn)).
		WithAccessLog(docstore.New[app.AccessRecord](d.DB.Collection(CollAccess), relay.Kick)).
		WithErasure(erasure.NewMarks(d.DB, "notify", relay.Kick), notifymongo.NewClientData(notifymongo.Collections{
			Notifications: d.DB.Collection(CollNotifications), Preferences: d.DB.Collection(CollPreferences),
			Webhooks: d.DB.Collection(CollWebhooks), Deliveries: d.DB.Collection(CollDeliveries), DailyCaps: d.DB.Collection(CollDailyCaps),
		}), keys)
	releaseLag, releaseRan := d.Metrics.Scheduler("release")
	reminderLag, reminderRan := d.Metrics.Scheduler("reminders")
	n.WithObservers(app.Observers{
		ReleaseLag: releaseLag, ReleaseRan: releaseRan,
		ReminderLag: reminderLag, ReminderRan: reminderRan,
		WebhookAttempt: d.Metrics.WebhookObserver(),
	})

	srv := d.NewServer(notifyv1.NotifyService_ServiceDesc.ServiceName)
	notifyv1.RegisterNotifyServiceServer(srv.GRPC(), grpcapi.New(n))
	exports := n.NewExports(docstore.New[exportpart.Part](d.DB.Collection(exportpart.Collection), relay.Kick))
	notifyv1.RegisterNotifyExportServiceServer(srv.GRPC(), grpcapi.NewExportServer(exports))

	every := func(interval time.Duration, name string, fn func(context.Context) (int, error)) bootstrap.Work {
		return func(ctx context.Context) {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				if _, err := fn(ctx); err != nil && ctx.Err() == nil {
					d.Log.WarnContext(ctx, name+" failed; retrying at the next tick", "error", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}
	}
	// overlapping starts a pass every interval without waiting for the
	// last one: a webhook pass waits for its own attempts, a slow receiver's
	// up to webhook.AttemptTimeout, and the next tick's pass meanwhile takes
	// what fell due for everyone else. The sender bounds the attempts in
	// flight, so a pass holds an attempt or ends at once; at most limit
	// passes are alive (a stalled database must not pile them up), and the
	// work returns when all have ended.
	overlapping := func(interval time.Duration, name string, limit int, fn func(context.Context) (int, error)) bootstrap.Work {
		return func(ctx context.Context) {
			var passes sync.WaitGroup
			defer passes.Wait()
			var alive atomic.Int32
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				if alive.Add(1) <= int32(limit) {
					passes.Go(func() {
						defer alive.Add(-1)
						if _, err := fn(ctx); err != nil && ctx.Err() == nil {
							d.Log.WarnContext(ctx, name+" failed; retrying at the next tick", "error", err)
						}
					})
				} else {
					alive.Add(-1)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}
	}
	reseal := func(ctx context.Context, opts docstore.ResealOptions) (map[string]docstore.ResealResult, error) {
		r, err := webhooks.Reseal(ctx, opts)
		return map[string]docstore.ResealResult{CollWebhooks: r}, err
	}
	_, runJobs := d.Jobs(append(RetentionJobs(cfg.Retention, cfg.NATS.StreamMaxAge, d.DB, d.Clock, d.Log), keyjobs.Jobs(cfg.KeyJobs, keys, reseal, d.Log)...)...)
	return d.Serve(ctx, srv, opts.Listener, opts.MetricsListener, relay,
		[]bootstrap.Work{
			runJobs,
			every(cfg.ReleaseInterval, "release held notifications", n.ReleaseDue),
			every(cfg.ReminderInterval, "daily reminders", n.SendReminders),
			overlapping(cfg.WebhookInterval, "webhook deliveries", webhook.MaxInFlight+1, n.SendWebhooks),
		},
		[]bootstrap.Consumer{
			d.Consumer(nevents.PlansSpec, nevents.Handler(n)), d.Consumer(nevents.JournalSpec, nevents.Handler(n)),
			d.Consumer(nevents.ExportSpec, nevents.ExportHandler(exports)),
		})
}
