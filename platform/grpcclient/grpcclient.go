// Package grpcclient dials another service of the suite.
//
// Calls made through the connection carry the current call's bearer token
// (the callee verifies the user itself, DESIGN.md section 4) and request id
// (one id across hops, in every service's logs).
package grpcclient

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/logging"
)

// Dial returns a client connection to target (e.g. "dns:///plans:9090").
// Like grpc.NewClient it does not connect until the first call.
//
// The connection is plaintext unless opts say otherwise: with mutual TLS on,
// bootstrap.Deps.DialOptions passes grpc.WithTransportCredentials, and opts
// are applied after the defaults, so it wins.
//
// Calls are spread round-robin over every address the target resolves to:
// "dns:///plans:9090" on a headless Service is every ready pod, so a new
// replica gets its share of the calls once the resolver sees it (servers
// recycle connections, see grpcserver.DefaultMaxConnectionAge, which makes
// clients resolve again). On a single address it is the same as pick-first.
//
// A target that lists addresses separated by commas ("127.0.0.1:9091,
// 127.0.0.1:9092") is balanced round-robin over exactly those, through a
// resolver of the connection's own: the devstack runs several replicas of
// a service in one process this way. The first address is the authority
// (the name TLS verifies).
func Dial(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	target, extra := ListTarget(target)
	defaults := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(RoundRobin),
		grpc.WithChainUnaryInterceptor(
			RequestIDUnaryClientInterceptor(),
			auth.ForwardUnaryClientInterceptor(),
		),
		grpc.WithChainStreamInterceptor(
			RequestIDStreamClientInterceptor(),
			auth.ForwardStreamClientInterceptor(),
		),
	}
	conn, err := grpc.NewClient(target, append(append(defaults, extra...), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return conn, nil
}

// ListTarget turns a target listing addresses separated by commas into a
// target served by a resolver of its own, and the dial option that
// installs that resolver (pass both to grpc.NewClient, with RoundRobin);
// the first address is the authority. Any other target is returned as it
// is, without options.
func ListTarget(target string) (string, []grpc.DialOption) {
	addrs := strings.Split(target, ",")
	if len(addrs) < 2 {
		return target, nil
	}
	r := manual.NewBuilderWithScheme("nocontact-list")
	var state resolver.State
	for _, a := range addrs {
		state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: strings.TrimSpace(a)}}})
	}
	r.InitialState(state)
	return r.Scheme() + ":///" + strings.TrimSpace(addrs[0]), []grpc.DialOption{grpc.WithResolvers(r)}
}

// RoundRobin is the service config that spreads calls over all resolved
// addresses.
const RoundRobin = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// RequestIDUnaryClientInterceptor sends the request id of ctx (see
// logging.WithRequestID) as x-request-id metadata, unless the outgoing
// context already carries one.
func RequestIDUnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(withOutgoingRequestID(ctx), method, req, reply, cc, opts...)
	}
}

// RequestIDStreamClientInterceptor is the streaming twin of
// RequestIDUnaryClientInterceptor.
func RequestIDStreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(withOutgoingRequestID(ctx), desc, cc, method, opts...)
	}
}

func withOutgoingRequestID(ctx context.Context) context.Context {
	id := logging.RequestID(ctx)
	if id == "" {
		return ctx
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(logging.RequestIDHeader)) > 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, logging.RequestIDHeader, id)
}
