package mongox

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// DefaultServerSelectionTimeout bounds how long an operation waits for a
// reachable server when the URI does not say (the driver's own default is
// 30 s, longer than any RPC deadline: an outage would surface as the
// caller's DeadlineExceeded instead of Unavailable). It is below the
// gateway's 10 s backend timeout so a call fails Unavailable first.
const DefaultServerSelectionTimeout = 5 * time.Second

// IsUnavailable reports whether err says the database cannot be reached
// (no server selectable, a network error on the connection), as opposed
// to a bug or a refused command. Such a call may be retried: gRPC
// Unavailable. A server selection that timed out counts (the driver's own
// timeout wraps context.DeadlineExceeded); the caller checks its own
// context first, since a call whose deadline passed is DeadlineExceeded.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, mongo.ErrClientDisconnected) {
		return true
	}
	if _, ok := errors.AsType[topology.ServerSelectionError](err); ok {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := errors.AsType[topology.ConnectionError](err); ok {
		return true
	}
	return mongo.IsNetworkError(err)
}
