package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/tracing"
)

// Defaults of Options.
const (
	DefaultInterval  = 500 * time.Millisecond
	DefaultBatchSize = 100
	// maxBackoff caps the wait between passes while publishing fails.
	maxBackoff = 30 * time.Second
)

// Options tune a Relay.
type Options struct {
	// Interval between polls when nothing woke the relay (DefaultInterval
	// when 0). Kick makes a write's events go out without waiting for it.
	Interval time.Duration
	// IdleInterval, when longer than Interval, is how far the poll period
	// grows while passes find nothing pending: it doubles from Interval
	// after each empty pass up to IdleInterval, and falls back to Interval
	// as soon as a pass finds a pending document. Every write of this
	// replica kicks the relay, so the poll only catches what a kick missed
	// (another process stopped between its write and its publish); on a
	// store that scans for the pending documents (FerretDB) an idle
	// service then polls rarely. 0 keeps the period at Interval.
	IdleInterval time.Duration
	// BatchSize bounds the documents read per collection per pass
	// (DefaultBatchSize when 0), so one pass holds bounded memory.
	BatchSize int
	// Observe, when set, is called after every pass (Run's and Flush's)
	// with the pending documents the pass found (at most BatchSize per
	// collection), the age of the oldest event among them (0 when none)
	// and how many messages it published, e.g. for metrics. It must be
	// cheap and must not block.
	Observe func(pending int, oldest time.Duration, published int)
	// Tracing records a producer span per publish, child of the trace
	// stored with the event, and sends its context in the message
	// headers. Nil records nothing but still forwards the stored context.
	Tracing *tracing.Provider
}

// Relay publishes the outbox messages of aggregate documents to JetStream.
// Several relays (one per replica) may run on the same collections: they
// publish the same messages at worst twice, and the version check lets only
// one of them clear a document.
type Relay struct {
	js    jetstream.JetStream
	log   *slog.Logger
	opts  Options
	colls []*mongo.Collection
	kick  chan struct{}
	// passMu keeps Flush and Run of one relay from working the same
	// documents at the same time, which would only waste publishes.
	passMu sync.Mutex
}

// NewRelay returns a relay over the given aggregate collections. Call Run to
// start it.
func NewRelay(js jetstream.JetStream, log *slog.Logger, opts Options, collections ...*mongo.Collection) *Relay {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if log == nil {
		log = slog.Default()
	}
	return &Relay{
		js:    js,
		log:   log.With("component", "outbox_relay"),
		opts:  opts,
		colls: collections,
		kick:  make(chan struct{}, 1),
	}
}

// Kick asks the relay to run a pass now instead of at the next interval. It
// never blocks; kicks that arrive while a pass is due are merged. Kicks are
// ignored while the relay backs off after a failure.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run runs passes until ctx is cancelled, then returns nil. A pass that finds
// a full batch is followed at once by the next one; a failing pass is logged
// and retried with exponential backoff (from Interval up to 30 s). Pending
// messages are never dropped.
func (r *Relay) Run(ctx context.Context) error {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     r.opts.Interval,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          2,
		MaxInterval:         maxBackoff,
	}
	b.Reset()

	timer := time.NewTimer(0)
	defer timer.Stop()
	kick := r.kick
	idle := time.Duration(0) // the poll period after the last pass; 0 before the first
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-kick:
		}
		n, pending, more, err := r.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		next := r.opts.Interval
		kick = r.kick
		switch {
		case err != nil:
			next = b.NextBackOff()
			kick = nil // a kick cannot cure an outage; don't hammer the servers
			r.log.Warn("outbox pass failed, retrying", "err", err, "published", n, "retry_in", next)
		case more:
			b.Reset()
			next = 0
		default:
			b.Reset()
			idle = idleNext(idle, pending > 0, r.opts.Interval, r.opts.IdleInterval)
			next = idle
		}
		timer.Reset(next)
	}
}

// Flush runs one pass over every collection: for each pending document (at
// most BatchSize per collection) it publishes the messages in seq order and
// clears them. It returns how many messages JetStream acknowledged
// (duplicates included) and the errors met; a document that could not be
// published or cleared stays pending for the next pass.
func (r *Relay) Flush(ctx context.Context) (published int, err error) {
	n, _, _, err := r.pass(ctx)
	return n, err
}

// idleNext is the poll period after a pass that succeeded without a full
// batch: Interval when the pass found pending documents (or growth is off),
// else the previous period doubled, from Interval up to IdleInterval.
func idleNext(prev time.Duration, found bool, interval, idleMax time.Duration) time.Duration {
	if found || idleMax <= interval || prev < interval {
		return interval
	}
	return min(prev*2, idleMax)
}

// pass is Flush that also reports how many pending documents it found and
// whether a collection returned a full batch, i.e. more may be pending.
func (r *Relay) pass(ctx context.Context) (published, pending int, more bool, err error) {
	r.passMu.Lock()
	defer r.passMu.Unlock()

	var (
		errs   []error
		oldest time.Time
	)
	for _, coll := range r.colls {
		n, docs, first, full, err := r.passCollection(ctx, coll)
		published += n
		pending += docs
		if !first.IsZero() && (oldest.IsZero() || first.Before(oldest)) {
			oldest = first
		}
		more = more || full
		if err != nil {
			errs = append(errs, err)
		}
	}
	if r.opts.Observe != nil {
		var age time.Duration
		if !oldest.IsZero() {
			age = max(time.Since(oldest), 0)
		}
		r.opts.Observe(pending, age, published)
	}
	return published, pending, more, errors.Join(errs...)
}

// pendingDoc is the part of an aggregate document the relay reads. _id stays
// raw so any id type (string, ObjectID) round-trips into the update filter.
type pendingDoc struct {
	ID      bson.RawValue      `bson:"_id"`
	Version *int64             `bson:"version"`
	Outbox  map[string]Message `bson:"outbox"`
}

// passCollection also reports how many pending documents it read and the
// create time of the oldest message among them (zero when none).
func (r *Relay) passCollection(ctx context.Context, coll *mongo.Collection) (published, pending int, oldest time.Time, full bool, err error) {
	cur, err := coll.Find(ctx,
		bson.D{{Key: FieldPending, Value: true}},
		options.Find().
			SetLimit(int64(r.opts.BatchSize)).
			SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: FieldVersion, Value: 1}, {Key: FieldOutbox, Value: 1}}),
	)
	if err != nil {
		return 0, 0, time.Time{}, false, fmt.Errorf("find pending in %s: %w", coll.Name(), err)
	}
	var docs []pendingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, 0, time.Time{}, false, fmt.Errorf("read pending in %s: %w", coll.Name(), err)
	}
	for _, d := range docs {
		for _, m := range d.Outbox {
			if !m.CreateTime.IsZero() && (oldest.IsZero() || m.CreateTime.Before(oldest)) {
				oldest = m.CreateTime
			}
		}
	}

	var errs []error
	for _, d := range docs {
		n, err := r.relayDoc(ctx, coll, d)
		published += n
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return published, len(docs), oldest, len(docs) == r.opts.BatchSize, errors.Join(errs...)
}

// relayDoc publishes one document's messages in seq order and clears them.
// It stops at the first failed publish, so a later message never overtakes an
// earlier one of the same document.
func (r *Relay) relayDoc(ctx context.Context, coll *mongo.Collection, d pendingDoc) (int, error) {
	msgs := make([]Message, 0, len(d.Outbox))
	for key, m := range d.Outbox {
		m.ID = key // the key is what gets unset; trust it over the copy inside
		msgs = append(msgs, m)
	}
	slices.SortFunc(msgs, func(a, b Message) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.ID, b.ID))
	})

	unset := bson.D{}
	for _, m := range msgs {
		if err := fault(ctx, BeforePublish, m); err != nil {
			return len(unset), fmt.Errorf("publish %s from %s: %w", m.ID, coll.Name(), err)
		}
		if err := r.publish(ctx, m); err != nil {
			return len(unset), fmt.Errorf("publish %s from %s: %w", m.ID, coll.Name(), err)
		}
		unset = append(unset, bson.E{Key: FieldOutbox + "." + m.ID, Value: ""})
		if err := fault(ctx, BeforeMarkSent, m); err != nil {
			return len(unset), fmt.Errorf("mark sent %s in %s: %w", m.ID, coll.Name(), err)
		}
	}

	filter := bson.D{{Key: "_id", Value: d.ID}}
	if d.Version != nil {
		filter = append(filter, bson.E{Key: FieldVersion, Value: *d.Version})
	} else {
		filter = append(filter, bson.E{Key: FieldVersion, Value: bson.D{{Key: "$exists", Value: false}}})
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: FieldPending, Value: false}}},
		{Key: "$inc", Value: bson.D{{Key: FieldVersion, Value: int64(1)}}},
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	res, err := coll.UpdateOne(ctx, filter, update)
	if err != nil {
		return len(msgs), fmt.Errorf("mark sent in %s: %w", coll.Name(), err)
	}
	if res.MatchedCount == 0 {
		// The document changed after it was read: its state (and maybe its
		// outbox) is newer than what was published. The next pass reads it
		// again and republishes, which JetStream de-duplicates.
		r.log.Debug("outbox document changed while publishing, left for next pass", "collection", coll.Name())
	}
	return len(msgs), nil
}

func (r *Relay) publish(ctx context.Context, m Message) (err error) {
	ctx, span := r.opts.Tracing.StartPublish(tracing.Extract(ctx, m.Trace), m.Subject, m.ID)
	defer func() { tracing.End(span, err) }()
	msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
	msg.Header.Set(HeaderEventID, m.ID)
	tracing.InjectHeader(ctx, msg.Header)
	ack, err := r.js.PublishMsg(ctx, msg, jetstream.WithMsgID(m.ID))
	if err != nil {
		return err
	}
	if ack.Duplicate {
		r.log.Debug("outbox message already in stream", "event_id", m.ID, "stream", ack.Stream)
	}
	return nil
}
