package docstore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Each reads every aggregate matching filter with one query, in the order
// opts give, and passes them to fn in pages of at most size as the cursor
// delivers them (the driver fetches in batches): a long read (a client's
// export) costs one scan and holds one page in memory, not the whole
// result. An error from fn stops the read and is returned as is.
func (s *Store[T]) Each(ctx context.Context, filter any, size int, fn func([]T) error, opts ...options.Lister[options.FindOptions]) error {
	if size <= 0 {
		size = 100
	}
	cur, err := s.coll.Find(ctx, filter, append(opts, options.Find().SetBatchSize(int32(size)))...)
	if err != nil {
		return fmt.Errorf("find in %s: %w", s.coll.Name(), err)
	}
	defer cur.Close(ctx)
	page := make([]T, 0, size)
	for cur.Next(ctx) {
		var rec record[T]
		if err := s.decode(ctx, cur.Current, &rec); err != nil {
			return err
		}
		page = append(page, rec.Doc)
		if len(page) == size {
			if err := fn(page); err != nil {
				return err
			}
			page = make([]T, 0, size)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.coll.Name(), err)
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}
