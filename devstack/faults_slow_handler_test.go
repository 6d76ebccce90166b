package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nocontact/backend/platform/natsx"
)

// slowAckWait is notify's AckWait in the slow-handler test
// (NATS_CONSUMER_ACK_WAIT): short, so that a handler outlives it quickly.
const slowAckWait = time.Second

// Fault 7: a handler slower than its consumer's AckWait. Two replicas of
// each service, AckWait 1 s; one milestone event published to PLANS; a
// hook holds notify's handler on the event's first delivery.
//
//   - in_progress_acks: the consumer tells JetStream it is still working
//     (an in-progress ack every third of AckWait). The handler is held
//     until nine of them have gone out (three times AckWait): the event
//     was delivered once and handled once, one notification.
//   - in_progress_acks_lost: the in-progress acks are dropped (a stalled
//     process, a lost connection), so JetStream redelivers after AckWait.
//     The handler is held until the redelivery has been handed out (the
//     consumer's delivery count), then let go: the event is handled twice,
//     and still there is one notification.
func TestFaultHandlerSlowerThanAckWait(t *testing.T) {
	skipFaultsIfShort(t)
	for _, tc := range []struct {
		name         string
		dropProgress bool
	}{{"in_progress_acks", false}, {"in_progress_acks_lost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSuiteWith(t, t.TempDir(), func(st *Settings) {
				st.Replicas = 2
				st.ConsumerAckWait = slowAckWait.String()
			})
			const target = "evt-burst-00000" // publishMilestoneBurst's first event
			var (
				mu       sync.Mutex
				progress int // in-progress acks for the target (sent or dropped)
				handled  int // handler runs of the target that returned
				started  []uint64
				release  = make(chan struct{})
			)
			restore := natsx.SetFaultHook(func(ctx context.Context, stage natsx.FaultStage, durable string, msg jetstream.Msg) error {
				if durable != "notify-plans" || msg.Headers().Get(jetstream.MsgIDHeader) != target {
					return nil
				}
				meta, err := msg.Metadata()
				if err != nil {
					return err
				}
				mu.Lock()
				switch stage {
				case natsx.BeforeInProgress:
					progress++
					mu.Unlock()
					if tc.dropProgress {
						return errInjected
					}
					return nil
				case natsx.AfterHandle:
					handled++
					mu.Unlock()
					return nil
				}
				started = append(started, meta.NumDelivered)
				mu.Unlock()
				if meta.NumDelivered == 1 {
					// The slow handler: it works until the test lets go.
					select {
					case <-release:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				return nil
			})
			defer restore()

			js := jetStream(t, s.nats)
			before := consumerDelivered(t, js)
			publishMilestoneBurst(t, js, 1)
			began := time.Now()
			if tc.dropProgress {
				eventually(t, 30*slowAckWait, func() string {
					if d := consumerDelivered(t, js) - before; d < 2 {
						return fmt.Sprintf("the event was handed out %d times, want a redelivery", d)
					}
					return ""
				})
			} else {
				eventually(t, 30*slowAckWait, func() string {
					mu.Lock()
					defer mu.Unlock()
					if progress < 9 {
						return fmt.Sprintf("%d in-progress acks sent, want 9 (three times AckWait)", progress)
					}
					return ""
				})
			}
			held := time.Since(began)
			close(release)

			want := 1
			if tc.dropProgress {
				want = 2
			}
			eventually(t, 30*time.Second, func() string {
				mu.Lock()
				defer mu.Unlock()
				if handled < want {
					return fmt.Sprintf("%d handler runs of the event returned, want %d (deliveries started: %v)", handled, want, started)
				}
				return ""
			})
			s.waitConsumed("PLANS", "notify-plans")
			delivered := consumerDelivered(t, js) - before
			mu.Lock()
			t.Logf("held %v past AckWait %v; %d in-progress acks, handler runs started at deliveries %v, %d returned; handed out %d times",
				held.Round(time.Millisecond), slowAckWait, progress, started, handled, delivered)
			if !tc.dropProgress && (len(started) != 1 || delivered != 1) {
				t.Errorf("with in-progress acks the event was handed out %d times (handler runs %v), want once", delivered, started)
			}
			mu.Unlock()
			assertBurstOnce(t, s.stack.Mongo.Database("notify").Collection("notifications"), 1)
		})
	}
}

// consumerDelivered is how many deliveries notify's PLANS consumer has
// handed out, redeliveries included.
func consumerDelivered(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, "PLANS", "notify-plans")
	if err != nil {
		t.Fatal(err)
	}
	return c.CachedInfo().Delivered.Consumer
}
