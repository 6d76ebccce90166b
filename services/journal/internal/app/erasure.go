package app

import (
	"context"
	"time"

	"github.com/nocontact/backend/platform/erasure"
)

// WithErasure gives the journal its part of erasures: the markers, the
// deletion of a client's documents (adapters/mongodb.ClientData) and the
// keysets (fieldcrypt.Keyring).
func (j *Journal) WithErasure(marks *erasure.Marks, data erasure.ClientData, keys erasure.Shredder) *Journal {
	j.erasure = &erasure.Part{Marks: marks, Data: data, Keys: keys}
	return j
}

// Erase is the journal's part of a client's erasure, when it consumes the
// request: the marker first (the risk consumer stops raising flags for the
// client), the keyset destroyed (every sealed text, backups included,
// becomes unreadable, and a late write is refused), the documents deleted,
// then the confirmation queued. Each step is idempotent, so a redelivery
// finishes what a crash left.
func (j *Journal) Erase(ctx context.Context, clientID, erasureID string, requested time.Time) error {
	return j.erasure.Erase(ctx, clientID, erasureID, requested, storedNow(j.clk))
}
