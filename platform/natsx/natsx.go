// Package natsx connects to NATS JetStream and sets up what the suite's event
// flow needs: one file-backed stream per producing service with a one-hour
// duplicate window (so an outbox republish is dropped by JetStream), and
// durable pull consumers with explicit ack, bounded redelivery and a
// dead-letter stream for messages that can never be handled.
package natsx

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id on the
// suite's streams. The outbox relay may republish an event after a crash or a
// lost race; any republish within this window is dropped by the server, and
// consumers are idempotent for the rest.
const DuplicateWindow = time.Hour

// reconnectWait spaces reconnect attempts; short, because a service without
// NATS cannot publish or consume anything.
const reconnectWait = time.Second

// Connect opens a connection named name (shown in the server's monitoring)
// and a JetStream context on it. The connection reconnects forever, and every
// disconnect, reconnect and asynchronous error is logged, so an outage is
// visible in the logs without killing the process. The initial connect is not
// retried: a service that cannot reach NATS at start-up should fail its
// start-up (and be restarted) rather than report ready.
//
// The caller closes (or better, drains) the connection at shutdown.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("nats_connection", name)
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			} else {
				log.Info("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats async error", "subject", subject, "err", err)
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("nats connect %s: %w", name, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream context: %w", err)
	}
	return nc, js, nil
}

// StreamLimits bound how long and how much a stream keeps.
type StreamLimits struct {
	// MaxAge is how long a message is kept (at least DuplicateWindow).
	MaxAge time.Duration
	// MaxBytes bounds the stream's size.
	MaxBytes int64
}

// Defaults of the limits, the same as config.NATS's: a stream ensured
// without limits of its own (tests, tools) is bounded too, never kept
// forever.
var (
	DefaultStreamLimits     = StreamLimits{MaxAge: 30 * 24 * time.Hour, MaxBytes: 1 << 30}
	DefaultDeadLetterLimits = StreamLimits{MaxAge: 7 * 24 * time.Hour, MaxBytes: 256 << 20}
)

func (l StreamLimits) orDefault(def StreamLimits) StreamLimits {
	if l.MaxAge <= 0 {
		l.MaxAge = def.MaxAge
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = def.MaxBytes
	}
	return l
}

// EnsureStream creates the stream name on subjects, or updates it to this
// configuration: file storage (events survive a server restart), the
// DuplicateWindow and DefaultStreamLimits. It is idempotent, so every
// replica calls it at start-up.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name string, subjects []string) (jetstream.Stream, error) {
	return EnsureStreamReplicated(ctx, js, name, subjects, 1)
}

// EnsureStreamReplicated is EnsureStream with replicas copies of every
// message across a NATS cluster (3 in production; 1 on a single server).
// Every service that ensures a stream must pass the same number, or each
// start would undo the other's setting.
func EnsureStreamReplicated(ctx context.Context, js jetstream.JetStream, name string, subjects []string, replicas int) (jetstream.Stream, error) {
	return EnsureStreamLimited(ctx, js, name, subjects, replicas, StreamLimits{})
}

// EnsureStreamLimited is EnsureStreamReplicated with the given limits (a
// zero field takes the default: DefaultDeadLetterLimits for the
// DeadLetterStream, DefaultStreamLimits for any other). An event stream
// that is full refuses new messages (DiscardNew): they wait in the
// producers' outboxes, and no unconsumed event is dropped. The dead-letter
// stream drops its oldest instead (DiscardOld): its messages are for
// diagnosis, and a flood of new ones must still be kept.
func EnsureStreamLimited(ctx context.Context, js jetstream.JetStream, name string, subjects []string, replicas int, limits StreamLimits) (jetstream.Stream, error) {
	if replicas < 1 {
		replicas = 1
	}
	discard, def := jetstream.DiscardNew, DefaultStreamLimits
	if name == DeadLetterStream {
		discard, def = jetstream.DiscardOld, DefaultDeadLetterLimits
	}
	limits = limits.orDefault(def)
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       name,
		Subjects:   subjects,
		Storage:    jetstream.FileStorage,
		Duplicates: DuplicateWindow,
		Replicas:   replicas,
		MaxAge:     limits.MaxAge,
		MaxBytes:   limits.MaxBytes,
		Discard:    discard,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", name, err)
	}
	return s, nil
}

// DrainAndWait drains nc (subscriptions finish what they hold, and every
// buffered publish and ack is flushed to the server) and waits until the
// connection is closed, or closes it after timeout. nats.Conn.Drain alone
// returns at once: a process, or a devstack that stops its embedded
// server next, could then lose the last acks, and the server would hand
// those messages out again only after AckWait.
func DrainAndWait(nc *nats.Conn, timeout time.Duration) error {
	closed := make(chan struct{})
	var once sync.Once
	nc.SetClosedHandler(func(*nats.Conn) { once.Do(func() { close(closed) }) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("nats drain: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-closed:
		return nil
	case <-t.C:
		nc.Close()
		return fmt.Errorf("nats drain did not finish within %s: closed", timeout)
	}
}
