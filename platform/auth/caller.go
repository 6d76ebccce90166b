package auth

import (
	"context"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/logging"
)

// Caller is who is making the current call, from the verified token, with
// the call's request id (for the access log and event correlation).
type Caller struct {
	ID        string
	Role      Role
	RequestID string
}

// CallerFrom reads the identity the server interceptor verified. A call
// without one answers Unauthenticated.
func CallerFrom(ctx context.Context) (Caller, error) {
	id, ok := FromContext(ctx)
	if !ok || id.Subject == "" {
		return Caller{}, apperr.Unauthenticated("authentication required")
	}
	return Caller{ID: id.Subject, Role: id.Role, RequestID: logging.RequestID(ctx)}, nil
}
