package webhook

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Schedule is the wait before each retry, after the first attempt (made at
// once): the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h, 10 h) with four more 10 h waits, so a delivery is tried for about
// three days (67 h 35 min from the first attempt, jitter aside) before it
// is given up.
var Schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxAttempts is how many times a delivery is tried: once, then once per
// Schedule entry.
var MaxAttempts = len(Schedule) + 1

// JitterFraction is how far, either way, a retry moves from its scheduled
// wait at random, so the retries of many deliveries spread out.
const JitterFraction = 0.1

// Bounds on a receiver's Retry-After: a shorter one still waits the
// schedule's wait, a longer one is cut to MaxRetryAfter, so a receiver can
// slow deliveries down but cannot park them beyond the retry window.
const MaxRetryAfter = 12 * time.Hour

// FailingFor is how long a webhook may fail every delivery (no 2xx in
// between) before it is disabled and its owner told.
const FailingFor = 5 * 24 * time.Hour

// Backoff returns how long to wait after failed attempt number attempt (1 for
// the first) before the next one: Schedule[attempt-1] moved by up to
// ±JitterFraction. jitter(n) must return a value in [0, n), like
// math/rand/v2.Int64N; out-of-range values are clamped. A nil jitter gives
// the scheduled wait. Past the schedule, the last wait.
func Backoff(attempt int, jitter func(n int64) int64) time.Duration {
	attempt = max(1, min(attempt, len(Schedule)))
	d := Schedule[attempt-1]
	if jitter == nil {
		return d
	}
	spread := int64(float64(d) * JitterFraction)
	j := jitter(2*spread + 1) // [0, 2·spread]: the result is in d ± spread
	j = max(0, min(j, 2*spread))
	return d - time.Duration(spread) + time.Duration(j)
}

// SlowDown reports whether a receiver's status asks the sender to slow
// down: 429 Too Many Requests, 502, 503 and 504 (the receiver or its
// gateway is overloaded or down). Their Retry-After is honoured.
func SlowDown(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// RetryAfter parses a Retry-After header (delay-seconds or an HTTP date,
// RFC 9110 §10.2.3) against now, bounded to [0, MaxRetryAfter]; ok is
// false when there is none or it is not valid.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		d = MaxRetryAfter
		if secs < int64(MaxRetryAfter/time.Second) {
			d = time.Duration(secs) * time.Second
		}
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	} else {
		return 0, false
	}
	return max(0, min(d, MaxRetryAfter)), true
}
