package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/platform/outbox"
)

// RequestKey is a create's AIP-155 idempotency key (idempotency.Key).
type RequestKey = idempotency.Key

// recordID is a new record's id: random without a key, derived from the
// client and the key with one, so that a retry, or a replica racing the
// same request, lands on the same document.
func recordID(prefix, clientID string, key RequestKey) string {
	if key.ID == "" {
		return uuid.NewString()
	}
	return idempotency.ID(prefix, clientID, key.ID)
}

// createOnce stores a new record with its event. Under a key it answers
// the stored record when the same request already created it (retried, or
// by another replica that won the insert: the unique _id decides) and
// idempotency.ErrReused when another request did.
func createOnce[T any](ctx context.Context, j *Journal, st *docstore.Store[T], id string, key RequestKey, doc T, ev outbox.Message) (T, error) {
	if key.ID == "" {
		return doc, st.Create(ctx, id, doc, ev)
	}
	if j.beforeCreate != nil {
		j.beforeCreate(id)
	}
	stored, _, err := st.CreateOnce(ctx, id, key.Hash, doc, ev)
	return stored, err
}
