package natsx_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

// Slow work is not handed to another replica: while the handler runs past
// AckWait, in-progress acks keep the message with it, so it runs once.
// The handler works until it has seen nine in-progress acks go to the
// server (three times AckWait) or the server count a second delivery,
// whichever comes first: it waits for signals, not for a time, and then
// the server's own count of deliveries says whether the message was
// handed out again.
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	ctx := ctxT(t)
	url, js := testenv.NATS(t)
	if _, err := natsx.EnsureStream(ctx, js, "PLANS", []string{"plans.>"}); err != nil {
		t.Fatal(err)
	}
	const ackWait = 300 * time.Millisecond
	const wantProgress = 9 // one per ackWait/3: three times ackWait

	// The in-progress acks the consumer sends, seen on their way.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	progress := make(chan struct{}, 100)
	sub, err := nc.Subscribe("$JS.ACK.PLANS.slow.>", func(m *nats.Msg) {
		if string(m.Data) == "+WPI" {
			progress <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// delivered is how often the server has handed out the message.
	delivered := func() uint64 {
		c, err := js.Consumer(ctx, "PLANS", "slow")
		if err != nil {
			t.Error(err)
			return 0
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Error(err)
			return 0
		}
		return info.Delivered.Consumer
	}
	var calls atomic.Int32
	done := make(chan struct{})
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "slow", AckWait: ackWait},
		func(context.Context, jetstream.Msg) error {
			if calls.Add(1) > 1 {
				return nil
			}
			defer close(done)
			poll := time.NewTicker(20 * time.Millisecond)
			defer poll.Stop()
			for seen := 0; seen < wantProgress; {
				select {
				case <-progress:
					seen++
				case <-poll.C:
					if delivered() > 1 {
						return nil // handed out again while this replica worked
					}
				case <-ctx.Done():
					return ctx.Err()
				}
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
	if n, d := calls.Load(), delivered(); n != 1 || d != 1 {
		t.Fatalf("handler ran %d times, server delivered %d times; want 1 (no redelivery while it worked)", n, d)
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
