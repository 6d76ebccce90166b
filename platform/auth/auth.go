// Package auth authenticates callers from JWT bearer tokens and carries the
// resulting identity in the context.
//
// Every service verifies the token itself (the gateway forwards it; see
// DESIGN.md section 4): the gRPC interceptors here put an Identity in the
// context of every non-public call, and the forwarding client interceptors
// pass the caller's token on when a service calls another on the user's
// behalf. Authorization (who may see what) is the services' job; this package
// only says who the caller is.
package auth

import (
	"context"
	"errors"
	"fmt"
)

// Role is what a caller is to the platform.
type Role string

// Roles.
const (
	RoleClient     Role = "client"
	RoleCounsellor Role = "counsellor"
	RoleAdmin      Role = "admin"
)

// ErrUnknownRole is returned by ParseRole.
var ErrUnknownRole = errors.New("unknown role")

// ParseRole returns the Role named s, or ErrUnknownRole. It is exact (no
// case folding): a role claim is machine-written, and anything unexpected
// is safer refused.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("%w %q", ErrUnknownRole, s)
	}
	return r, nil
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleClient, RoleCounsellor, RoleAdmin:
		return true
	}
	return false
}

// String returns the role's claim value.
func (r Role) String() string { return string(r) }

// Identity is the authenticated caller.
type Identity struct {
	// Subject is the user id (the token's `sub`).
	Subject string
	// Role is the caller's role.
	Role Role
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity in ctx; false when the call was not
// authenticated (a public method, or a context that never went through the
// interceptor). Handlers treat false as "no access".
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
