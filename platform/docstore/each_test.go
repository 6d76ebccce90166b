package docstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/testenv"
)

// Each hands over every matching document, in order, a page at a time,
// and stops at the first error of its callback.
func TestEachPagesThroughEveryMatch(t *testing.T) {
	ctx := context.Background()
	s := docstore.New[counter](testenv.Mongo(t).Collection("counters"), nil)
	for i := range 5 {
		for _, owner := range []string{"a", "b"} {
			if err := s.Create(ctx, fmt.Sprintf("%s-%d", owner, i), counter{Owner: owner, N: i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var pages [][]int
	err := s.Each(ctx, bson.D{{Key: "owner", Value: "a"}}, 2, func(page []counter) error {
		var ns []int
		for _, c := range page {
			ns = append(ns, c.N)
		}
		pages = append(pages, ns)
		return nil
	}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pages) != "[[0 1] [2 3] [4]]" {
		t.Fatalf("pages = %v, want a's five in order, two at a time", pages)
	}
	stop := errors.New("stop")
	calls := 0
	err = s.Each(ctx, bson.D{}, 3, func([]counter) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Each = %v after %d calls, want the callback's error after one", err, calls)
	}
}
