package natsx

import (
	"context"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
)

// FaultStage names a point in a consumer's work on one delivery where a
// fault can be injected (SetFaultHook).
type FaultStage int

const (
	// BeforeHandle is when a delivery is about to be handed to the
	// handler, inside its run: a hook that blocks here is a slow handler
	// (in-progress acks are sent meanwhile), and an error fails the
	// delivery as a handler error would.
	BeforeHandle FaultStage = iota + 1
	// AfterHandle is when the handler has returned, before the answer
	// (ack, nak, dead letter) is sent; the hook's error is ignored.
	AfterHandle
	// BeforeInProgress is when an in-progress ack is about to be sent for a
	// handler running long: an error drops it, as a stalled process or a
	// lost connection would, so the server redelivers after AckWait.
	BeforeInProgress
)

// FaultHook is called by every consumer of the process at each FaultStage
// of each delivery, with the consumer's durable name.
type FaultHook func(ctx context.Context, stage FaultStage, durable string, msg jetstream.Msg) error

var faultHook atomic.Pointer[FaultHook]

// SetFaultHook installs h for every consumer of the process (nil removes
// it) and returns a function that restores the previous one. It exists for
// fault-injection tests (docs/reliability.md); production never sets it.
func SetFaultHook(h FaultHook) (restore func()) {
	var p *FaultHook
	if h != nil {
		p = &h
	}
	prev := faultHook.Swap(p)
	return func() { faultHook.Store(prev) }
}

func fault(ctx context.Context, stage FaultStage, durable string, msg jetstream.Msg) error {
	h := faultHook.Load()
	if h == nil {
		return nil
	}
	return (*h)(ctx, stage, durable, msg)
}
