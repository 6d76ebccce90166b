package natsx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestEnsureStreamIsIdempotentAndFileBacked(t *testing.T) {
	ctx := ctxT(t)
	_, js := testenv.NATS(t)
	for i := range 2 {
		if _, err := natsx.EnsureStream(ctx, js, "PLANS", []string{"plans.>"}); err != nil {
			t.Fatalf("EnsureStream call %d: %v", i+1, err)
		}
	}
	s, err := js.Stream(ctx, "PLANS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Storage != jetstream.FileStorage || cfg.Duplicates != time.Hour {
		t.Fatalf("stream config storage=%v duplicates=%v, want file and 1h", cfg.Storage, cfg.Duplicates)
	}

	// The duplicate window is what makes an outbox republish harmless.
	for range 2 {
		if _, err := js.Publish(ctx, "plans.x", []byte("1"), jetstream.WithMsgID("ev-1")); err != nil {
			t.Fatal(err)
		}
	}
	if n := streamMsgs(t, js, "PLANS"); n != 1 {
		t.Fatalf("stream holds %d messages after publishing one id twice, want 1", n)
	}
}

func TestConnectLogsDisconnects(t *testing.T) {
	srv, err := embedded.StartNATS(embedded.NATSOptions{Port: embedded.RandomPort, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	nc, js, err := natsx.Connect(srv.ClientURL(), "natsx-test", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	if _, err := js.AccountInfo(ctxT(t)); err != nil {
		t.Fatalf("JetStream through Connect: %v", err)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor(t, "disconnect log line", func() bool { return strings.Contains(logs.String(), "nats disconnected") })
	if nc.IsClosed() {
		t.Fatal("connection closed after a server outage; want it to keep reconnecting")
	}
}

func TestConnectFailsWithoutServer(t *testing.T) {
	if nc, _, err := natsx.Connect("nats://127.0.0.1:1", "x", quietLog()); err == nil {
		nc.Close()
		t.Fatal("Connect succeeded without a server")
	}
}

// setup returns a JetStream with a PLANS stream.
func setup(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := testenv.NATS(t)
	if _, err := natsx.EnsureStream(ctxT(t), js, "PLANS", []string{"plans.>"}); err != nil {
		t.Fatal(err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream, subject, data string) {
	t.Helper()
	msg := &nats.Msg{Subject: subject, Data: []byte(data), Header: nats.Header{"Nocontact-Event-Id": []string{data}}}
	if _, err := js.PublishMsg(ctxT(t), msg, jetstream.WithMsgID(data)); err != nil {
		t.Fatal(err)
	}
}

func TestConsumeDeadLettersPoisonAndGoesOn(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)

	var mu sync.Mutex
	var handled []string
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "notify"},
		func(_ context.Context, msg jetstream.Msg) error {
			if string(msg.Data()) == "poison" {
				return fmt.Errorf("decode: %w", natsx.ErrPermanent)
			}
			mu.Lock()
			handled = append(handled, string(msg.Data()))
			mu.Unlock()
			return nil
		}, quietLog())
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	defer stop()

	publish(t, js, "plans.a", "good-1")
	publish(t, js, "plans.b", "poison")
	publish(t, js, "plans.a", "good-2")
	publish(t, js, "plans.a", "good-3")

	waitFor(t, "good messages handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 3
	})
	mu.Lock()
	if got := strings.Join(handled, ","); got != "good-1,good-2,good-3" {
		t.Fatalf("handled %s", got)
	}
	mu.Unlock()

	waitFor(t, "dead letter", func() bool { return streamMsgs(t, js, natsx.DeadLetterStream) == 1 })
	dl := lastMsg(t, js, natsx.DeadLetterStream)
	if dl.Subject != "deadletter.PLANS.notify" || string(dl.Data) != "poison" {
		t.Fatalf("dead letter subject=%s data=%q", dl.Subject, dl.Data)
	}
	for h, want := range map[string]string{
		natsx.HeaderDLStream:     "PLANS",
		natsx.HeaderDLSubject:    "plans.b",
		natsx.HeaderDLSequence:   "2",
		natsx.HeaderDLConsumer:   "notify",
		natsx.HeaderDLDeliveries: "1",
		natsx.HeaderDLMsgID:      "poison",
		"Nocontact-Event-Id":     "poison",
	} {
		if got := dl.Header.Get(h); got != want {
			t.Errorf("dead letter header %s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(dl.Header.Get(natsx.HeaderDLReason), "decode") {
		t.Errorf("dead letter reason %q does not carry the handler error", dl.Header.Get(natsx.HeaderDLReason))
	}

	// Nothing is left for redelivery: all four are answered.
	waitFor(t, "all acked or terminated", func() bool { return pendingAcks(t, js, "PLANS", "notify") == 0 })
}

func TestConsumeRetriesTransientFailureThenSucceeds(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)

	var calls atomic.Int32
	done := make(chan struct{})
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "retry", RetryDelay: 20 * time.Millisecond},
		func(context.Context, jetstream.Msg) error {
			if calls.Add(1) < 3 {
				return errors.New("database unavailable")
			}
			close(done)
			return nil
		}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	publish(t, js, "plans.a", "m1")
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("handler never succeeded; calls = %d", calls.Load())
	}
	waitFor(t, "ack", func() bool { return pendingAcks(t, js, "PLANS", "retry") == 0 })
	if n := streamMsgs(t, js, natsx.DeadLetterStream); n != 0 {
		t.Fatalf("%d dead letters for a message that finally succeeded", n)
	}
	if c := calls.Load(); c != 3 {
		t.Fatalf("handler called %d times, want 3", c)
	}
}

func TestConsumeDeadLettersAfterMaxDeliver(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)

	var calls atomic.Int32
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{
		Stream: "PLANS", Durable: "bounded", MaxDeliver: 3, RetryDelay: 10 * time.Millisecond,
		DeadLetterSubject: "deadletter.custom",
	}, func(context.Context, jetstream.Msg) error {
		calls.Add(1)
		return errors.New("always failing")
	}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	publish(t, js, "plans.a", "m1")
	waitFor(t, "dead letter", func() bool { return streamMsgs(t, js, natsx.DeadLetterStream) == 1 })
	dl := lastMsg(t, js, natsx.DeadLetterStream)
	if dl.Subject != "deadletter.custom" || dl.Header.Get(natsx.HeaderDLDeliveries) != "3" {
		t.Fatalf("dead letter on %s after %s deliveries", dl.Subject, dl.Header.Get(natsx.HeaderDLDeliveries))
	}
	// No further attempt after the dead-lettering: the consumer has nothing
	// pending or unacknowledged, so nothing more can be delivered.
	waitFor(t, "nothing pending", func() bool { return pendingAcks(t, js, "PLANS", "bounded") == 0 })
	if c := calls.Load(); c != 3 {
		t.Fatalf("handler called %d times, want MaxDeliver = 3", c)
	}
}

// A message whose handler never answers (the replica crashed, or hung past
// AckWait) must be neither redelivered forever nor dropped: once MaxDeliver
// deliveries are spent, the next one goes to the dead-letter stream without
// another handler call. The crashed replica is played by a bare Fetch that
// never acks.
func TestConsumeDeadLettersMessageThatNeverAnswers(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)
	spec := natsx.ConsumerSpec{Stream: "PLANS", Durable: "crashy", MaxDeliver: 2, AckWait: 100 * time.Millisecond}
	var calls atomic.Int32
	handler := func(context.Context, jetstream.Msg) error { calls.Add(1); return nil }

	// Create the durable with Consume's configuration, then go away.
	stop, err := natsx.Consume(ctx, js, spec, handler, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	stop()

	publish(t, js, "plans.a", "m1")
	cons, err := js.Consumer(ctx, "PLANS", "crashy")
	if err != nil {
		t.Fatal(err)
	}
	for i := range spec.MaxDeliver {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range batch.Messages() {
			n++ // received and never answered: a crash
		}
		if n != 1 {
			t.Fatalf("crashed replica delivery %d: got %d messages", i+1, n)
		}
	}

	stop, err = natsx.Consume(ctx, js, spec, handler, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	waitFor(t, "dead letter", func() bool { return streamMsgs(t, js, natsx.DeadLetterStream) == 1 })
	if got := lastMsg(t, js, natsx.DeadLetterStream).Header.Get(natsx.HeaderDLDeliveries); got != "3" {
		t.Fatalf("dead-lettered at delivery %s, want 3", got)
	}
	waitFor(t, "terminated", func() bool { return pendingAcks(t, js, "PLANS", "crashy") == 0 })
	if c := calls.Load(); c != 0 {
		t.Fatalf("handler called %d times for a message past MaxDeliver", c)
	}
}

func TestStopWaitsForTheHandlerInFlight(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)

	entered := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "slow"},
		func(context.Context, jetstream.Msg) error {
			close(entered)
			<-release
			finished.Store(true)
			return nil
		}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	publish(t, js, "plans.a", "m1")
	<-entered

	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("stop returned while a handler was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("stop never returned")
	}
	if !finished.Load() {
		t.Fatal("stop returned before the handler finished")
	}
	// The handler's success was acked before stop returned.
	waitFor(t, "ack", func() bool { return pendingAcks(t, js, "PLANS", "slow") == 0 })
	stop() // idempotent
}

func TestConsumeStopsWhenContextIsCancelled(t *testing.T) {
	js := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "ctx"},
		func(context.Context, jetstream.Msg) error { calls.Add(1); return nil }, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	stop() // returns at once: the loop already ended
	// stop has returned, so the consumer's loop is gone (goleak checks no
	// goroutine outlives the tests): a message published now is stored and
	// never handled.
	publish(t, js, "plans.a", "late")
	waitFor(t, "the late message stored", func() bool { return streamMsgs(t, js, "PLANS") == 1 })
	if c := calls.Load(); c != 0 {
		t.Fatalf("handler called %d times after cancel", c)
	}
}

func TestConsumeRejectsBadSpec(t *testing.T) {
	js := setup(t)
	noop := func(context.Context, jetstream.Msg) error { return nil }
	for name, spec := range map[string]natsx.ConsumerSpec{
		"no durable":          {Stream: "PLANS"},
		"dead letter outside": {Stream: "PLANS", Durable: "d", DeadLetterSubject: "plans.dead"},
	} {
		if stop, err := natsx.Consume(ctxT(t), js, spec, noop, quietLog()); err == nil {
			stop()
			t.Errorf("%s: Consume accepted the spec", name)
		}
	}
}

func TestPermanentWraps(t *testing.T) {
	base := errors.New("bad payload")
	err := natsx.Permanent(base)
	if !errors.Is(err, natsx.ErrPermanent) || !errors.Is(err, base) {
		t.Fatalf("Permanent(%v) = %v loses a cause", base, err)
	}
	if natsx.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func lastMsg(t *testing.T, js jetstream.JetStream, stream string) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pendingAcks(t *testing.T, js jetstream.JetStream, stream, durable string) int {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumAckPending + int(info.NumPending) + info.NumRedelivered
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Observe hears every handled delivery: its outcome and delivery count.
func TestConsumeObservesOutcomes(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)

	var mu sync.Mutex
	var seen []string
	var calls atomic.Int32
	stop, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{
		Stream: "PLANS", Durable: "observed", RetryDelay: 20 * time.Millisecond,
		Observe: func(outcome string, delivered uint64) {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s/%d", outcome, delivered))
			mu.Unlock()
		},
	}, func(_ context.Context, msg jetstream.Msg) error {
		switch string(msg.Data()) {
		case "poison":
			return natsx.Permanent(errors.New("undecodable"))
		case "flaky":
			if calls.Add(1) == 1 {
				return errors.New("database unavailable")
			}
		}
		return nil
	}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	publish(t, js, "plans.a", "good")
	publish(t, js, "plans.a", "poison")
	publish(t, js, "plans.a", "flaky")
	waitFor(t, "four deliveries observed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 4
	})
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(seen, ","); got != "ok/1,dead_letter/1,retry/1,ok/2" {
		t.Fatalf("observed %s, want ok/1,dead_letter/1,retry/1,ok/2", got)
	}
}

// A consumer stopped with messages fetched but not yet handled hands them
// back, and the one its handler was cut off in too: the server can give
// them to another replica (or this one, restarted) at once, not after
// AckWait (30 s by default).
func TestStopHandsBackWhatItHadNotDone(t *testing.T) {
	ctx := ctxT(t)
	js := setup(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	entered := make(chan struct{})
	var calls atomic.Int32
	stop, err := natsx.Consume(cctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "handback"},
		func(hctx context.Context, _ jetstream.Msg) error {
			if calls.Add(1) == 1 {
				close(entered)
			}
			<-hctx.Done() // shutdown cuts the work off
			return hctx.Err()
		}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"m1", "m2", "m3", "m4", "m5"} {
		publish(t, js, "plans.a", m)
	}
	<-entered
	info := func() *jetstream.ConsumerInfo {
		c, err := js.Consumer(ctx, "PLANS", "handback")
		if err != nil {
			t.Fatal(err)
		}
		i, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	// All five are with this consumer: one in the handler, four buffered.
	waitFor(t, "five messages delivered", func() bool { return info().NumAckPending == 5 })
	cancel() // the service shuts down
	stop()
	if n := calls.Load(); n != 1 {
		t.Fatalf("the stopped consumer started %d messages, want only the one in flight", n)
	}
	// A new consumer on the same durable gets them at once: within
	// waitFor's 10 s, where AckWait would keep them 30 s.
	var again atomic.Int32
	stop2, err := natsx.Consume(ctx, js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "handback"},
		func(context.Context, jetstream.Msg) error { again.Add(1); return nil }, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	waitFor(t, "the five handled by the next consumer", func() bool { return again.Load() == 5 })
}

// DrainAndWait returns once the connection is closed, with what it had
// published delivered: a caller that stops the server next loses nothing.
func TestDrainAndWaitReturnsOnceEverythingIsFlushed(t *testing.T) {
	url, _ := testenv.NATS(t)
	recv, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	got := make(chan struct{}, 100)
	sub, err := recv.Subscribe("drain.test", func(*nats.Msg) { got <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := recv.Flush(); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if err := nc.Publish("drain.test", []byte("last words")); err != nil {
			t.Fatal(err)
		}
	}
	if err := natsx.DrainAndWait(nc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !nc.IsClosed() {
		t.Fatal("DrainAndWait returned before the connection was closed")
	}
	for i := range 50 {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of 50 messages published before the drain arrived", i)
		}
	}
	// An already closed connection answers an error, not a hang.
	if err := natsx.DrainAndWait(nc, time.Second); err == nil {
		t.Fatal("draining a closed connection answered no error")
	}
}
