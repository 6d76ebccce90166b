package webhook

import "time"

// The retry schedule: a delivery is tried at most MaxAttempts times; after a
// failed attempt the next waits about BaseDelay·2^(attempt-1), never more
// than MaxDelay.
const (
	MaxAttempts = 6
	BaseDelay   = 2 * time.Second
	MaxDelay    = 10 * time.Minute
)

// Backoff returns how long to wait after failed attempt number attempt (1 for
// the first) before the next one.
//
// It uses "equal jitter": half of the exponential delay is fixed and the
// other half random, so retries from many deliveries spread out yet never
// come back immediately. jitter(n) must return a value in [0, n), like
// math/rand/v2.Int64N; out-of-range values are clamped. A nil jitter gives
// the delay without jitter. The result never exceeds MaxDelay.
func Backoff(attempt int, jitter func(n int64) int64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := MaxDelay
	// BaseDelay<<19 is already far past MaxDelay; the bound avoids overflow.
	if attempt <= 20 {
		if e := BaseDelay << (attempt - 1); e < MaxDelay {
			d = e
		}
	}
	if jitter == nil {
		return d
	}
	half := d / 2
	spread := int64(d - half)
	j := jitter(spread + 1) // [0, spread]: the result is in [d/2, d]
	j = max(0, min(j, spread))
	return half + time.Duration(j)
}
