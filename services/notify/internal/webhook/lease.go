package webhook

import "time"

// How attempts are bounded in time and in number. An attempt is leased
// for longer than its worst case, so that no other replica takes it over
// while it may still be in flight; the lease starts when the attempt is
// claimed, by the clock of that moment.
const (
	// AttemptTimeout bounds one POST: connection, TLS, headers and body.
	AttemptTimeout = 10 * time.Second
	// Lease is how long a claimed attempt is invisible to other replicas:
	// the attempt's timeout plus room for the webhook lookup before it and
	// the write of its result after it.
	Lease = time.Minute
	// MinLeaseLeft is how much of its lease an attempt must still have
	// when the POST starts; with less (the lookup before it stalled), the
	// attempt is not made and the lease is left to run out.
	MinLeaseLeft = AttemptTimeout + 20*time.Second
	// MaxInFlight bounds the attempts one replica makes at once.
	MaxInFlight = 8
	// MaxInFlightPerWebhook bounds the attempts one replica makes at once
	// to one webhook, so that a slow receiver takes at most that many of
	// the MaxInFlight and everyone else's deliveries go on.
	MaxInFlightPerWebhook = 1
)
