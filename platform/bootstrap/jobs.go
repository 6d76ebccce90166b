package bootstrap

import (
	"context"
	"sync"
	"time"

	"github.com/nocontact/backend/platform/jobs"
)

// Jobs returns the runner of the service's periodic jobs (retention
// sweeps, key re-wraps) on its jobs collection, each run once across the
// replicas (platform/jobs), and the Work that runs it. A period that
// completes without error sets the scheduler metric's last-success time
// under the job's name, on the replica that ran it (alert on the maximum
// across replicas).
func (d *Deps) Jobs(js ...jobs.Job) (*jobs.Runner, Work) {
	var mu sync.Mutex
	ran := map[string]func(time.Time){}
	r := jobs.New(d.DB, d.Clock, d.Log, jobs.Options{Observe: func(name string, _ time.Duration, err error) {
		if err != nil {
			return
		}
		mu.Lock()
		f, ok := ran[name]
		if !ok {
			_, f = d.Metrics.Scheduler(name)
			ran[name] = f
		}
		mu.Unlock()
		if f != nil {
			f(d.Clock.Now())
		}
	}}, js...)
	return r, func(ctx context.Context) { _ = r.Run(ctx) }
}
