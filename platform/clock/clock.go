// Package clock provides the source of "now" for every package of the suite.
//
// Business code never calls time.Now directly: day counts, milestones, token
// expiry and reminders all depend on the current instant, and tests must be
// able to put that instant anywhere (across midnight, across a DST change) and
// move it deterministically. Production wires Real; tests wire a Fake.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current instant.
type Clock interface {
	Now() time.Time
}

// Real returns the wall clock of the machine. It is the only place in the
// suite that is allowed to call time.Now.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Fake is a Clock that only moves when told to. It is safe for concurrent
// use, because the code under test often reads it from several goroutines
// (interceptors, schedulers) while the test moves it.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the instant the clock is set to.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Set moves the clock to t, which may be earlier than the current instant
// (to test code that must cope with a clock stepping backwards).
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

// Advance moves the clock by d and returns the new instant. A negative d
// moves it backwards.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return f.now
}
