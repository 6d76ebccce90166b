package mongox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// An unreachable database is told apart from other failures: that is what
// turns an outage into gRPC Unavailable (HTTP 503) instead of Internal.
func TestIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // nothing listens there now
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr + "/?serverSelectionTimeoutMS=200&connectTimeoutMS=200"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	err = client.Database("d").Collection("c").FindOne(context.Background(), bson.D{}).Err()
	if err == nil {
		t.Fatal("a read from a closed port succeeded")
	}
	if !IsUnavailable(fmt.Errorf("load plan: %w", err)) {
		t.Errorf("IsUnavailable(%v) = false, want true", err)
	}
	for _, other := range []error{nil, errors.New("boom"), context.Canceled, context.DeadlineExceeded, mongo.ErrNoDocuments} {
		if IsUnavailable(other) {
			t.Errorf("IsUnavailable(%v) = true, want false", other)
		}
	}
}
