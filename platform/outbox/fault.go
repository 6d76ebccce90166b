package outbox

import (
	"context"
	"sync/atomic"
)

// Stage names a point in a relay's work on one message where a fault can be
// injected (SetFaultHook).
type Stage int

const (
	// BeforePublish is after the state and its event are stored and before
	// the relay publishes the event: a stop here must publish the event
	// later, once.
	BeforePublish Stage = iota + 1
	// BeforeMarkSent is after JetStream acknowledged the event and before
	// the relay clears it from the document: a stop here republishes it
	// later, which the duplicate window and the consumers must absorb.
	BeforeMarkSent
)

// FaultHook is called by every relay of the process at each Stage of each
// message; a non-nil error fails the pass there as a crash would (nothing
// after it happens; the document stays pending).
type FaultHook func(ctx context.Context, stage Stage, m Message) error

var faultHook atomic.Pointer[FaultHook]

// SetFaultHook installs h for every relay of the process (nil removes it)
// and returns a function that restores the previous one. It exists for
// fault-injection tests (docs/reliability.md); production never sets it.
func SetFaultHook(h FaultHook) (restore func()) {
	var p *FaultHook
	if h != nil {
		p = &h
	}
	prev := faultHook.Swap(p)
	return func() { faultHook.Store(prev) }
}

func fault(ctx context.Context, stage Stage, m Message) error {
	h := faultHook.Load()
	if h == nil {
		return nil
	}
	return (*h)(ctx, stage, m)
}
