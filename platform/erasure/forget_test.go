package erasure_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

// Every replica forgets the erased client's keys on the confirmation, not
// just the one that erased: two replicas, two forgets.
func TestEveryReplicaForgetsOnTheConfirmation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, js := testenv.NATS(t)
	if _, err := natsx.EnsureStream(ctx, js, "JOURNAL", []string{"journal.>"}); err != nil {
		t.Fatal(err)
	}
	type forget struct {
		replica int
		client  string
	}
	forgot := make(chan forget, 64)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	done := make(chan struct{}, 2)
	for i := range 2 {
		run := erasure.ForgetEverywhere(js, "JOURNAL", "journal", func(c string) { forgot <- forget{i, c} }, log)
		go func() { run(ctx); done <- struct{}{} }()
	}
	defer func() {
		cancel()
		<-done
		<-done
	}()
	data, err := proto.Marshal(&eventsv1.Envelope{EventId: "e1", Type: "journal.erasure.confirmed", ClientId: "c1",
		Payload: &eventsv1.Envelope_ErasureConfirmed{ErasureConfirmed: &eventsv1.ErasureConfirmed{Service: "journal"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Published until both replicas have heard one (an ordered consumer
	// from new messages misses what came before it subscribed).
	heard := map[int]bool{}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for len(heard) < 2 {
		select {
		case f := <-forgot:
			if f.client != "c1" {
				t.Fatalf("forgot %q", f.client)
			}
			heard[f.replica] = true
		case <-tick.C:
			if len(heard) < 2 {
				if _, err := js.Publish(ctx, "journal.erasure.confirmed", data, jetstream.WithMsgID(time.Now().String())); err != nil {
					t.Fatal(err)
				}
			}
		case <-deadline:
			t.Fatalf("%d replicas forgot, want 2", len(heard))
		}
	}
}
