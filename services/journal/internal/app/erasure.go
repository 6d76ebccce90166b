package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nocontact/backend/platform/erasure"
)

// ClientEraser deletes what the journal database holds of a client
// (adapters/mongodb.ClientData).
type ClientEraser interface {
	Delete(ctx context.Context, clientID string) (int64, error)
}

// Shredder destroys a client's keyset (fieldcrypt.Keyring).
type Shredder interface {
	Destroy(ctx context.Context, clientID string) error
	Forget(clientID string)
}

type erasureDeps struct {
	marks *erasure.Marks
	data  ClientEraser
	keys  Shredder
}

// WithErasure gives the journal its part of erasures: the markers, the
// deletion and the keysets.
func (j *Journal) WithErasure(marks *erasure.Marks, data ClientEraser, keys Shredder) *Journal {
	j.erasure = &erasureDeps{marks: marks, data: data, keys: keys}
	return j
}

// Erase is the journal's part of a client's erasure, when it consumes the
// request: the marker first (the risk consumer stops raising flags for the
// client), the keyset destroyed (every sealed text, backups included,
// becomes unreadable, and a late write is refused), the documents deleted,
// then the confirmation queued. Each step is idempotent, so a redelivery
// finishes what a crash left.
func (j *Journal) Erase(ctx context.Context, clientID, erasureID string, requested time.Time) error {
	if j.erasure == nil {
		return errors.New("erasure is not wired")
	}
	e := j.erasure
	if err := e.marks.Mark(ctx, clientID, erasureID, requested); err != nil {
		return err
	}
	if err := e.keys.Destroy(ctx, clientID); err != nil {
		return fmt.Errorf("destroy keyset: %w", err)
	}
	e.keys.Forget(clientID)
	if _, err := e.data.Delete(ctx, clientID); err != nil {
		return err
	}
	return e.marks.Confirm(ctx, clientID, storedNow(j.clk))
}

// guardErased runs create for clientID under the erasure marker
// (erasure.Marks.Guard): nothing for an erased client, and what raced the
// erasure deleted again. It answers erasure.ErrErased then.
func (j *Journal) guardErased(ctx context.Context, clientID string, create func() error) error {
	if j.erasure == nil {
		return create()
	}
	return j.erasure.marks.Guard(ctx, clientID, create, func(ctx context.Context, id string) error {
		_, err := j.erasure.data.Delete(ctx, id)
		return err
	})
}
