package mongodb

import (
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
