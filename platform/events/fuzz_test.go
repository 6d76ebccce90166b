package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

// delivery is what one published message came to: the consumer's outcome
// and, when the handler was called, the envelope it was given.
type delivery struct {
	outcome   string
	delivered uint64
	env       *eventsv1.Envelope
}

// FuzzEventDecoding publishes arbitrary bytes as an event on a real
// (embedded) JetStream stream, consumed the way every service consumes its
// events: natsx.Consume with events.Handler in front of the service's
// function. Whatever the bytes:
//
//   - nothing panics (a panic in the handler would show as a retry);
//   - bytes that are not an envelope with an id and a type are a poison
//     message: dead-lettered on the first delivery, never retried, and the
//     service's function never sees them;
//   - an envelope that decodes reaches the function intact (equal to what
//     was published) and is acked.
//
// The consumer is one per fuzz worker; each input waits for its own
// outcome, so inputs never overlap.
func FuzzEventDecoding(f *testing.F) {
	_, js := testenv.NATS(f)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	if _, err := natsx.EnsureStream(ctx, js, "FUZZ", []string{"fuzz.>"}); err != nil {
		f.Fatal(err)
	}
	got := make(chan delivery, 16)
	var last *eventsv1.Envelope
	handler := events.Handler(func(_ context.Context, env *eventsv1.Envelope, seq int64) error {
		if seq <= 0 {
			return fmt.Errorf("stream sequence %d", seq)
		}
		last = env
		return nil
	})
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{
		Stream: "FUZZ", Durable: "fuzz", MaxDeliver: 3, RetryDelay: time.Millisecond,
		Observe: func(outcome string, delivered uint64) {
			got <- delivery{outcome: outcome, delivered: delivered, env: last}
			last = nil
		},
	}, handler, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(stop)

	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := js.Publish(ctx, "fuzz.event", data); err != nil {
			t.Fatalf("publish: %v", err)
		}
		var d delivery
		select {
		case d = <-got:
		case <-time.After(30 * time.Second):
			t.Fatalf("no outcome for %q", data)
		}
		want, decodeErr := events.Decode(data)
		switch {
		case decodeErr != nil:
			if d.outcome != natsx.OutcomeDeadLetter || d.delivered != 1 || d.env != nil {
				t.Fatalf("poison %q (%v): outcome %s on delivery %d, handler given %v; want dead_letter on the first, handler not called",
					data, decodeErr, d.outcome, d.delivered, d.env)
			}
		case d.outcome != natsx.OutcomeOK || d.delivered != 1:
			t.Fatalf("envelope %q: outcome %s on delivery %d, want ok on the first", data, d.outcome, d.delivered)
		case !proto.Equal(d.env, want) || d.env.GetEventId() == "" || d.env.GetType() == "":
			t.Fatalf("envelope %q reached the handler as %v, want %v", data, d.env, want)
		}
	})
}

// TestFuzzEventSeedsDecode keeps the corpus honest: its "valid" seed is a
// real envelope (so the fuzzer starts from the accepted path too).
func TestFuzzEventSeedsDecode(t *testing.T) {
	env := &eventsv1.Envelope{EventId: "e-1", Type: "journal.urge.logged", ClientId: "c-1", OccurredAt: timestamppb.New(time.Unix(1774747800, 0))}
	b, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.Decode(b); err != nil {
		t.Fatal(err)
	}
	t.Logf("%q", b)
}
