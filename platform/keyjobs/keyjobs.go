// Package keyjobs runs the field-encryption key rotation of a service as
// platform/jobs jobs, once across its replicas: the re-wrap of the
// clients' keysets under the current key-encryption key, and, when asked,
// the re-encryption of the stored values under each client's current
// data key (docs/operations.md, "Key rotation").
package keyjobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/jobs"
)

// Job names, the _id of their platform/jobs documents and the scheduler
// label of their last-success metric.
const (
	RewrapJob = "keys.rewrap"
	ResealJob = "keys.reseal"
)

// Config is the rotation jobs' configuration, the same in every service.
type Config struct {
	// RewrapInterval is how often a replica checks for keysets wrapped by
	// a previous KEK and re-wraps them (cheap when there are none: one
	// indexed query).
	RewrapInterval time.Duration `env:"KEY_REWRAP_INTERVAL" envDefault:"1h"`
	// Reseal turns on the re-encryption job: every stored sealed value not
	// under its owner's current data key is opened and sealed again. Turn
	// it on after a data-key rotation (RotateDEK) or to seal values
	// written before encryption; it reads every sealed document once per
	// run, so leave it off otherwise.
	Reseal bool `env:"KEY_RESEAL" envDefault:"false"`
	// RotateDEKsBefore, when set (RFC 3339), makes the re-encryption job
	// first give every client whose data key was made before that time a
	// new one (fieldcrypt.RotateDEKsBefore: once per keyset, whatever the
	// replicas), then re-seal their values under it. It needs KEY_RESEAL
	// and must not be in the future.
	RotateDEKsBefore time.Time `env:"KEY_ROTATE_DEKS_BEFORE"`
	// ResealInterval is how often the re-encryption job runs when on.
	ResealInterval time.Duration `env:"KEY_RESEAL_INTERVAL" envDefault:"24h"`
	// Batch is the documents read per query by both jobs.
	Batch int `env:"KEY_JOB_BATCH" envDefault:"100"`
}

// Validate refuses intervals and batches that cannot run.
func (c Config) Validate() error {
	if c.RewrapInterval <= 0 {
		return fmt.Errorf("KEY_REWRAP_INTERVAL must be positive, got %s", c.RewrapInterval)
	}
	if c.Reseal && c.ResealInterval <= 0 {
		return fmt.Errorf("KEY_RESEAL_INTERVAL must be positive, got %s", c.ResealInterval)
	}
	if !c.RotateDEKsBefore.IsZero() && !c.Reseal {
		return fmt.Errorf("KEY_ROTATE_DEKS_BEFORE needs KEY_RESEAL=true: new data keys without re-encryption leave the old data under the old keys")
	}
	if c.Batch <= 0 || c.Batch > 10000 {
		return fmt.Errorf("KEY_JOB_BATCH must be between 1 and 10000, got %d", c.Batch)
	}
	return nil
}

// Resealer re-encrypts one service's sealed collections (each service's
// store adapter has one: docstore.Reseal over its collections) and answers
// the counts per collection.
type Resealer func(ctx context.Context, opts docstore.ResealOptions) (map[string]docstore.ResealResult, error)

// Lease is how long a replica holds a rotation job before another may take
// it over after a crash: both jobs are idempotent and resumable (what is
// done drops out of Rewrap's query; Reseal skips values already under the
// current key), so a takeover only reads again.
const Lease = 30 * time.Minute

// Jobs are the service's rotation jobs: the re-wrap always, the
// re-encryption when cfg.Reseal.
func Jobs(cfg Config, keys *fieldcrypt.Keyring, reseal Resealer, log *slog.Logger) []jobs.Job {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "keyjobs")
	out := []jobs.Job{{
		Name: RewrapJob, Interval: cfg.RewrapInterval, Lease: Lease,
		Run: func(ctx context.Context, l *jobs.Lease) error {
			res, err := keys.Rewrap(ctx, cfg.Batch)
			if res != (fieldcrypt.RewrapResult{}) {
				log.InfoContext(ctx, "keysets re-wrapped under the current KEK",
					"rewrapped", res.Rewrapped, "skipped", res.Skipped, "failed", res.Failed)
			}
			if err != nil {
				return fmt.Errorf("rewrap: %w", err)
			}
			if res.Failed > 0 {
				// Keysets that unwrap under no configured KEK: their
				// records answer DataLoss until the KEK that wrapped them
				// is configured again as a previous one.
				log.ErrorContext(ctx, "keysets unwrap under no configured KEK: keep the previous KEK configured", "failed", res.Failed)
			}
			return nil
		},
	}}
	if cfg.Reseal && reseal != nil {
		out = append(out, jobs.Job{
			Name: ResealJob, Interval: cfg.ResealInterval, Lease: Lease,
			Run: func(ctx context.Context, l *jobs.Lease) error {
				if !cfg.RotateDEKsBefore.IsZero() {
					n, err := keys.RotateDEKsBefore(ctx, cfg.RotateDEKsBefore, cfg.Batch)
					if n > 0 {
						log.InfoContext(ctx, "new data keys", "keysets", n, "made_before", cfg.RotateDEKsBefore)
					}
					if err != nil {
						return fmt.Errorf("rotate data keys: %w", err)
					}
					if err := l.Extend(ctx); err != nil {
						return err
					}
				}
				counts, err := reseal(ctx, docstore.ResealOptions{Batch: cfg.Batch})
				for coll, r := range counts {
					log.InfoContext(ctx, "re-encryption pass", "collection", coll,
						"resealed", r.Resealed, "current", r.Current, "skipped", r.Skipped, "failed", r.Failed)
				}
				if err != nil {
					return fmt.Errorf("reseal: %w", err)
				}
				return nil
			},
		})
	}
	return out
}
