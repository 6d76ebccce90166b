// Package exportpart is a service's side of a client's export (GDPR Art.
// 20, issue 13): on plans.export.requested the service counts what it holds
// of the client in its own store and records its part (counts only, no
// copy of the data) with the ExportPartReady event in the part's outbox;
// the client then reads the part over gRPC, paged from the service's own
// stores through its adapters and codecs (so sealed text is opened with the
// service's keyring), until the export expires.
//
// The part's document id is the export id: a redelivered ExportRequested
// finds it and builds nothing (one part, one ExportPartReady per service).
package exportpart

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/retention"
)

// Collection is where each service keeps its export parts (in its own
// database).
const Collection = "export_parts"

// RequestedSubject is the subject of ExportRequested (plans publishes it).
const RequestedSubject = "plans.export.requested"

// ReadySubject is the subject of a service's ExportPartReady.
func ReadySubject(service string) string { return service + ".export.part_ready" }

// PageSize is the most records one streamed message carries. Records of a
// few kilobytes at most (a check-in with its 2,000-character note) stay far
// below gRPC's default 4 MB message limit at this size; larger records page
// smaller (LargePageSize).
const PageSize = 100

// LargePageSize is the page of records up to 80 KB each (a journal entry:
// 20,000 characters of body, up to 4 bytes each in UTF-8, and a title):
// 40 of them are at most 3.3 MB, under gRPC's 4 MB.
const LargePageSize = 40

// Part is one service's part of one export.
type Part struct {
	ClientID string `bson:"client_id"`
	Service  string `bson:"service"`
	// Counts are the records counted when the part was built, by file
	// name without ".json".
	Counts     map[string]int32 `bson:"counts"`
	BuildTime  time.Time        `bson:"build_time"`
	ExpireTime time.Time        `bson:"expire_time"`
}

// Indexes are the part collection's indexes: its outbox, and the expiry
// sweep (parts are read by _id).
func Indexes() map[string][]mongo.IndexModel {
	return map[string][]mongo.IndexModel{Collection: append(outbox.IndexModels(), ExpiryIndex())}
}

// ExpiryIndex is the index of the expiry sweep, on expire_time.
func ExpiryIndex() mongo.IndexModel {
	return mongo.IndexModel{Keys: bson.D{{Key: "expire_time", Value: 1}}, Options: options.Index().SetName("expire_time")}
}

// ExpiredKind names the retention job that deletes expired exports.
const ExpiredKind = "expired_exports"

// ExpiredGrace is how long after its expire time an export's documents are
// deleted (nothing is served from expire time on; the grace only keeps a
// download that began just before from losing its part).
const ExpiredGrace = time.Hour

// RetentionKind is the retention sweep of expired export documents in
// colls (each with an expire_time): run as one platform/jobs job per
// service (platform/retention).
func RetentionKind(colls ...*mongo.Collection) retention.Kind {
	return retention.Kind{Name: ExpiredKind, Period: ExpiredGrace, Sweep: func(ctx context.Context, cutoff time.Time, limit int) (int, error) {
		total := 0
		for _, c := range colls {
			n, err := retention.DeleteBatch(ctx, c, bson.D{{Key: "expire_time", Value: bson.D{{Key: "$lt", Value: cutoff}}}}, limit-total)
			total += n
			if err != nil || total >= limit {
				return total, err
			}
		}
		return total, nil
	}}
}

// exportID is the charset of export ids plans hands out: an id that is
// also an outbox event id (no "." or "$").
var exportID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Builder builds and serves one service's parts.
type Builder struct {
	service string
	parts   *docstore.Store[Part]
	clk     clock.Clock
	count   func(ctx context.Context, clientID string) (map[string]int32, error)
	// guard, when set, runs the part's insert for a client under the
	// service's erasure check (see WithGuard).
	guard func(ctx context.Context, clientID string, create func() error) (skipped bool, err error)
	// beforeCreate, set by tests only, runs between the count and the
	// part's insert.
	beforeCreate func(exportID string)
}

// NewBuilder returns the builder of service's parts, kept in parts (with
// the service's relay kick), counting with count.
func NewBuilder(service string, parts *docstore.Store[Part], clk clock.Clock, count func(ctx context.Context, clientID string) (map[string]int32, error)) *Builder {
	return &Builder{service: service, parts: parts, clk: clk, count: count}
}

// WithGuard makes every part's insert run through guard, which answers
// skipped=true (and no error) when the client is erased: before the insert
// (nothing is built), or meanwhile (guard deletes what was inserted). A
// replayed request of an erased client then builds nothing, under any
// interleaving with the erasure (erasure.Marks.Guard's two checks).
func (b *Builder) WithGuard(guard func(ctx context.Context, clientID string, create func() error) (skipped bool, err error)) *Builder {
	b.guard = guard
	return b
}

// Handle builds the part an ExportRequested asks for; other events are
// ignored. It is idempotent: the part's id is the export id and its
// ExportPartReady is stored by the same insert, so a redelivery, or two
// replicas handling the same request, build one part and publish one
// event (the insert that loses meets the unique _id and does nothing).
// A request that expired while the service was down builds nothing.
func (b *Builder) Handle(ctx context.Context, env *eventsv1.Envelope) error {
	req := env.GetExportRequested()
	if req == nil {
		return nil
	}
	id, clientID := req.GetExportId(), env.GetClientId()
	if !exportID.MatchString(id) || clientID == "" {
		return natsx.Permanent(fmt.Errorf("export request %q without a valid id or client", id))
	}
	if _, _, err := b.parts.Get(ctx, id); err == nil {
		return nil
	} else if !errors.Is(err, docstore.ErrNotFound) {
		return err
	}
	now := b.clk.Now().UTC().Truncate(time.Millisecond)
	expire := req.GetExpireTime().AsTime()
	if !now.Before(expire) {
		return nil
	}
	counts, err := b.count(ctx, clientID)
	if err != nil {
		return fmt.Errorf("count export %s of %s: %w", id, b.service, err)
	}
	ev, err := events.New(events.Meta{
		ID: "xpr-" + b.service + "-" + id, Subject: ReadySubject(b.service), Producer: b.service,
		ClientID: clientID, CorrelationID: env.GetCorrelationId(), OccurredAt: now,
	}, &eventsv1.Envelope{Payload: &eventsv1.Envelope_ExportPartReady{ExportPartReady: &eventsv1.ExportPartReady{
		ExportId: id, Service: b.service, Counts: counts,
	}}})
	if err != nil {
		return err
	}
	if b.beforeCreate != nil {
		b.beforeCreate(id)
	}
	create := func() error {
		err := b.parts.Create(ctx, id, Part{ClientID: clientID, Service: b.service, Counts: counts, BuildTime: now, ExpireTime: expire}, ev)
		if errors.Is(err, docstore.ErrExists) {
			return nil
		}
		return err
	}
	if b.guard == nil {
		return create()
	}
	_, err = b.guard(ctx, clientID, create)
	return err
}

// DeleteParts removes every part of the client's in parts (an erasure; a
// second run deletes nothing).
func DeleteParts(ctx context.Context, parts *mongo.Collection, clientID string) (int64, error) {
	res, err := parts.DeleteMany(ctx, bson.D{{Key: "client_id", Value: clientID}})
	if err != nil {
		return 0, fmt.Errorf("erase the export parts of a client: %w", err)
	}
	return res.DeletedCount, nil
}

// Open returns the part a caller may read: only the client whose data it
// is. A counsellor or an admin is refused (PermissionDenied), whatever
// their assignment or consent; another client's part, or a part not built
// yet, is NotFound; an expired one FailedPrecondition.
func (b *Builder) Open(ctx context.Context, c auth.Caller, clientID, exportID string) (Part, error) {
	if err := OnlyTheClient(c, clientID); err != nil {
		return Part{}, err
	}
	notFound := apperr.NotFound("export %q has no %s part (not built yet, or not yours)", exportID, b.service)
	p, _, err := b.parts.Get(ctx, exportID)
	if errors.Is(err, docstore.ErrNotFound) {
		return Part{}, notFound
	}
	if err != nil {
		return Part{}, err
	}
	if p.ClientID != clientID {
		return Part{}, notFound
	}
	if !b.clk.Now().Before(p.ExpireTime) {
		return Part{}, apperr.FailedPrecondition("export %q expired at %s: request a new one", exportID, p.ExpireTime.UTC().Format(time.RFC3339))
	}
	return p, nil
}

// OnlyTheClient refuses everyone but the client clientID: a counsellor or
// an admin gets PermissionDenied, another client NotFound (ids cannot be
// probed).
func OnlyTheClient(c auth.Caller, clientID string) error {
	if c.Role != auth.RoleClient {
		return apperr.PermissionDenied("only the client can export their data")
	}
	if c.ID != clientID {
		return apperr.NotFound("client %q not found", clientID)
	}
	return nil
}

// Each reads every document of store that matches filter, in _id order,
// with one query, and passes them to fn size at a time as they arrive
// (docstore.Store.Each).
func Each[T any](ctx context.Context, store *docstore.Store[T], filter bson.D, size int, fn func([]T) error) error {
	return store.Each(ctx, filter, size, fn, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
}

// Pages passes items to fn PageSize at a time.
func Pages[T any](items []T, fn func([]T) error) error {
	for len(items) > 0 {
		n := min(len(items), PageSize)
		if err := fn(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}
