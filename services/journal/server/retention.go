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
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
)

// Retention is how long the journal keeps each kind of its data that has a
// retention period (docs/decisions.md, "Retention"); the clients' own
// records stay until they delete them or are erased.
type Retention struct {
	retention.Config
	// SentAccessRecords: an access record whose event reached the plans
	// service's access log (which keeps it six years) goes after 30 days.
	SentAccessRecords time.Duration `env:"RETENTION_SENT_ACCESS_RECORDS" envDefault:"720h"`
}

// Validate refuses a period that is not positive.
func (r Retention) Validate() error {
	errs := []error{r.Config.Validate()}
	if r.SentAccessRecords <= 0 {
		errs = append(errs, errors.New("RETENTION_SENT_ACCESS_RECORDS must be positive"))
	}
	return errors.Join(errs...)
}

// RetentionJobs are the journal's retention sweeps on db, one platform/jobs
// job per kind.
func RetentionJobs(r Retention, db *mongo.Database, clk clock.Clock, log *slog.Logger) []jobs.Job {
	s := mongodb.NewRetention(db)
	return retention.Jobs(r.Config, clk, log, nil,
		retention.Kind{Name: "sent_access_records", Period: r.SentAccessRecords, Sweep: s.SentAccessRecords},
		exportpart.RetentionKind(db.Collection(exportpart.Collection)),
	)
}
