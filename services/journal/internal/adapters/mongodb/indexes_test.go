package mongodb

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Every hot query's keys must lead a declared index, so that production
// MongoDB never scans a collection for them.
func TestHotQueriesHaveIndexes(t *testing.T) {
	for _, q := range HotQueries {
		found := false
		for _, m := range Indexes()[q.Collection] {
			keys, _ := m.Keys.(bson.D)
			if len(keys) < len(q.Keys) {
				continue
			}
			match := true
			for i, k := range q.Keys {
				match = match && keys[i].Key == k
			}
			found = found || match
		}
		if !found {
			t.Errorf("hot query %q on %s (%v) has no index with those leading keys", q.Name, q.Collection, q.Keys)
		}
	}
}
