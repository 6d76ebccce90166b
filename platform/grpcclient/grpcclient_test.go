package grpcclient_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/internal/grpctest"
	"github.com/nocontact/backend/platform/logging"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secret = []byte("grpcclient-test-secret-0123456789")
	now    = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
)

// serve runs probe behind a platform server until the test ends.
func serve(t *testing.T, probe *grpctest.Probe) string {
	t.Helper()
	srv := grpcserver.New(grpcserver.Options{
		Logger:   slog.New(slog.DiscardHandler),
		Verifier: auth.NewHS256Verifier(secret, "nocontact", "nocontact", clock.NewFake(now)),
	})
	probe.Register(srv.GRPC())
	lis := grpctest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestCallOnBehalfOfUser runs front → back, as the gateway → plans or
// journal → plans: the back service must authenticate the user from the
// forwarded token and log under the same request id.
func TestCallOnBehalfOfUser(t *testing.T) {
	who := func(ctx context.Context) *wrapperspb.StringValue {
		id, _ := auth.FromContext(ctx)
		return wrapperspb.String(id.Subject + "/" + string(id.Role) + " " + logging.RequestID(ctx))
	}
	backAddr := serve(t, &grpctest.Probe{
		Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) { return who(ctx), nil },
		Bidi:  func(stream grpc.ServerStream) error { return stream.SendMsg(who(stream.Context())) },
	})
	toBack := dial(t, backAddr)

	frontAddr := serve(t, &grpctest.Probe{
		Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) {
			var unary, streamed wrapperspb.StringValue
			if err := toBack.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &unary); err != nil {
				return nil, err
			}
			stream, err := toBack.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
			if err != nil {
				return nil, err
			}
			if err := stream.RecvMsg(&streamed); err != nil {
				return nil, err
			}
			return wrapperspb.String(unary.GetValue() + "|" + streamed.GetValue()), nil
		},
	})
	toFront := dial(t, frontAddr)

	tok, err := auth.IssueHS256(secret, "nocontact", "nocontact", "u1", auth.RoleCounsellor, time.Hour, clock.NewFake(now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok, "x-request-id", "req-7")
	var out wrapperspb.StringValue
	if err := toFront.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &out); err != nil {
		t.Fatalf("front: %v", err)
	}
	if got, want := out.GetValue(), "u1/counsellor req-7|u1/counsellor req-7"; got != want {
		t.Errorf("back service saw %q, want %q", got, want)
	}
}

func TestRequestIDInterceptor(t *testing.T) {
	tests := []struct {
		name     string
		ctx      func() context.Context
		wantSent []string
	}{
		{"no request id", context.Background, nil},
		{"request id from the context", func() context.Context {
			return logging.WithRequestID(context.Background(), "req-1")
		}, []string{"req-1"}},
		{"explicit outgoing id wins", func() context.Context {
			ctx := logging.WithRequestID(context.Background(), "req-1")
			return metadata.AppendToOutgoingContext(ctx, "x-request-id", "explicit")
		}, []string{"explicit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent []string
			invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				md, _ := metadata.FromOutgoingContext(ctx)
				sent = md.Get("x-request-id")
				return nil
			}
			if err := grpcclient.RequestIDUnaryClientInterceptor()(tt.ctx(), "/a/b", nil, nil, nil, invoker); err != nil {
				t.Fatal(err)
			}
			if strings.Join(sent, ",") != strings.Join(tt.wantSent, ",") {
				t.Errorf("sent x-request-id %v, want %v", sent, tt.wantSent)
			}
		})
	}
}

// A target listing several addresses spreads calls over all of them (the
// devstack's replicas behind the gateway).
func TestDialBalancesOverAListOfAddresses(t *testing.T) {
	hits := make([]int, 3)
	addrs := make([]string, len(hits))
	for i := range hits {
		addrs[i] = serve(t, &grpctest.Probe{Unary: func(context.Context, proto.Message) (proto.Message, error) {
			hits[i]++ // calls are made one after another below
			return &emptypb.Empty{}, nil
		}})
	}
	conn := dial(t, strings.Join(addrs, ","))
	tok, err := auth.IssueHS256(secret, "nocontact", "nocontact", "u1", auth.RoleClient, time.Hour, clock.NewFake(now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	// Until every connection is up, round-robin uses those that are; a
	// balancer that sticks to one address never reaches all three.
	all := func() bool { return !slices.Contains(hits, 0) }
	for calls := 0; !all() && calls < 3000; calls++ {
		if err := conn.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &emptypb.Empty{}); err != nil {
			t.Fatal(err)
		}
	}
	if !all() {
		t.Fatalf("calls per address = %v: not every replica got calls", hits)
	}
}
