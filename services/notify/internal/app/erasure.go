package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/services/notify/internal/inbox"
)

// ClientEraser deletes what the notify database holds of a client
// (adapters/mongodb.ClientData).
type ClientEraser interface {
	Delete(ctx context.Context, clientID string) (int64, error)
}

// Shredder destroys a client's keyset (fieldcrypt.Keyring), for the fields
// notify seals; nil while it seals none.
type Shredder interface {
	Destroy(ctx context.Context, clientID string) error
	Forget(clientID string)
}

type erasureDeps struct {
	marks *erasure.Marks
	data  ClientEraser
	keys  Shredder
}

// WithErasure gives notify its part of erasures; keys may be nil.
func (n *Notify) WithErasure(marks *erasure.Marks, data ClientEraser, keys Shredder) *Notify {
	n.erasure = &erasureDeps{marks: marks, data: data, keys: keys}
	return n
}

// HandleEvent is the consumers' entry: an erasure request erases the
// client here; any other event is handled (Handle) unless its client was
// erased, in which case it is acked and dropped, and what it made while
// the erasure raced it is deleted again (erasure.Marks.Guard).
func (n *Notify) HandleEvent(ctx context.Context, env *eventsv1.Envelope, seq int64) error {
	if p, ok := env.GetPayload().(*eventsv1.Envelope_ErasureRequested); ok {
		if env.GetClientId() == "" {
			return nil
		}
		return n.Erase(ctx, env.GetClientId(), p.ErasureRequested.GetErasureId(), p.ErasureRequested.GetRequestTime().AsTime())
	}
	if n.erasure == nil || env.GetClientId() == "" {
		return n.Handle(ctx, env, seq)
	}
	err := n.guardErased(ctx, env.GetClientId(), func() error { return n.Handle(ctx, env, seq) })
	if errors.Is(err, erasure.ErrErased) {
		return nil
	}
	return err
}

// Erase is notify's part of a client's erasure: the marker first (no
// event makes anything for the client from then on), the keyset destroyed
// when notify seals, the documents deleted, then the confirmation queued.
// Idempotent: a redelivery finishes what a crash left.
func (n *Notify) Erase(ctx context.Context, clientID, erasureID string, requested time.Time) error {
	if n.erasure == nil {
		return errors.New("erasure is not wired")
	}
	e := n.erasure
	if err := e.marks.Mark(ctx, clientID, erasureID, requested); err != nil {
		return err
	}
	if e.keys != nil {
		if err := e.keys.Destroy(ctx, clientID); err != nil {
			return fmt.Errorf("destroy keyset: %w", err)
		}
		e.keys.Forget(clientID)
	}
	if _, err := e.data.Delete(ctx, clientID); err != nil {
		return err
	}
	return e.marks.Confirm(ctx, clientID, n.now())
}

// guardErased runs create for userID under the erasure marker (nothing
// for an erased client; a create that raced the erasure is deleted
// again). It answers erasure.ErrErased then.
func (n *Notify) guardErased(ctx context.Context, userID string, create func() error) error {
	if n.erasure == nil {
		return create()
	}
	return n.erasure.marks.Guard(ctx, userID, create, func(ctx context.Context, id string) error {
		_, err := n.erasure.data.Delete(ctx, id)
		return err
	})
}

// changePreferences is changePreferencesNow under the erasure marker: an
// erased user's preferences are never written again.
func (n *Notify) changePreferences(ctx context.Context, userID, tz string, fn func(*inbox.Preferences) error) (inbox.Preferences, error) {
	var out inbox.Preferences
	err := n.guardErased(ctx, userID, func() error {
		var err error
		out, err = n.changePreferencesNow(ctx, userID, tz, fn)
		return err
	})
	return out, err
}
