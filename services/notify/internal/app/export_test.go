package app

import (
	"context"

	"github.com/nocontact/backend/services/notify/internal/inbox"
)

// StoreDeliveredForTest stores notes as delivered (each with the
// DeliveredAt it carries, as the replica that stamped it would) in one
// write, then sends the live-feed signal for the last one, as a replica
// does after its write. It lets a test put thousands of notifications on a
// feed, or land them out of stamp order, without thousands of events.
func (n *Notify) StoreDeliveredForTest(ctx context.Context, notes []inbox.Notification) error {
	docs := make([]any, len(notes))
	for i, note := range notes {
		note.Delivered = true
		docs[i] = stored{ID: note.ID, Notification: note}
	}
	if _, err := n.notes.InsertMany(ctx, docs); err != nil {
		return err
	}
	last := notes[len(notes)-1]
	n.announce(last.UserID, last.ID)
	return nil
}

// StoreHeldForTest stores notes as held (not delivered yet), in one write.
func (n *Notify) StoreHeldForTest(ctx context.Context, notes []inbox.Notification) error {
	docs := make([]any, len(notes))
	for i, note := range notes {
		note.Delivered, note.DeliveredAt = false, nil
		docs[i] = stored{ID: note.ID, Notification: note}
	}
	_, err := n.notes.InsertMany(ctx, docs)
	return err
}
