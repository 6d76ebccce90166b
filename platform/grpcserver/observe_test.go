package grpcserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/internal/grpctest"
)

// ObserveRPC hears every finished call with the code the client got:
// refused ones, health checks and streams included.
func TestObserveRPC(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	h := start(t, grpcserver.Options{ObserveRPC: func(method string, code codes.Code, elapsed time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if elapsed < 0 {
			t.Errorf("%s took %v", method, elapsed)
		}
		seen = append(seen, fmt.Sprintf("%s %s", method, code))
	}}, identityProbe(), time.Second)

	var out wrapperspb.StringValue
	_ = h.conn.Invoke(bearer(t, "u1", auth.RoleClient), grpctest.MethodUnary, &emptypb.Empty{}, &out)
	_ = h.conn.Invoke(context.Background(), grpctest.MethodUnary, &emptypb.Empty{}, &out)
	if _, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	stream, err := h.conn.NewStream(bearer(t, "u1", auth.RoleClient), grpctest.BidiDesc, grpctest.MethodBidi)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.RecvMsg(&out)
	_ = stream.CloseSend()
	_ = stream.RecvMsg(&out)

	want := strings.Join([]string{
		grpctest.MethodUnary + " OK",
		grpctest.MethodUnary + " Unauthenticated",
		"/grpc.health.v1.Health/Check OK",
		grpctest.MethodBidi + " OK",
	}, "\n")
	eventually(t, "four observations", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= 4
	})
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(seen, "\n"); got != want {
		t.Fatalf("observed:\n%s\nwant:\n%s", got, want)
	}
}
