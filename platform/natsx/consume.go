package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"

	"github.com/nocontact/backend/platform/tracing"
)

// ErrPermanent marks a handler error that no retry can cure (a payload that
// does not decode, an unknown event version). Wrap it, e.g.
// fmt.Errorf("decode milestone: %w: %v", natsx.ErrPermanent, err), or use
// Permanent; Consume then dead-letters the message at once instead of
// redelivering it.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so that errors.Is(result, ErrPermanent) holds.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// The dead-letter stream collects, from every consumer of the suite, the
// messages that were given up on.
const (
	DeadLetterStream        = "DEADLETTER"
	DeadLetterSubjectPrefix = "deadletter."
)

// Headers added to a dead-lettered copy, so an operator can tell where it came
// from and replay it. The original headers are kept, except the Nats-* ones
// (they steer JetStream; the original Nats-Msg-Id moves to HeaderDLMsgID).
const (
	HeaderDLStream     = "Nocontact-Dl-Stream"
	HeaderDLSubject    = "Nocontact-Dl-Subject"
	HeaderDLSequence   = "Nocontact-Dl-Sequence"
	HeaderDLConsumer   = "Nocontact-Dl-Consumer"
	HeaderDLDeliveries = "Nocontact-Dl-Deliveries"
	HeaderDLReason     = "Nocontact-Dl-Reason"
	HeaderDLMsgID      = "Nocontact-Dl-Msg-Id"
)

// Defaults of ConsumerSpec.
const (
	DefaultMaxDeliver = 5
	DefaultAckWait    = 30 * time.Second
	DefaultRetryDelay = time.Second
	maxRetryDelay     = time.Minute
)

// bufferedMessages bounds how many messages the client pulls ahead of the
// handler. A message's AckWait starts when the server sends it, so a large
// buffer in front of a slow sequential handler would make buffered messages
// time out and come back as duplicates.
const bufferedMessages = 8

// maxReasonLen bounds the handler error copied into the dead letter; errors
// carry ids, not content, but a bound keeps a runaway message out of headers.
const maxReasonLen = 256

// ConsumerSpec describes a durable pull consumer.
type ConsumerSpec struct {
	// Stream to consume from, e.g. "PLANS".
	Stream string
	// Durable is the consumer name; replicas of a service share it and so
	// share the work.
	Durable string
	// FilterSubjects restricts the consumer to these subjects; empty means
	// every subject of the stream.
	FilterSubjects []string
	// AckWait is how long the server waits for an answer before redelivering
	// (DefaultAckWait when 0). It must exceed the slowest handler run.
	AckWait time.Duration
	// MaxDeliver is the number of handler attempts before a failing message is
	// dead-lettered (DefaultMaxDeliver when 0).
	MaxDeliver int
	// RetryDelay is the delay before the first redelivery after a transient
	// failure; it doubles with each attempt up to one minute
	// (DefaultRetryDelay when 0).
	RetryDelay time.Duration
	// DeadLetterReplicas is the replica count of the DEADLETTER stream the
	// consumer ensures (1 when 0); use the same as every other stream.
	DeadLetterReplicas int
	// DeadLetterLimits bound the DEADLETTER stream the consumer ensures
	// (DefaultDeadLetterLimits for a zero field); use the same in every
	// service.
	DeadLetterLimits StreamLimits
	// DeadLetterSubject receives messages given up on; it must be under
	// "deadletter." (default "deadletter.<Stream>.<Durable>").
	DeadLetterSubject string
	// Observe, when set, is called once per handled delivery with its
	// outcome (OutcomeOK, OutcomeRetry or OutcomeDeadLetter) and the
	// delivery count (above 1 for a redelivery), e.g. for metrics. It must
	// be cheap and must not block.
	Observe func(outcome string, delivered uint64)
	// Tracing records a consumer span per delivery, child of the trace
	// context in the message headers, and hands its context to the
	// handler. Nil records nothing but still hands on the trace context.
	Tracing *tracing.Provider
}

// Outcomes of a delivery, as reported to ConsumerSpec.Observe.
const (
	// OutcomeOK: the handler succeeded and the message was acked.
	OutcomeOK = "ok"
	// OutcomeRetry: the message was nakked for a later redelivery (a
	// transient failure, or a dead-letter publish that failed).
	OutcomeRetry = "retry"
	// OutcomeDeadLetter: the message was copied to the dead-letter subject
	// and terminated.
	OutcomeDeadLetter = "dead_letter"
)

func (s *ConsumerSpec) withDefaults() error {
	if s.Stream == "" || s.Durable == "" {
		return errors.New("consumer spec needs Stream and Durable")
	}
	if s.AckWait <= 0 {
		s.AckWait = DefaultAckWait
	}
	if s.MaxDeliver <= 0 {
		s.MaxDeliver = DefaultMaxDeliver
	}
	if s.RetryDelay <= 0 {
		s.RetryDelay = DefaultRetryDelay
	}
	if s.DeadLetterSubject == "" {
		s.DeadLetterSubject = DeadLetterSubjectPrefix + s.Stream + "." + s.Durable
	}
	if !strings.HasPrefix(s.DeadLetterSubject, DeadLetterSubjectPrefix) {
		return fmt.Errorf("dead-letter subject %q is not under %q", s.DeadLetterSubject, DeadLetterSubjectPrefix)
	}
	return nil
}

// Handler handles one message. It returns nil when the message's effect is
// done (the message is acked), an error wrapping ErrPermanent when the message
// can never be handled (dead-lettered at once), and any other error for a
// transient failure (redelivered later). Handlers must be idempotent: every
// message can arrive more than once.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// Consume ensures the durable consumer spec (explicit ack) and the dead-letter
// stream exist, then hands the consumer's messages one at a time to handler
// until stop is called or ctx is cancelled. ctx is also the context of every
// handler call.
//
//   - nil error: Ack.
//   - an error wrapping ErrPermanent: the message is copied to the dead-letter
//     subject, then terminated; consumption goes on with the next message.
//   - another error: NakWithDelay with exponential backoff; the attempt that
//     reaches MaxDeliver dead-letters and terminates instead.
//
// The server redelivers without limit; the bound lives here. A delivery
// beyond MaxDeliver (the last attempt never answered: the process crashed or
// the handler hung past AckWait) is dead-lettered without calling the handler
// again, so a message that kills its consumer is not lost silently. If the
// dead-letter publish fails the message is nakked and tried again, never
// dropped.
//
// stop stops fetching, waits for the handler in flight to return and its
// ack to be sent; it is safe to call more than once.
func Consume(ctx context.Context, js jetstream.JetStream, spec ConsumerSpec, handler Handler, log *slog.Logger) (stop func(), err error) {
	if err := spec.withDefaults(); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, errors.New("consume: nil handler")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("stream", spec.Stream, "consumer", spec.Durable)

	if _, err := EnsureStreamLimited(ctx, js, DeadLetterStream, []string{DeadLetterSubjectPrefix + ">"}, spec.DeadLetterReplicas, spec.DeadLetterLimits); err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, spec.Stream, jetstream.ConsumerConfig{
		Durable:        spec.Durable,
		FilterSubjects: spec.FilterSubjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        spec.AckWait,
		// The bound is enforced here, not by the server: a server-side
		// MaxDeliver would silently drop a message whose last attempt
		// crashed, or whose dead-letter publish failed.
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", spec.Durable, spec.Stream, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(bufferedMessages))
	if err != nil {
		return nil, fmt.Errorf("consume %s on %s: %w", spec.Durable, spec.Stream, err)
	}

	c := &consumer{js: js, spec: spec, handler: handler, log: log, stopped: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.loop(ctx, iter)
	}()

	var once sync.Once
	halt := func() {
		once.Do(func() {
			close(c.stopped)
			// Drain, not Stop: the messages already fetched into the
			// buffer still come out of Next, and the loop hands them back
			// (a nak without delay) instead of leaving them to wait out
			// AckWait on the server; then Next returns ErrMsgIteratorClosed.
			iter.Drain()
		})
	}
	// Cancelling ctx stops consumption too; stop still has to be called to
	// wait for the loop.
	unregister := context.AfterFunc(ctx, halt)
	return func() {
		unregister()
		halt()
		<-done
	}, nil
}

type consumer struct {
	js      jetstream.JetStream
	spec    ConsumerSpec
	handler Handler
	log     *slog.Logger
	stopped chan struct{}
}

// iteratorRetryPause spaces retries after an unexpected iterator error
// (e.g. missed heartbeats while NATS is unreachable).
const iteratorRetryPause = 200 * time.Millisecond

func (c *consumer) loop(ctx context.Context, iter jetstream.MessagesContext) {
	for {
		msg, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, nats.ErrConnectionClosed) {
				return
			}
			c.log.Warn("fetch messages", "err", err)
			select {
			case <-c.stopped:
				return
			case <-time.After(iteratorRetryPause):
			}
			continue
		}
		if c.stopping(ctx) {
			// Fetched but not started: another replica, or this one
			// restarted, gets it at once.
			if err := msg.Nak(); err != nil {
				c.log.Warn("hand back a message at stop", "err", err)
			}
			continue
		}
		c.handle(ctx, msg)
	}
}

// stopping reports whether the consumer was stopped or its context ended.
func (c *consumer) stopping(ctx context.Context) bool {
	select {
	case <-c.stopped:
		return true
	default:
		return ctx.Err() != nil
	}
}

func (c *consumer) handle(ctx context.Context, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery: nothing to ack or redeliver.
		c.log.Error("message without metadata", "subject", msg.Subject(), "err", err)
		return
	}
	log := c.log.With("subject", msg.Subject(), "seq", meta.Sequence.Stream, "delivered", meta.NumDelivered)

	// The handler runs in the trace of the call that recorded the event.
	ctx, span := c.spec.Tracing.StartProcess(tracing.ExtractHeader(ctx, msg.Headers()),
		msg.Subject(), c.spec.Durable, msg.Headers().Get(jetstream.MsgIDHeader), meta.NumDelivered)
	var handlerErr error
	outcome := OutcomeRetry
	defer func() {
		span.SetAttributes(attribute.String("nocontact.consumer.outcome", outcome))
		if handlerErr == nil && outcome != OutcomeOK {
			handlerErr = errors.New(outcome)
		}
		tracing.End(span, handlerErr)
		if c.spec.Observe != nil {
			c.spec.Observe(outcome, meta.NumDelivered)
		}
	}()

	if meta.NumDelivered > uint64(c.spec.MaxDeliver) {
		outcome = c.deadLetter(ctx, msg, meta, "no answer after last delivery (crash or AckWait exceeded)", log)
		return
	}

	err = c.callWithProgress(ctx, msg)
	handlerErr = err
	switch {
	case err == nil:
		outcome = OutcomeOK
		if err := msg.Ack(); err != nil {
			// The message comes back after AckWait; the handler is idempotent.
			log.Warn("ack failed", "err", err)
		}
	case errors.Is(err, ErrPermanent):
		outcome = c.deadLetter(ctx, msg, meta, err.Error(), log)
	case meta.NumDelivered >= uint64(c.spec.MaxDeliver):
		outcome = c.deadLetter(ctx, msg, meta, "max deliveries reached: "+err.Error(), log)
	case ctx.Err() != nil:
		// Stopped mid-handler (shutdown): hand the message back at once,
		// as one not yet started, rather than after a retry's backoff.
		if err := msg.Nak(); err != nil {
			log.Warn("nak failed", "err", err)
		}
	default:
		delay := c.retryDelay(meta.NumDelivered)
		log.WarnContext(ctx, "handler failed, will retry", "err", err, "retry_in", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("nak failed", "err", err)
		}
	}
}

// call runs the handler, turning a panic into a transient error: it is
// retried up to MaxDeliver and then dead-lettered, instead of killing every
// replica that receives the message in turn.
// callWithProgress runs the handler and, while it runs past a third of
// AckWait, tells the server it is still working (an in-progress ack), so
// slow work is not redelivered to another replica meanwhile.
func (c *consumer) callWithProgress(ctx context.Context, msg jetstream.Msg) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(c.spec.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if fault(ctx, BeforeInProgress, c.spec.Durable, msg) == nil {
					_ = msg.InProgress()
				}
			}
		}
	}()
	err := c.call(ctx, msg)
	_ = fault(ctx, AfterHandle, c.spec.Durable, msg)
	close(done)
	wg.Wait()
	return err
}

func (c *consumer) call(ctx context.Context, msg jetstream.Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	if err := fault(ctx, BeforeHandle, c.spec.Durable, msg); err != nil {
		return err
	}
	return c.handler(ctx, msg)
}

func (c *consumer) retryDelay(delivered uint64) time.Duration {
	d := c.spec.RetryDelay
	for i := uint64(1); i < delivered && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// deadLetter copies msg to the dead-letter subject and terminates it; it
// returns OutcomeDeadLetter, or OutcomeRetry when the copy failed and the
// message was nakked instead.
func (c *consumer) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, reason string, log *slog.Logger) string {
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	h := nats.Header{}
	for k, vs := range msg.Headers() {
		if k == jetstream.MsgIDHeader {
			h[HeaderDLMsgID] = vs
			continue
		}
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		h[k] = vs
	}
	h.Set(HeaderDLStream, meta.Stream)
	h.Set(HeaderDLSubject, msg.Subject())
	h.Set(HeaderDLSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
	h.Set(HeaderDLConsumer, meta.Consumer)
	h.Set(HeaderDLDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	h.Set(HeaderDLReason, reason)

	// The id makes a repeated dead-lettering of the same delivery (the Term
	// below got lost) a duplicate, while the same event dead-lettered by two
	// different consumers stays two entries.
	dlID := "dl:" + meta.Stream + ":" + meta.Consumer + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	_, err := c.js.PublishMsg(context.WithoutCancel(ctx), &nats.Msg{
		Subject: c.spec.DeadLetterSubject,
		Header:  h,
		Data:    msg.Data(),
	}, jetstream.WithMsgID(dlID))
	if err != nil {
		delay := c.retryDelay(meta.NumDelivered)
		log.ErrorContext(ctx, "dead-letter publish failed, message kept", "reason", reason, "err", err, "retry_in", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("nak failed", "err", err)
		}
		return OutcomeRetry
	}
	log.WarnContext(ctx, "message dead-lettered", "reason", reason, "dead_letter_subject", c.spec.DeadLetterSubject)
	if err := msg.TermWithReason("dead-lettered"); err != nil {
		log.Warn("term failed", "err", err)
	}
	return OutcomeDeadLetter
}
