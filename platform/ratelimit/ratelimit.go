// Package ratelimit keeps one token bucket per key (an identity or an
// address), for the gateway's HTTP edge and the shared gRPC server alike.
// Buckets idle for a while are dropped, so memory stays bounded by the
// callers active recently.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/nocontact/backend/platform/clock"
)

// Idle is how long a bucket is kept without a request.
const Idle = 10 * time.Minute

// Limiter allows rps requests per second per key, with bursts of burst.
// A zero or negative rps allows everything.
type Limiter struct {
	mu      sync.Mutex
	rps     rate.Limit
	burst   int
	clk     clock.Clock
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter of rps per key with bursts of burst.
func New(rps float64, burst int, clk clock.Clock) *Limiter {
	return &Limiter{rps: rate.Limit(rps), burst: burst, clk: clk, buckets: map[string]*bucket{}, sweep: clk.Now()}
}

// Allow takes one token of key's bucket, reporting whether there was one.
func (l *Limiter) Allow(key string) bool {
	if l.rps <= 0 {
		return true
	}
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > Idle {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > Idle {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.rps, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// RetryAfter is how long a refused caller should wait for one token.
func (l *Limiter) RetryAfter() time.Duration {
	if l.rps <= 0 {
		return 0
	}
	return max(time.Second, time.Duration(float64(time.Second)/float64(l.rps)))
}

// Keys is how many buckets are kept (for tests of the bound).
func (l *Limiter) Keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
