package server

import (
	"context"
	"errors"
	"time"

	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/services/plans/internal/app"
)

// Erasure tunes how an erasure is driven to completion (docs/decisions.md,
// "Erasure").
type Erasure struct {
	// ResendAfter is how long a request waits for a service's confirmation
	// before it is published again.
	ResendAfter time.Duration `env:"ERASURE_RESEND_AFTER" envDefault:"1h"`
	// ResendInterval is how often the resend job looks (once across
	// replicas).
	ResendInterval time.Duration `env:"ERASURE_RESEND_INTERVAL" envDefault:"10m"`
}

// Validate refuses periods that are not positive.
func (e Erasure) Validate() error {
	if e.ResendAfter <= 0 || e.ResendInterval <= 0 {
		return errors.New("ERASURE_RESEND_AFTER and ERASURE_RESEND_INTERVAL must be positive")
	}
	return nil
}

// ErasureJobs is the job that publishes again the erasure requests a
// service has not confirmed.
func ErasureJobs(cfg Erasure, e *app.Erasure) []jobs.Job {
	return []jobs.Job{{
		Name:     "erasure_resend",
		Interval: cfg.ResendInterval,
		Run: func(ctx context.Context, _ *jobs.Lease) error {
			_, err := e.ResendUnconfirmed(ctx, cfg.ResendAfter)
			return err
		},
	}}
}
