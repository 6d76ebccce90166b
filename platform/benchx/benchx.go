// Package benchx runs a call under concurrent load inside a testing.B and
// reports what the suite's performance goals are stated in: throughput
// (req/s) and the 99th percentile of single-call latencies (p99-ms), both
// from latencies recorded by wall clock, so that ratios against a bare
// baseline measured in the same run can be read off directly
// (docs/performance.md; `make bench`).
package benchx

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/clock"
)

// wall is the real clock: a benchmark measures wall time.
var wall = clock.Real()

// Concurrency is the number of goroutines calling at once in Parallel: a
// few callers per core, enough to keep a 2-core machine busy without
// queueing for seconds.
const Concurrency = 8

// Parallel calls fn b.N times from Concurrency goroutines and reports
// req/s, p50-ms and p99-ms. Any error fails the benchmark.
func Parallel(b *testing.B, fn func() error) {
	b.Helper()
	var (
		mu   sync.Mutex
		all  = make([]time.Duration, 0, b.N)
		errs []error
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := wall.Now()
	var wg sync.WaitGroup
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	for range Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, b.N/Concurrency+1)
			for range next {
				t0 := wall.Now()
				err := fn()
				local = append(local, wall.Now().Sub(t0))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := wall.Now().Sub(start)
	b.StopTimer()
	if len(errs) > 0 {
		b.Fatalf("%d of %d calls failed, first: %v", len(errs), b.N, errs[0])
	}
	Report(b, all, elapsed)
}

// Report adds req/s, p50-ms and p99-ms for the given latencies of calls
// that took elapsed in all.
func Report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.Helper()
	if len(lat) == 0 || elapsed <= 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(Percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(Percentile(lat, 0.99)), "p99-ms")
}

// Percentile returns the q-th quantile (0..1) of sorted latencies.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Serial calls fn b.N times one after another and reports req/s, p50-ms
// and p99-ms: for a store that serves one command at a time (the embedded
// FerretDB), where concurrent callers would only queue.
func Serial(b *testing.B, fn func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := wall.Now()
	for range b.N {
		t0 := wall.Now()
		if err := fn(); err != nil {
			b.Fatalf("call %d: %v", len(lat), err)
		}
		lat = append(lat, wall.Now().Sub(t0))
	}
	elapsed := wall.Now().Sub(start)
	b.StopTimer()
	Report(b, lat, elapsed)
}
