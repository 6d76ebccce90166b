package erasure

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ClientData deletes what a service's database holds of a client (each
// service's adapters/mongodb.ClientData), answering how many documents.
type ClientData interface {
	Delete(ctx context.Context, clientID string) (int64, error)
}

// Shredder destroys a client's keyset and drops it from this replica's
// cache (fieldcrypt.Keyring).
type Shredder interface {
	Destroy(ctx context.Context, clientID string) error
	Forget(clientID string)
}

// Part is one service's part of erasures: its markers, its deletion of a
// client's documents and its keysets (nil for a service that seals
// nothing).
type Part struct {
	Marks *Marks
	Data  ClientData
	Keys  Shredder
}

// Erase is the service's part of a client's erasure, when it consumes the
// request: the marker first (from then on no event makes anything for the
// client), the keyset destroyed (every sealed text, backups included,
// becomes unreadable, and a late write is refused), the documents
// deleted, then the confirmation queued at now. Each step is idempotent,
// so a redelivery finishes what a crash left.
func (p *Part) Erase(ctx context.Context, clientID, erasureID string, requested, now time.Time) error {
	if p == nil {
		return errors.New("erasure is not wired")
	}
	if err := p.Marks.Mark(ctx, clientID, erasureID, requested); err != nil {
		return err
	}
	if p.Keys != nil {
		if err := p.Keys.Destroy(ctx, clientID); err != nil {
			return fmt.Errorf("destroy keyset: %w", err)
		}
		p.Keys.Forget(clientID)
	}
	if _, err := p.Data.Delete(ctx, clientID); err != nil {
		return err
	}
	return p.Marks.Confirm(ctx, clientID, now)
}

// Guard runs create for clientID under the erasure marker (Marks.Guard):
// nothing for an erased client, and what raced the erasure is deleted
// again; it answers ErrErased then. Without a Part (erasure not wired) it
// runs create.
func (p *Part) Guard(ctx context.Context, clientID string, create func() error) error {
	if p == nil {
		return create()
	}
	return p.Marks.Guard(ctx, clientID, create, func(ctx context.Context, id string) error {
		_, err := p.Data.Delete(ctx, id)
		return err
	})
}

// Skip is Guard for work that an erased client's event should simply not
// do (an export part of a replayed request): erased answers true, with no
// error, instead of ErrErased.
func (p *Part) Skip(ctx context.Context, clientID string, create func() error) (erased bool, err error) {
	err = p.Guard(ctx, clientID, create)
	if errors.Is(err, ErrErased) {
		return true, nil
	}
	return false, err
}
