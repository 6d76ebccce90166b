package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	dashboardv1 "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/gateway/dashboard"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/tracing"
)

// The DashboardService is served by the gateway itself, but over an
// in-process gRPC connection (a bufconn listener) rather than with
// grpc-gateway's RegisterDashboardServiceHandlerServer: its HTTP routes are
// then registered with RegisterDashboardServiceHandler on the same mux as
// every other route, so the edge behaves exactly the same for them (the
// same middleware chain: request id, CORS, body limit, timeout,
// authentication and rate limit; the same strict query parsing, JSON
// marshaler and error mapping), and behind the connection the platform's
// gRPC server runs the same interceptors as every service (token
// verification, protovalidate field violations, request id, access log,
// panic recovery, error mapping), which the HandlerServer path would skip.

// dashboardServer is the in-process DashboardService and the connection the
// HTTP routes reach it through.
type dashboardServer struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan struct{}
}

// dashboardBufferBytes is the in-process connection's buffer.
const dashboardBufferBytes = 1 << 20

func startDashboard(cfg Config, log *slog.Logger, verifier auth.Verifier, clk clock.Clock, tp *tracing.Provider,
	m *metrics.Metrics, plansConn, journalConn, notifyConn grpc.ClientConnInterface) (*dashboardServer, error) {
	calls := dashboard.NewCalls(m.Registry())
	svc := dashboard.NewService(dashboard.Backends{
		Care:    plansv1.NewCareServiceClient(calls.Conn("plans", plansConn)),
		Journal: journalv1.NewJournalServiceClient(calls.Conn("journal", journalConn)),
		Notify:  notifyv1.NewNotifyServiceClient(calls.Conn("notify", notifyConn)),
	}, dashboard.Deadlines{
		Plans:   cfg.DashboardPlansTimeout,
		Journal: cfg.DashboardJournalTimeout,
		Notify:  cfg.DashboardNotifyTimeout,
	}, clk, log)

	srv := grpcserver.New(grpcserver.Options{
		Logger:      log,
		Verifier:    verifier,
		ServiceName: dashboardv1.DashboardService_ServiceDesc.ServiceName,
		Clock:       clk,
		ObserveRPC:  m.ObserveRPC,
		// One connection for the process's life: nothing to rebalance.
		MaxConnectionAge: -1,
		// The body limit and the rate limit are the HTTP edge's.
		MaxRecvMsgBytes: int(max(cfg.MaxBodyBytes, grpcserver.DefaultMaxRecvMsgBytes)),
		ServerOptions:   []grpc.ServerOption{tp.ServerOption()},
	})
	dashboardv1.RegisterDashboardServiceServer(srv.GRPC(), dashboard.NewServer(svc))

	lis := bufconn.Listen(dashboardBufferBytes)
	ctx, cancel := context.WithCancel(context.Background())
	d := &dashboardServer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		if err := srv.Serve(ctx, lis, cfg.ShutdownTimeout); err != nil && !errors.Is(err, grpcserver.ErrForcedStop) {
			log.Error("dashboard server stopped", "error", err)
		}
	}()
	conn, err := grpc.NewClient("passthrough:///dashboard",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		tp.DialOption(),
	)
	if err != nil {
		cancel()
		<-d.done
		return nil, fmt.Errorf("dial the in-process dashboard: %w", err)
	}
	d.conn = conn
	return d, nil
}

// stop closes the connection and stops the server (calls in flight run
// to their end, for at most the shutdown timeout). Safe on nil.
func (d *dashboardServer) stop() {
	if d == nil {
		return
	}
	if d.conn != nil {
		_ = d.conn.Close()
	}
	d.cancel()
	<-d.done
}
