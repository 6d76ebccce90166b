package natsx_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

// Slow work is not handed to another replica: while the handler runs past
// AckWait, in-progress acks keep the message with it, so it runs once.
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)

	var calls atomic.Int32
	done := make(chan struct{})
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "slow", AckWait: 300 * time.Millisecond},
		func(context.Context, jetstream.Msg) error {
			if calls.Add(1) == 1 {
				time.Sleep(1200 * time.Millisecond) // four times AckWait
				close(done)
			}
			return nil
		}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	publish(t, js, "plans.slow", "s1")
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the slow handler never finished")
	}
	waitFor(t, "ack", func() bool { return pendingAcks(t, js, "PLANS", "slow") == 0 })
	time.Sleep(400 * time.Millisecond) // a redelivery would have come by now
	if c := calls.Load(); c != 1 {
		t.Fatalf("handler ran %d times, want 1 (no redelivery while it worked)", c)
	}
}

// The replica count reaches the server: a single server keeps one copy and
// refuses three (a cluster of three is needed for that).
func TestEnsureStreamReplicatedPassesReplicas(t *testing.T) {
	ctx := ctxT(t)
	_, js := testenv.NATS(t)
	s, err := natsx.EnsureStreamReplicated(ctx, js, "JOURNAL", []string{"journal.>"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.Config.Replicas != 1 {
		t.Fatalf("replicas = %v, %v; want 1", info, err)
	}
	if _, err := natsx.EnsureStreamReplicated(ctx, js, "JOURNAL", []string{"journal.>"}, 3); err == nil {
		t.Fatal("a single server accepted three replicas: the setting did not reach it")
	}
}
