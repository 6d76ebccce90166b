package grpcserver_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/grpcserver"
)

type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// Connections are recycled after MaxConnectionAge, so that a client
// resolves the service again and a replica added since gets calls; the
// client does not notice (no call fails) and a stream open all along (a
// dashboard's live feed) is not cut.
func TestConnectionsAreRecycledWithoutCuttingCalls(t *testing.T) {
	srv := grpcserver.New(grpcserver.Options{ServiceName: testService, MaxConnectionAge: 300 * time.Millisecond})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: inner}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis, time.Second) }()

	conn, err := grpcclient.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)

	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	watch, err := health.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: testService})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v, %v", first, err)
	}

	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := health.Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		if err != nil {
			t.Fatalf("a call failed while connections were recycled: %v", err)
		}
	}
	if n := lis.accepted.Load(); n < 3 {
		t.Fatalf("%d connections in 1.5 s with a 300 ms maximum age, want the client to have reconnected", n)
	}

	// The stream opened before every recycling still works: it sees the
	// shutdown.
	cancel()
	if next, err := watch.Recv(); err != nil || next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("the long stream after %d reconnections: %v, %v; want NOT_SERVING", lis.accepted.Load(), next, err)
	}
	stopWatch()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
