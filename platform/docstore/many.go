package docstore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/outbox"
)

// Draft is one aggregate to create with its first events (CreateMany).
type Draft[T any] struct {
	ID     string
	Doc    T
	Events []outbox.Message
}

// CreateMany inserts new aggregates, each with its own events, in one
// unordered insert command (the driver splits only beyond the server's
// batch limits): each document is still one single-document write that
// keeps its state and its events together. It is for records with fresh
// unique ids (an access log); an id already taken fails the call after the
// other documents were inserted.
func (s *Store[T]) CreateMany(ctx context.Context, docs []Draft[T]) error {
	if len(docs) == 0 {
		return nil
	}
	recs := make([]any, 0, len(docs))
	events := 0
	for _, d := range docs {
		rec := record[T]{ID: d.ID, Doc: d.Doc}
		rec.Version = 1
		if err := rec.Append(outbox.Traced(ctx, d.Events)...); err != nil {
			return fmt.Errorf("create %s/%s: %w", s.coll.Name(), d.ID, err)
		}
		w, err := s.sealed(ctx, d.ID, rec)
		if err != nil {
			return err
		}
		recs = append(recs, w)
		events += len(d.Events)
	}
	if _, err := s.coll.InsertMany(ctx, recs, options.InsertMany().SetOrdered(false)); err != nil {
		return fmt.Errorf("create %d in %s: %w", len(docs), s.coll.Name(), err)
	}
	s.kicked(events)
	return nil
}
