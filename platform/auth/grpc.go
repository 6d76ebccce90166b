package auth

import (
	"context"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// AuthorizationHeader is the metadata key of the bearer token.
const AuthorizationHeader = "authorization"

// Plain messages: the client learns that it must (re)authenticate, never why
// a token failed (expired, bad signature, wrong audience...), which would
// help an attacker tune forged tokens.
const (
	msgMissing = "missing bearer token"
	msgInvalid = "invalid or expired token"
)

// Reasons in the ErrorInfo detail of every Unauthenticated answer, so a
// client can tell "sign in" from "sign in again" without parsing messages.
const (
	ReasonTokenMissing = "TOKEN_MISSING"
	ReasonTokenInvalid = "TOKEN_INVALID"
	// ErrorDomain is the ErrorInfo domain of authentication failures.
	ErrorDomain = "auth.nocontact"
)

// MissingToken is the status of a call without a bearer token.
func MissingToken() *status.Status { return unauthenticated(ReasonTokenMissing, msgMissing) }

// InvalidToken is the status of a call whose token does not verify
// (expired, badly signed, another issuer or audience, malformed).
func InvalidToken() *status.Status { return unauthenticated(ReasonTokenInvalid, msgInvalid) }

func unauthenticated(reason, msg string) *status.Status {
	st := status.New(codes.Unauthenticated, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}); err == nil {
		return d
	}
	return st
}

// UnaryServerInterceptor authenticates every call whose full method name is
// not public, and puts the caller's Identity in the handler's context.
// A nil public makes every method require a token; a nil v rejects every
// non-public call.
func UnaryServerInterceptor(v Verifier, public func(fullMethod string) bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if public != nil && public(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := authenticate(ctx, v)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is the streaming twin of UnaryServerInterceptor.
func StreamServerInterceptor(v Verifier, public func(fullMethod string) bool) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if public != nil && public(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := authenticate(ss.Context(), v)
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// contextStream overrides the context of a server stream.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

func authenticate(ctx context.Context, v Verifier) (context.Context, error) {
	token, ok := bearerToken(ctx)
	if !ok {
		return nil, MissingToken().Err()
	}
	if v == nil {
		return nil, InvalidToken().Err()
	}
	id, err := v.Verify(ctx, token)
	if err != nil {
		return nil, InvalidToken().Err()
	}
	return WithIdentity(ctx, id), nil
}

// bearerToken returns the token of the single `authorization: Bearer <jwt>`
// entry. Several authorization entries are refused: which one would win is
// ambiguous, and ambiguity in authentication is a bug waiting to be used.
func bearerToken(ctx context.Context) (string, bool) {
	// The one key, not FromIncomingContext's copy of every header.
	values := metadata.ValueFromIncomingContext(ctx, AuthorizationHeader)
	if len(values) != 1 {
		return "", false
	}
	scheme, token, found := strings.Cut(strings.TrimSpace(values[0]), " ")
	// The scheme is case-insensitive (RFC 9110 section 11.1).
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// ForwardUnaryClientInterceptor copies the authorization metadata of the call
// being served (the incoming context) to the outgoing call, so that a service
// calling another on a user's behalf acts as that user: the callee verifies
// the same token instead of trusting the caller. An authorization already set
// on the outgoing context wins.
func ForwardUnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(forwardAuthorization(ctx), method, req, reply, cc, opts...)
	}
}

// ForwardStreamClientInterceptor is the streaming twin of
// ForwardUnaryClientInterceptor.
func ForwardStreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(forwardAuthorization(ctx), desc, cc, method, opts...)
	}
}

func forwardAuthorization(ctx context.Context) context.Context {
	in, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	values := in.Get(AuthorizationHeader)
	if len(values) == 0 {
		return ctx
	}
	if out, ok := metadata.FromOutgoingContext(ctx); ok && len(out.Get(AuthorizationHeader)) > 0 {
		return ctx
	}
	kv := make([]string, 0, 2*len(values))
	for _, v := range values {
		kv = append(kv, AuthorizationHeader, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
