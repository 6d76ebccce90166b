package mongodb

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/sealcodec"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/insights"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

// careRowCap bounds what one care-view query reads. A window query over
// 500 clients and 30 days stays far below it; past it the answer is
// refused rather than silently cut.
const careRowCap = 100000

// CareStore implements app.CareStore: the care team's views of many
// clients in a constant number of queries whatever their number (each
// query names every client with $in or $or). FerretDB has no $max/$first
// in $group, so "the latest record of each client" is found in two
// steps: a $group by (client, local date) with $sum (which it computes),
// then one $or find of each client's latest two local dates (two, because
// a record made after a move west can carry an earlier date).
type CareStore struct {
	db *mongo.Database
	// entries opens the sealed fields of the shared entries it reads (nil:
	// a store without field encryption, in tests of other things).
	entries *sealcodec.Codec
}

// NewCareStore returns the care views over the journal database; keys
// opens the entries' sealed fields (the other views read no text).
func NewCareStore(db *mongo.Database, keys *fieldcrypt.Keyring) *CareStore {
	s := &CareStore{db: db}
	if keys != nil {
		s.entries = NewSealer(keys, CollEntries)
	}
	return s
}

var (
	noCheckInText = bson.D{{Key: "note", Value: 0}, {Key: "outbox", Value: 0}}
	noUrgeText    = bson.D{{Key: "note", Value: 0}, {Key: "outbox", Value: 0}}
	entryTimes    = bson.D{{Key: "client_id", Value: 1}, {Key: "create_time", Value: 1}, {Key: "local_date", Value: 1}}
)

func in(ids []string) bson.D { return bson.D{{Key: "$in", Value: ids}} }

func find[T any](ctx context.Context, s *CareStore, coll string, filter any, opts *options.FindOptionsBuilder) ([]T, error) {
	cur, err := s.db.Collection(coll).Find(ctx, filter, opts.SetLimit(careRowCap+1))
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", coll, err)
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read %s: %w", coll, err)
	}
	if len(out) > careRowCap {
		return nil, fmt.Errorf("read %s: more than %d rows for one care view", coll, careRowCap)
	}
	return out, nil
}

type dayKey struct {
	Client string `bson:"c"`
	Date   string `bson:"d"`
	Kind   string `bson:"k"`
}

// days is every (client, local date[, kind]) of coll's records.
func (s *CareStore) days(ctx context.Context, coll string, clientIDs []string, byKind bool) ([]dayKey, error) {
	key := bson.D{{Key: "c", Value: "$client_id"}, {Key: "d", Value: "$local_date"}}
	if byKind {
		key = append(key, bson.E{Key: "k", Value: "$kind"})
	}
	cur, err := s.db.Collection(coll).Aggregate(ctx, bson.A{
		bson.D{{Key: "$match", Value: bson.D{{Key: "client_id", Value: in(clientIDs)}}}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: key}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("days in %s: %w", coll, err)
	}
	var rows []struct {
		ID dayKey `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read days in %s: %w", coll, err)
	}
	out := make([]dayKey, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out, nil
}

// latestDays is, per client, the filter of their latest two local dates.
func latestDays(rows []dayKey) bson.A {
	maxDate := map[string]string{}
	for _, r := range rows {
		if r.Date > maxDate[r.Client] {
			maxDate[r.Client] = r.Date
		}
	}
	clients := make([]string, 0, len(maxDate))
	for c := range maxDate {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	or := bson.A{}
	for _, c := range clients {
		or = append(or, bson.D{{Key: "client_id", Value: c}, {Key: "local_date", Value: bson.D{{Key: "$gte", Value: insights.AddDays(maxDate[c], -1)}}}})
	}
	return or
}

// Activity implements app.CareStore.
func (s *CareStore) Activity(ctx context.Context, clientIDs []string, withEntriesAndUrges bool) (map[string]*app.ClientActivity, error) {
	out := map[string]*app.ClientActivity{}
	get := func(c string) *app.ClientActivity {
		if out[c] == nil {
			out[c] = &app.ClientActivity{}
		}
		return out[c]
	}
	if len(clientIDs) == 0 {
		return out, nil
	}
	rows, err := s.days(ctx, CollCheckIns, clientIDs, true)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		a := get(r.Client)
		if a.FirstCheckInDate == "" || r.Date < a.FirstCheckInDate {
			a.FirstCheckInDate = r.Date
		}
		if r.Kind == "daily" {
			a.DailyDates = append(a.DailyDates, r.Date)
		}
	}
	for _, a := range out {
		slices.Sort(a.DailyDates)
		a.DailyDates = slices.Compact(a.DailyDates)
	}
	if or := latestDays(rows); len(or) > 0 {
		list, err := find[journal.CheckIn](ctx, s, CollCheckIns, bson.D{{Key: "$or", Value: or}},
			options.Find().SetProjection(noCheckInText).SetSort(bson.D{{Key: "occurred_at", Value: -1}, {Key: "_id", Value: 1}}))
		if err != nil {
			return nil, err
		}
		for _, ci := range list {
			if a := get(ci.ClientID); a.LatestCheckIn == nil {
				a.LatestCheckIn = &ci
			}
		}
	}
	if !withEntriesAndUrges {
		return out, nil
	}
	for _, coll := range []string{CollEntries, CollUrges} {
		rows, err := s.days(ctx, coll, clientIDs, false)
		if err != nil {
			return nil, err
		}
		or := latestDays(rows)
		if len(or) == 0 {
			continue
		}
		list, err := find[struct {
			ClientID   string    `bson:"client_id"`
			CreateTime time.Time `bson:"create_time"`
		}](ctx, s, coll, bson.D{{Key: "$or", Value: or}}, options.Find().SetProjection(entryTimes))
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			a := get(r.ClientID)
			last := &a.LastEntry
			if coll == CollUrges {
				last = &a.LastUrge
			}
			if r.CreateTime.After(*last) {
				*last = r.CreateTime
			}
		}
	}
	return out, nil
}

// CheckInsFrom implements app.CareStore (notes left out).
func (s *CareStore) CheckInsFrom(ctx context.Context, clientIDs []string, fromDate string) ([]journal.CheckIn, error) {
	return find[journal.CheckIn](ctx, s, CollCheckIns, bson.D{
		{Key: "client_id", Value: in(clientIDs)}, {Key: "local_date", Value: bson.D{{Key: "$gte", Value: fromDate}}},
	}, options.Find().SetProjection(noCheckInText))
}

// UrgesFrom implements app.CareStore (notes left out).
func (s *CareStore) UrgesFrom(ctx context.Context, clientIDs []string, fromDate string) ([]journal.Urge, error) {
	return find[journal.Urge](ctx, s, CollUrges, bson.D{
		{Key: "client_id", Value: in(clientIDs)}, {Key: "local_date", Value: bson.D{{Key: "$gte", Value: fromDate}}},
	}, options.Find().SetProjection(noUrgeText))
}

var (
	openStatuses   = []string{journal.FlagRaised, journal.FlagEscalated, journal.FlagAcknowledged}
	closedStatuses = []string{journal.FlagResolved, journal.FlagDismissed}
)

// OpenFlags implements app.CareStore.
func (s *CareStore) OpenFlags(ctx context.Context, clientIDs []string) ([]journal.RiskFlag, error) {
	return find[journal.RiskFlag](ctx, s, CollFlags, bson.D{
		{Key: "client_id", Value: in(clientIDs)}, {Key: "status", Value: in(openStatuses)},
	}, options.Find().SetProjection(bson.D{{Key: "outbox", Value: 0}}))
}

// Flags implements app.CareStore: the client's open flags, newest first,
// then the latest closed ones, limit in all.
func (s *CareStore) Flags(ctx context.Context, clientID string, limit int) ([]journal.RiskFlag, error) {
	newest := func() *options.FindOptionsBuilder {
		return options.Find().SetProjection(bson.D{{Key: "outbox", Value: 0}}).SetSort(bson.D{{Key: "raise_time", Value: -1}, {Key: "_id", Value: 1}})
	}
	open, err := find[journal.RiskFlag](ctx, s, CollFlags, bson.D{{Key: "client_id", Value: clientID}, {Key: "status", Value: in(openStatuses)}}, newest())
	if err != nil {
		return nil, err
	}
	if len(open) >= limit {
		return open[:limit], nil
	}
	closed, err := s.db.Collection(CollFlags).Find(ctx, bson.D{{Key: "client_id", Value: clientID}, {Key: "status", Value: in(closedStatuses)}},
		newest().SetLimit(int64(limit-len(open))))
	if err != nil {
		return nil, fmt.Errorf("find closed flags: %w", err)
	}
	var rest []journal.RiskFlag
	if err := closed.All(ctx, &rest); err != nil {
		return nil, fmt.Errorf("read closed flags: %w", err)
	}
	return append(open, rest...), nil
}

// SharedEntries implements app.CareStore: shared entries only, newest
// first; a private entry is never read.
func (s *CareStore) SharedEntries(ctx context.Context, clientID string, limit int) ([]journal.Entry, error) {
	cur, err := s.db.Collection(CollEntries).Find(ctx, bson.D{{Key: "client_id", Value: clientID}, {Key: "shared", Value: true}},
		options.Find().SetProjection(bson.D{{Key: "outbox", Value: 0}}).SetSort(bson.D{{Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find shared entries: %w", err)
	}
	defer cur.Close(ctx)
	var out []journal.Entry
	for cur.Next(ctx) {
		var e journal.Entry
		if err := s.entries.Decode(ctx, cur.Current, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read shared entries: %w", err)
	}
	return out, nil
}

// NearSlips implements app.CareStore: the client's check-ins and urges
// within window of any slip, in one query per collection (an $or of the
// merged time ranges).
func (s *CareStore) NearSlips(ctx context.Context, clientID string, slips []time.Time, window time.Duration) ([]journal.CheckIn, []journal.Urge, error) {
	ranges := mergedRanges(slips, window)
	if len(ranges) == 0 {
		return nil, nil, nil
	}
	or := func(field string) bson.D {
		a := bson.A{}
		for _, r := range ranges {
			a = append(a, bson.D{{Key: field, Value: bson.D{{Key: "$gte", Value: r[0]}, {Key: "$lte", Value: r[1]}}}})
		}
		return bson.D{{Key: "client_id", Value: clientID}, {Key: "$or", Value: a}}
	}
	cis, err := find[journal.CheckIn](ctx, s, CollCheckIns, or("occurred_at"), options.Find().SetProjection(noCheckInText))
	if err != nil {
		return nil, nil, err
	}
	urges, err := find[journal.Urge](ctx, s, CollUrges, or("create_time"), options.Find().SetProjection(noUrgeText))
	if err != nil {
		return nil, nil, err
	}
	return cis, urges, nil
}

// mergedRanges is [slip-window, slip+window] for each slip, overlapping
// ranges merged.
func mergedRanges(slips []time.Time, window time.Duration) [][2]time.Time {
	sorted := slices.Clone(slips)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	var out [][2]time.Time
	for _, s := range sorted {
		lo, hi := s.Add(-window), s.Add(window)
		if n := len(out); n > 0 && !lo.After(out[n-1][1]) {
			if hi.After(out[n-1][1]) {
				out[n-1][1] = hi
			}
			continue
		}
		out = append(out, [2]time.Time{lo, hi})
	}
	return out
}
