package server

import (
	"errors"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/retention"
	"github.com/nocontact/backend/services/notify/internal/adapters/mongodb"
)

// Retention is how long notify keeps each kind of its data
// (docs/decisions.md, "Retention"). Durations are Go durations: hours, no
// days.
type Retention struct {
	retention.Config
	// Notifications: a year of the inbox, then gone.
	Notifications time.Duration `env:"RETENTION_NOTIFICATIONS" envDefault:"8760h"`
	// WebhookPayloads: a finished delivery's payload (the notification's
	// text as sent) is cleared after a week, long after the last retry
	// (about three days).
	WebhookPayloads time.Duration `env:"RETENTION_WEBHOOK_PAYLOADS" envDefault:"168h"`
	// WebhookDeliveries: the record of a finished delivery (status,
	// attempts, HTTP status; no payload by then) goes after 90 days.
	WebhookDeliveries time.Duration `env:"RETENTION_WEBHOOK_DELIVERIES" envDefault:"2160h"`
	// SentAccessRecords: an access record whose event reached the plans
	// service's access log (which keeps it six years) goes after 30 days.
	SentAccessRecords time.Duration `env:"RETENTION_SENT_ACCESS_RECORDS" envDefault:"720h"`
}

// Validate refuses a period that is not positive, and a payload kept
// longer than its delivery's record.
func (r Retention) Validate() error {
	errs := []error{r.Config.Validate()}
	for name, d := range map[string]time.Duration{
		"RETENTION_NOTIFICATIONS": r.Notifications, "RETENTION_WEBHOOK_PAYLOADS": r.WebhookPayloads,
		"RETENTION_WEBHOOK_DELIVERIES": r.WebhookDeliveries, "RETENTION_SENT_ACCESS_RECORDS": r.SentAccessRecords,
	} {
		if d <= 0 {
			errs = append(errs, errors.New(name+" must be positive"))
		}
	}
	if r.WebhookPayloads > r.WebhookDeliveries {
		errs = append(errs, errors.New("RETENTION_WEBHOOK_PAYLOADS must not exceed RETENTION_WEBHOOK_DELIVERIES"))
	}
	return errors.Join(errs...)
}

// DailyCapsMargin is how long, beyond the event streams' age, the daily
// cap's counter of a day is kept: an event can arrive (a consumer catching
// up) as long as its stream keeps it, and a local day is up to 14 hours off
// its UTC date.
const DailyCapsMargin = 48 * time.Hour

// RetentionJobs are notify's retention sweeps on db, one platform/jobs job
// per kind. streamMaxAge is NATS_STREAM_MAX_AGE: the daily caps' counters
// are kept that long plus DailyCapsMargin.
func RetentionJobs(r Retention, streamMaxAge time.Duration, db *mongo.Database, clk clock.Clock, log *slog.Logger) []jobs.Job {
	s := mongodb.NewRetention(db.Collection(CollNotifications), db.Collection(CollDeliveries), db.Collection(CollAccess), db.Collection(CollDailyCaps))
	return retention.Jobs(r.Config, clk, log, nil,
		retention.Kind{Name: "notifications", Period: r.Notifications, Sweep: s.Notifications},
		retention.Kind{Name: "webhook_payloads", Period: r.WebhookPayloads, Sweep: s.DeliveryPayloads},
		retention.Kind{Name: "webhook_deliveries", Period: r.WebhookDeliveries, Sweep: s.Deliveries},
		retention.Kind{Name: "sent_access_records", Period: r.SentAccessRecords, Sweep: s.SentAccessRecords},
		retention.Kind{Name: "daily_caps", Period: streamMaxAge + DailyCapsMargin, Sweep: s.DailyCaps},
		exportpart.RetentionKind(db.Collection(exportpart.Collection)),
	)
}
