// Package grpctest provides a tiny gRPC service for testing the platform's
// interceptors over a real loopback connection, without generated code: the
// service is described by hand and its messages can be any proto.Message,
// including dynamic ones built from a descriptor with validation rules.
package grpctest

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Full method names of the probe service.
const (
	Service     = "platformtest.Probe"
	MethodUnary = "/" + Service + "/Unary"
	MethodBidi  = "/" + Service + "/Bidi"
)

// BidiDesc describes the bidirectional streaming method for
// grpc.ClientConn.NewStream.
var BidiDesc = &grpc.StreamDesc{StreamName: "Bidi", ServerStreams: true, ClientStreams: true}

// Probe is the test service. Nil funcs answer with an empty message.
type Probe struct {
	// NewRequest returns an empty request message; emptypb.Empty when nil.
	NewRequest func() proto.Message
	// Unary handles MethodUnary.
	Unary func(ctx context.Context, req proto.Message) (proto.Message, error)
	// Bidi handles MethodBidi.
	Bidi func(stream grpc.ServerStream) error
}

func (p *Probe) newRequest() proto.Message {
	if p.NewRequest != nil {
		return p.NewRequest()
	}
	return &emptypb.Empty{}
}

// Register registers p on s.
func (p *Probe) Register(s grpc.ServiceRegistrar) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: Service,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Unary",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				req := p.newRequest()
				if err := dec(req); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, req any) (any, error) {
					if p.Unary == nil {
						return &emptypb.Empty{}, nil
					}
					return p.Unary(ctx, req.(proto.Message))
				}
				if interceptor == nil {
					return h(ctx, req)
				}
				return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: MethodUnary}, h)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "Bidi",
			ServerStreams: true,
			ClientStreams: true,
			Handler: func(_ any, stream grpc.ServerStream) error {
				if p.Bidi == nil {
					return nil
				}
				return p.Bidi(stream)
			},
		}},
	}, p)
}

// Listen returns a loopback listener on a free port.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return lis
}

// Serve serves s on a loopback listener until the test ends and returns the
// address.
func Serve(t testing.TB, s *grpc.Server) string {
	t.Helper()
	lis := Listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

// Dial returns a plaintext client connection to addr, closed when the test
// ends.
func Dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
