package mongodb

import (
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Every hot query's keys must be a prefix of a declared index, so that
// production MongoDB never scans a collection for them.
func TestHotQueriesHaveIndexes(t *testing.T) {
	indexes := Indexes()
	for _, q := range HotQueries {
		found := false
		for _, m := range indexes[q.Collection] {
			keys, ok := m.Keys.(bson.D)
			if !ok || len(keys) < len(q.Keys) {
				continue
			}
			prefix := true
			for i, k := range q.Keys {
				if keys[i].Key != k {
					prefix = false
					break
				}
			}
			if prefix {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("hot query %q on %s (%v) has no index with those leading keys", q.Name, q.Collection, q.Keys)
		}
	}
}

// The contact log's page query filters and sorts on exactly the keys its
// hot query declares (so the index test above covers the query as run).
func TestContactsPageIsTheHotQuery(t *testing.T) {
	var want []string
	for _, q := range HotQueries {
		if q.Collection == CollContacts && strings.Contains(q.Name, "(ListContacts)") {
			want = q.Keys
		}
	}
	for _, before := range []int64{0, 42} {
		filter, sort := contactsPage("p1", before)
		var got []string
		seen := map[string]bool{}
		for _, e := range append(filter, sort...) {
			if !seen[e.Key] {
				seen[e.Key] = true
				got = append(got, e.Key)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("page query (before %d) uses keys %v, hot query declares %v", before, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("page query (before %d) uses keys %v, hot query declares %v", before, got, want)
			}
		}
	}
}

// No declared query or index filters or sorts on a sealed field: the
// database holds only its ciphertext there.
func TestSealedPathsAreNeverQueried(t *testing.T) {
	for coll := range SealedPaths {
		sealed := SealedKeys(coll)
		for _, q := range HotQueries {
			for _, k := range q.Keys {
				if q.Collection == coll && slices.Contains(sealed, k) {
					t.Errorf("hot query %q uses sealed field %s", q.Name, k)
				}
			}
		}
		for _, m := range Indexes()[coll] {
			for _, e := range m.Keys.(bson.D) {
				if slices.Contains(sealed, e.Key) {
					t.Errorf("index on %s uses sealed field %s", coll, e.Key)
				}
			}
		}
	}
}
