package grpcserver_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/internal/grpctest"
)

// Every test must leave no goroutine behind: the readiness loop, Serve's
// helpers and the gRPC transports all have to stop with Serve.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	testSecret = []byte("grpcserver-test-secret-0123456789")
	testNow    = time.Date(2026, 11, 1, 1, 30, 0, 0, time.UTC)
)

const (
	testIssuer   = "nocontact"
	testAudience = "nocontact"
	testService  = "nocontact.test.v1.ProbeService"
)

// logBuffer is a goroutine-safe log sink: the server logs from its own
// goroutines while the test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines containing all of subs.
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

type harness struct {
	srv    *grpcserver.Server
	conn   *grpc.ClientConn
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan error // receives Serve's result
	lis    net.Listener
}

// start serves probe on a loopback listener behind a grpcserver.Server
// configured by opts (Logger and Verifier defaulted), and stops it at the
// end of the test.
func start(t *testing.T, opts grpcserver.Options, probe *grpctest.Probe, shutdownTimeout time.Duration) *harness {
	t.Helper()
	h := &harness{logs: &logBuffer{}, done: make(chan error, 1)}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Verifier == nil {
		opts.Verifier = auth.NewHS256Verifier(testSecret, testIssuer, testAudience, clock.NewFake(testNow))
	}
	if opts.ServiceName == "" {
		opts.ServiceName = testService
	}
	h.srv = grpcserver.New(opts)
	if probe != nil {
		probe.Register(h.srv.GRPC())
	}
	h.lis = grpctest.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.srv.Serve(ctx, h.lis, shutdownTimeout) }()
	h.conn = grpctest.Dial(t, h.lis.Addr().String())
	t.Cleanup(func() {
		_ = h.conn.Close()
		cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after the test")
		}
	})
	return h
}

// stop cancels Serve's context and returns its result.
func (h *harness) stop(t *testing.T) error {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
		return nil
	}
}

func bearer(t *testing.T, sub string, role auth.Role) context.Context {
	t.Helper()
	tok, err := auth.IssueHS256(testSecret, testIssuer, testAudience, sub, role, time.Hour, clock.NewFake(testNow))
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

var errBoom = errors.New("boom")

func fakeAt(t time.Time) *clock.Fake { return clock.NewFake(t) }
