package grpcserver_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/benchx"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/tracing"
)

// cannedPlans answers GetPlan with a fixed plan without touching a store,
// so that what differs between the servers below is the platform's chain.
type cannedPlans struct {
	plansv1.UnimplementedPlansServiceServer
	resp *plansv1.GetPlanResponse
}

func (c cannedPlans) GetPlan(context.Context, *plansv1.GetPlanRequest) (*plansv1.GetPlanResponse, error) {
	return c.resp, nil
}

func cannedPlan() *plansv1.GetPlanResponse {
	days := int32(30)
	return &plansv1.GetPlanResponse{Plan: &plansv1.Plan{
		Id: "0193a5b0-7c3e-7000-8000-000000000001", ClientId: "client-1", Status: plansv1.PlanStatus_PLAN_STATUS_ACTIVE,
		TargetDays: &days, TimeZone: "Europe/Berlin", StartTime: timestamppb.New(testNow.Add(-72 * time.Hour)),
		Reasons: []string{"I deserve peace", "Sleep again", "Focus on work"},
	}}
}

// benchConn serves reg on a loopback listener (with serve) and returns a
// client connection; both stop at the end of the benchmark.
func benchConn(b *testing.B, serve func(lis net.Listener) (stop func())) *grpc.ClientConn {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	stop := serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = conn.Close()
		stop()
	})
	return conn
}

// bareServer is the baseline: grpc-go's server with nothing added.
func bareServer(b *testing.B) *grpc.ClientConn {
	return benchConn(b, func(lis net.Listener) func() {
		srv := grpc.NewServer()
		plansv1.RegisterPlansServiceServer(srv, cannedPlans{resp: cannedPlan()})
		go func() { _ = srv.Serve(lis) }()
		return srv.Stop
	})
}

// sharedServer is the server every service runs, wired as
// bootstrap.NewServer wires it: the full interceptor chain (recovery,
// request id, access log at Info, JWT auth with the verifier
// auth.NewVerifier builds from the default configuration, its token cache
// included, rate limit off, protovalidate, error mapping), RPC metrics and
// tracing with every call sampled (no exporter: span creation is measured,
// not export).
func sharedServer(b *testing.B) *grpc.ClientConn {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	m := metrics.New("bench")
	var cfg config.Auth
	if err := config.LoadFrom(&cfg, map[string]string{"NOCONTACT_JWT_SECRET": string(testSecret), "NOCONTACT_JWT_ISSUER": testIssuer, "NOCONTACT_JWT_AUDIENCE": testAudience}); err != nil {
		b.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), cfg, clock.Real(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return benchConn(b, func(lis net.Listener) func() {
		srv := grpcserver.New(grpcserver.Options{
			Logger:        slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Verifier:      verifier,
			ServiceName:   "nocontact.plans.v1.PlansService",
			ObserveRPC:    m.ObserveRPC,
			ServerOptions: []grpc.ServerOption{tracing.FromSDK("bench", tp).ServerOption()},
		})
		plansv1.RegisterPlansServiceServer(srv.GRPC(), cannedPlans{resp: cannedPlan()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, lis, time.Second) }()
		return func() { cancel(); <-done }
	})
}

func benchToken(b *testing.B) context.Context {
	tok, err := auth.IssueHS256(testSecret, testIssuer, testAudience, "client-1", auth.RoleClient, time.Hour, clock.Real())
	if err != nil {
		b.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// BenchmarkChainVsBare is goal 1 of docs/performance.md: GetPlan answered
// without a store, by a bare grpc-go server and by the shared server, side
// by side in one run (8 concurrent callers over loopback). The ratio of
// req/s and of p99-ms is the chain's cost.
func BenchmarkChainVsBare(b *testing.B) {
	req := &plansv1.GetPlanRequest{PlanId: "0193a5b0-7c3e-7000-8000-000000000001"}
	run := func(conn *grpc.ClientConn, ctx context.Context) func(*testing.B) {
		return func(b *testing.B) {
			c := plansv1.NewPlansServiceClient(conn)
			benchx.Parallel(b, func() error { _, err := c.GetPlan(ctx, req); return err })
		}
	}
	b.Run("bare", run(bareServer(b), benchToken(b)))
	b.Run("shared", run(sharedServer(b), benchToken(b)))
}

// BenchmarkRefusedVsBare is goal 1b: a GetPlan refused by validation (an
// empty plan_id: authenticated, then refused by protovalidate with
// InvalidArgument and a BadRequest) against the bare server answering the
// same request (it validates nothing and answers the canned plan).
func BenchmarkRefusedVsBare(b *testing.B) {
	req := &plansv1.GetPlanRequest{}
	b.Run("bare", func(b *testing.B) {
		c := plansv1.NewPlansServiceClient(bareServer(b))
		ctx := benchToken(b)
		benchx.Parallel(b, func() error { _, err := c.GetPlan(ctx, req); return err })
	})
	b.Run("shared", func(b *testing.B) {
		c := plansv1.NewPlansServiceClient(sharedServer(b))
		ctx := benchToken(b)
		benchx.Parallel(b, func() error {
			if _, err := c.GetPlan(ctx, req); status.Code(err) != codes.InvalidArgument {
				return status.Errorf(codes.Unknown, "want InvalidArgument, got %v", err)
			}
			return nil
		})
	})
}
