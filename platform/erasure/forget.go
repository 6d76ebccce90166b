package erasure

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nocontact/backend/platform/events"
)

// ForgetEverywhere runs on every replica of a service that caches keysets,
// until ctx is done: each confirmation of the service's erasure (published
// after the keyset was destroyed) makes this replica drop the client's
// cached keys at once (forget, fieldcrypt.Keyring.Forget), instead of
// when the cache entry expires. It reads the service's stream with an
// ordered consumer from new messages on, so that every replica gets every
// confirmation (a durable consumer would hand each to one replica).
// A replica that starts later has no keys cached from before.
func ForgetEverywhere(js jetstream.JetStream, stream, service string, forget func(clientID string), log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		for ctx.Err() == nil {
			if err := forgetUntilDone(ctx, js, stream, service, forget); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "forgetting erased clients' keys: retrying", "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}
}

func forgetUntilDone(ctx context.Context, js jetstream.JetStream, stream, service string, forget func(string)) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ConfirmedSubject(service)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		if env, err := events.Decode(msg.Data()); err == nil && env.GetClientId() != "" {
			forget(env.GetClientId())
		}
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	return nil
}
