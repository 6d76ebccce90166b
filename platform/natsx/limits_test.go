package natsx_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

// The limits reach the server: the event stream keeps messages 48 hours
// and at most 4 KiB, and, full, refuses the next message instead of
// dropping an unconsumed one; a stream ensured without limits is bounded
// by the defaults, never kept forever.
func TestEnsureStreamLimitedReachesTheServer(t *testing.T) {
	ctx := ctxT(t)
	_, js := testenv.NATS(t)
	limits := natsx.StreamLimits{MaxAge: 48 * time.Hour, MaxBytes: 4 << 10}
	s, err := natsx.EnsureStreamLimited(ctx, js, "JOURNAL", []string{"journal.>"}, 1, limits)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxAge != limits.MaxAge || c.MaxBytes != limits.MaxBytes || c.Discard != jetstream.DiscardNew {
		t.Fatalf("server has MaxAge %v, MaxBytes %d, Discard %v; want %v, %d, DiscardNew", c.MaxAge, c.MaxBytes, c.Discard, limits.MaxAge, limits.MaxBytes)
	}

	body := bytes.Repeat([]byte("m"), 1000)
	var refused error
	for range 10 {
		if _, refused = js.Publish(ctx, "journal.entry.created", body); refused != nil {
			break
		}
	}
	if refused == nil {
		t.Fatal("a stream of 4 KiB accepted 10 KB")
	}
	info, err = s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.FirstSeq != 1 {
		t.Errorf("first message is now seq %d: the full stream dropped an unconsumed message", info.State.FirstSeq)
	}

	// Ensured again without limits (a test, a tool): the defaults, not forever.
	s, err = natsx.EnsureStream(ctx, js, "JOURNAL", []string{"journal.>"})
	if err != nil {
		t.Fatal(err)
	}
	if info, err = s.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxAge != natsx.DefaultStreamLimits.MaxAge || c.MaxBytes != natsx.DefaultStreamLimits.MaxBytes {
		t.Errorf("without limits the server has MaxAge %v, MaxBytes %d; want the defaults %+v", c.MaxAge, c.MaxBytes, natsx.DefaultStreamLimits)
	}
}

// A consumer ensures the dead-letter stream with its spec's limits; full,
// that stream drops its oldest letters so the newest are kept.
func TestConsumeEnsuresDeadLetterStreamWithItsLimits(t *testing.T) {
	ctx := ctxT(t)
	_, js := testenv.NATS(t)
	if _, err := natsx.EnsureStream(ctx, js, "JOURNAL", []string{"journal.>"}); err != nil {
		t.Fatal(err)
	}
	limits := natsx.StreamLimits{MaxAge: 24 * time.Hour, MaxBytes: 4 << 10}
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "JOURNAL", Durable: "limits", DeadLetterLimits: limits},
		func(context.Context, jetstream.Msg) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dlq, err := js.Stream(ctx, natsx.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxAge != limits.MaxAge || c.MaxBytes != limits.MaxBytes || c.Discard != jetstream.DiscardOld {
		t.Fatalf("server has MaxAge %v, MaxBytes %d, Discard %v; want %v, %d, DiscardOld", c.MaxAge, c.MaxBytes, c.Discard, limits.MaxAge, limits.MaxBytes)
	}
	body := bytes.Repeat([]byte("d"), 1000)
	for range 10 {
		if _, err := js.Publish(ctx, natsx.DeadLetterSubjectPrefix+"JOURNAL.limits", body); err != nil {
			t.Fatalf("the dead-letter stream refused a letter: %v", err)
		}
	}
	if info, err = dlq.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != 10 || info.State.FirstSeq == 1 || info.State.Bytes > uint64(limits.MaxBytes) {
		t.Errorf("dead letters: seq %d..%d, %d bytes; want the newest kept within %d bytes", info.State.FirstSeq, info.State.LastSeq, info.State.Bytes, limits.MaxBytes)
	}
}
