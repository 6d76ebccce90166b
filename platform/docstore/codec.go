package docstore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Codec transforms a stored document on its way to and from the database:
// field encryption (platform/sealcodec) seals free-text fields in Seal and
// opens them in Open. Both work on the whole stored form (the aggregate's fields
// beside _id, version and the outbox), so the aggregate type keeps its
// plain fields and never sees a ciphertext. id is the document's _id.
// Open answers the whole document or an error, never part of it.
type Codec interface {
	Seal(ctx context.Context, id string, doc bson.D) (bson.D, error)
	Open(ctx context.Context, id string, doc bson.D) (bson.D, error)
}

// WithCodec returns s with every write passed through c.Seal and every read
// of an aggregate through c.Open (Get, Find, CreateOnce's stored answer,
// Update's read and write, Create, CreateMany). Queries that filter on a
// sealed field see only ciphertext: filter on plain fields only.
func (s *Store[T]) WithCodec(c Codec) *Store[T] {
	out := *s
	out.codec = c
	return &out
}

// sealed is the form of rec to write.
func (s *Store[T]) sealed(ctx context.Context, id string, rec any) (any, error) {
	if s.codec == nil {
		return rec, nil
	}
	raw, err := bson.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode %s/%s: %w", s.coll.Name(), id, err)
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("encode %s/%s: %w", s.coll.Name(), id, err)
	}
	return s.codec.Seal(ctx, id, d)
}

// opened is raw with its sealed fields opened.
func (s *Store[T]) opened(ctx context.Context, raw bson.Raw) (bson.Raw, error) {
	if s.codec == nil {
		return raw, nil
	}
	id, _ := raw.Lookup("_id").StringValueOK()
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", s.coll.Name(), id, err)
	}
	d, err := s.codec.Open(ctx, id, d)
	if err != nil {
		return nil, err
	}
	out, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", s.coll.Name(), id, err)
	}
	return out, nil
}

// decode opens raw and decodes it into rec.
func (s *Store[T]) decode(ctx context.Context, raw bson.Raw, rec *record[T]) error {
	raw, err := s.opened(ctx, raw)
	if err != nil {
		return err
	}
	if err := bson.Unmarshal(raw, rec); err != nil {
		id, _ := raw.Lookup("_id").StringValueOK()
		return errors.Join(fmt.Errorf("decode %s/%s", s.coll.Name(), id), err)
	}
	return nil
}
