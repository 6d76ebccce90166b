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
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
)

// HIPAADocumentationPeriod is how long HIPAA requires documentation of
// access to be kept (45 CFR 164.316(b)(2)): six years, counted here as
// 6 × 365.25 days. The access log is never kept less.
const HIPAADocumentationPeriod = 52596 * time.Hour

// Retention is how long the plans service keeps each kind of its data that
// has a retention period (docs/decisions.md, "Retention"). Durations are Go
// durations: hours, no days.
type Retention struct {
	retention.Config
	// EndedPlans: a plan that ended, was cancelled or closed goes, with its
	// contact log and milestone records, two years after it stopped.
	EndedPlans time.Duration `env:"RETENTION_ENDED_PLANS" envDefault:"17532h"`
	// AccessLog: six years, the HIPAA documentation period (the minimum
	// accepted).
	AccessLog time.Duration `env:"RETENTION_ACCESS_LOG" envDefault:"52596h"`
}

// Validate refuses a period that is not positive and an access log kept
// less than HIPAADocumentationPeriod.
func (r Retention) Validate() error {
	errs := []error{r.Config.Validate()}
	if r.EndedPlans <= 0 {
		errs = append(errs, errors.New("RETENTION_ENDED_PLANS must be positive"))
	}
	if r.AccessLog < HIPAADocumentationPeriod {
		errs = append(errs, errors.New("RETENTION_ACCESS_LOG must be at least 52596h (six years, the HIPAA documentation period)"))
	}
	return errors.Join(errs...)
}

// RetentionJobs are the plans service's retention sweeps on db, one
// platform/jobs job per kind.
func RetentionJobs(r Retention, db *mongo.Database, clk clock.Clock, log *slog.Logger) []jobs.Job {
	s := mongodb.NewRetention(db)
	return retention.Jobs(r.Config, clk, log, nil,
		retention.Kind{Name: "ended_plans", Period: r.EndedPlans, Sweep: s.EndedPlans},
		retention.Kind{Name: "access_log", Period: r.AccessLog, Sweep: s.AccessLog},
		exportpart.RetentionKind(db.Collection(mongodb.CollExports), db.Collection(exportpart.Collection)),
	)
}
