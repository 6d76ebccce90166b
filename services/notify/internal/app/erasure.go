package app

import (
	"context"
	"time"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/services/notify/internal/inbox"
)

// WithErasure gives notify its part of erasures: the markers, the
// deletion of a user's documents (adapters/mongodb.ClientData) and the
// keysets of the secrets it seals (fieldcrypt.Keyring).
func (n *Notify) WithErasure(marks *erasure.Marks, data erasure.ClientData, keys erasure.Shredder) *Notify {
	n.erasure = &erasure.Part{Marks: marks, Data: data, Keys: keys}
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
	_, err := n.erasure.Skip(ctx, env.GetClientId(), func() error { return n.Handle(ctx, env, seq) })
	return err
}

// Erase is notify's part of a client's erasure (erasure.Part.Erase).
func (n *Notify) Erase(ctx context.Context, clientID, erasureID string, requested time.Time) error {
	return n.erasure.Erase(ctx, clientID, erasureID, requested, n.now())
}

// changePreferences is changePreferencesNow under the erasure marker: an
// erased user's preferences are never written again.
func (n *Notify) changePreferences(ctx context.Context, userID, tz string, fn func(*inbox.Preferences) error) (inbox.Preferences, error) {
	var out inbox.Preferences
	err := n.erasure.Guard(ctx, userID, func() error {
		var err error
		out, err = n.changePreferencesNow(ctx, userID, tz, fn)
		return err
	})
	return out, err
}
