package grpcserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/internal/grpctest"
	"github.com/nocontact/backend/platform/logging"
)

// whoAmI answers "subject/role request-id" as the handler sees them.
func whoAmI(ctx context.Context) *wrapperspb.StringValue {
	id, ok := auth.FromContext(ctx)
	who := "anonymous"
	if ok {
		who = id.Subject + "/" + string(id.Role)
	}
	return wrapperspb.String(who + " " + logging.RequestID(ctx))
}

func identityProbe() *grpctest.Probe {
	return &grpctest.Probe{
		Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) { return whoAmI(ctx), nil },
		Bidi:  func(stream grpc.ServerStream) error { return stream.SendMsg(whoAmI(stream.Context())) },
	}
}

func TestAuthentication(t *testing.T) {
	h := start(t, grpcserver.Options{}, identityProbe(), time.Second)
	other := func(mutate func(*[]byte, *string, *string)) string {
		secret, iss, aud := append([]byte(nil), testSecret...), testIssuer, testAudience
		mutate(&secret, &iss, &aud)
		tok, err := auth.IssueHS256(secret, iss, aud, "u1", auth.RoleClient, time.Hour, fakeAt(testNow))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	expired, err := auth.IssueHS256(testSecret, testIssuer, testAudience, "u1", auth.RoleClient, time.Minute, fakeAt(testNow.Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		auth     string // authorization metadata; "" sends none
		wantCode codes.Code
		wantWho  string
	}{
		{"valid token", "Bearer " + other(func(*[]byte, *string, *string) {}), codes.OK, "u1/client"},
		{"missing token", "", codes.Unauthenticated, ""},
		{"expired token", "Bearer " + expired, codes.Unauthenticated, ""},
		{"badly signed token", "Bearer " + other(func(s *[]byte, _, _ *string) { (*s)[0] ^= 1 }), codes.Unauthenticated, ""},
		{"wrong audience", "Bearer " + other(func(_ *[]byte, _, a *string) { *a = "someone-else" }), codes.Unauthenticated, ""},
		{"wrong issuer", "Bearer " + other(func(_ *[]byte, i, _ *string) { *i = "someone-else" }), codes.Unauthenticated, ""},
		{"not a jwt", "Bearer abc.def.ghi", codes.Unauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.auth != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.auth)
			}
			var out wrapperspb.StringValue
			err := h.conn.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &out)
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("unary: code = %v (%v), want %v", got, err, tt.wantCode)
			}
			if tt.wantCode == codes.OK && !strings.HasPrefix(out.GetValue(), tt.wantWho+" ") {
				t.Errorf("unary: handler saw %q, want identity %q", out.GetValue(), tt.wantWho)
			}

			stream, err := h.conn.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
			if err != nil {
				t.Fatal(err)
			}
			var sout wrapperspb.StringValue
			err = stream.RecvMsg(&sout)
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("stream: code = %v (%v), want %v", got, err, tt.wantCode)
			}
			if tt.wantCode == codes.OK && !strings.HasPrefix(sout.GetValue(), tt.wantWho+" ") {
				t.Errorf("stream: handler saw %q, want identity %q", sout.GetValue(), tt.wantWho)
			}
		})
	}
	// Refused tokens are explained in the log, for the operator only.
	if got := len(h.logs.lines("authentication failed", "audience")); got != 2 {
		t.Errorf("wrong-audience failures logged %d times, want 2 (unary and stream):\n%s", got, h.logs.String())
	}
	if strings.Contains(h.logs.String(), "eyJ") {
		t.Errorf("a token reached the log:\n%s", h.logs.String())
	}
}

func TestPublicMethods(t *testing.T) {
	h := start(t, grpcserver.Options{PublicMethods: []string{grpctest.MethodUnary}}, identityProbe(), time.Second)
	ctx := context.Background()

	var out wrapperspb.StringValue
	if err := h.conn.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &out); err != nil {
		t.Fatalf("public method without a token: %v", err)
	}
	if !strings.HasPrefix(out.GetValue(), "anonymous ") {
		t.Errorf("public method saw %q, want anonymous", out.GetValue())
	}

	resp, err := healthpb.NewHealthClient(h.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without a token: %v, %v; want SERVING", resp.GetStatus(), err)
	}

	refl, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	rresp, err := refl.Recv()
	if err != nil {
		t.Fatalf("reflection without a token: %v", err)
	}
	var names []string
	for _, s := range rresp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, ","), grpctest.Service) {
		t.Errorf("reflection lists %v, want it to include %s", names, grpctest.Service)
	}
	_ = refl.CloseSend()

	// The probe's stream is not public.
	stream, err := h.conn.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.RecvMsg(&out); status.Code(err) != codes.Unauthenticated {
		t.Errorf("non-public stream without a token: %v, want Unauthenticated", err)
	}
}

func TestErrorMapping(t *testing.T) {
	const leak = "E11000 duplicate key plans.plans index _id_ dup key 10.0.0.7"
	violations := []apperr.FieldViolation{
		{Field: "plan.target_days", Description: "must be between 1 and 365"},
		{Field: "plan.reasons[0]", Description: "must not be empty"},
	}
	tests := []struct {
		name       string
		err        error
		panicWith  any
		wantCode   codes.Code
		wantMsg    string
		wantLogged bool // the real error is in the log
	}{
		{name: "unknown error", err: fmt.Errorf("save plan: %s", leak), wantCode: codes.Internal, wantMsg: "internal error", wantLogged: true},
		{name: "panic", panicWith: "nil map write " + leak, wantCode: codes.Internal, wantMsg: "internal error", wantLogged: true},
		{name: "invalid argument", err: fmt.Errorf("create plan: %w", apperr.InvalidArgument(violations...)), wantCode: codes.InvalidArgument,
			wantMsg: "invalid argument: plan.target_days: must be between 1 and 365; plan.reasons[0]: must not be empty"},
		{name: "wrapped not found", err: fmt.Errorf("load: %w", apperr.NotFound("plan not found")), wantCode: codes.NotFound, wantMsg: "plan not found"},
		{name: "failed precondition", err: apperr.FailedPrecondition("plan is paused"), wantCode: codes.FailedPrecondition, wantMsg: "plan is paused"},
		{name: "deadline", err: fmt.Errorf("query: %w", context.DeadlineExceeded), wantCode: codes.DeadlineExceeded, wantMsg: "deadline exceeded"},
		{name: "downstream status", err: status.Error(codes.PermissionDenied, "no"), wantCode: codes.PermissionDenied, wantMsg: "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := func() error {
				if tt.panicWith != nil {
					panic(tt.panicWith)
				}
				return tt.err
			}
			h := start(t, grpcserver.Options{}, &grpctest.Probe{
				Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) { return nil, fail() },
				Bidi:  func(grpc.ServerStream) error { return fail() },
			}, time.Second)
			ctx := bearer(t, "u1", auth.RoleClient)

			unaryErr := h.conn.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &emptypb.Empty{})
			stream, err := h.conn.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
			if err != nil {
				t.Fatal(err)
			}
			streamErr := stream.RecvMsg(&emptypb.Empty{})

			for kind, err := range map[string]error{"unary": unaryErr, "stream": streamErr} {
				st := status.Convert(err)
				if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
					t.Errorf("%s: got %v %q, want %v %q", kind, st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
				}
				if strings.Contains(fmt.Sprint(st.Proto()), "10.0.0.7") {
					t.Errorf("%s: status leaks internals: %v", kind, st.Proto())
				}
				if tt.wantCode == codes.InvalidArgument {
					assertBadRequest(t, st, violations)
				}
			}

			// The real error is logged once per call (two calls), never otherwise.
			logged := h.logs.lines("10.0.0.7")
			if tt.wantLogged && len(logged) != 2 {
				t.Errorf("real error logged %d times for 2 calls, want 2:\n%s", len(logged), h.logs.String())
			}
			if tt.panicWith != nil && len(h.logs.lines("panic in rpc handler", "goroutine")) != 2 {
				t.Errorf("panics not logged with a stack:\n%s", h.logs.String())
			}

			// The server still serves.
			if _, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Errorf("health after the failure: %v", err)
			}
		})
	}
}

func assertBadRequest(t *testing.T, st *status.Status, want []apperr.FieldViolation) {
	t.Helper()
	var got []apperr.FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				got = append(got, apperr.FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("BadRequest field violations = %v, want %v", got, want)
	}
}

func TestRequestIDAndAccessLog(t *testing.T) {
	h := start(t, grpcserver.Options{}, identityProbe(), time.Second)
	tests := []struct {
		name   string
		sent   string // x-request-id sent by the client; "" sends none
		wantID func(got string) bool
	}{
		{"caller's id is kept", "gw-1234", func(got string) bool { return got == "gw-1234" }},
		{"missing id is generated", "", func(got string) bool { return len(got) == 36 }},
		{"id with quotes and spaces is replaced", `x", "level":"ERROR`, func(got string) bool { return len(got) == 36 }},
		{"overlong id is replaced", strings.Repeat("a", 200), func(got string) bool { return len(got) == 36 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := bearer(t, "u1", auth.RoleClient)
			if tt.sent != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", tt.sent)
			}
			var header metadata.MD
			var out wrapperspb.StringValue
			// The body carries text that must never reach the log.
			req := wrapperspb.String("my journal: I texted him at 2am")
			if err := h.conn.Invoke(ctx, grpctest.MethodUnary, req, &out, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			ids := header.Get("x-request-id")
			if len(ids) != 1 || !tt.wantID(ids[0]) {
				t.Fatalf("x-request-id header = %q", ids)
			}
			if seen := strings.TrimPrefix(out.GetValue(), "u1/client "); seen != ids[0] {
				t.Errorf("handler saw request id %q, client got %q", seen, ids[0])
			}
			lines := h.logs.lines(`"request_id":"` + ids[0] + `"`)
			if len(lines) != 1 {
				t.Fatalf("want one access line with the request id, got %d:\n%s", len(lines), h.logs.String())
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatal(err)
			}
			if line["method"] != grpctest.MethodUnary || line["code"] != "OK" || line["duration_ms"] == nil {
				t.Errorf("access line lacks method, code or duration: %s", lines[0])
			}
		})
	}
	if strings.Contains(h.logs.String(), "2am") {
		t.Errorf("a request body reached the log:\n%s", h.logs.String())
	}
}

func TestRequestIDOnErrorAndStream(t *testing.T) {
	h := start(t, grpcserver.Options{}, &grpctest.Probe{
		Unary: func(context.Context, proto.Message) (proto.Message, error) { return nil, apperr.NotFound("no") },
		Bidi:  func(stream grpc.ServerStream) error { return stream.SendMsg(whoAmI(stream.Context())) },
	}, time.Second)
	ctx := metadata.AppendToOutgoingContext(bearer(t, "u1", auth.RoleClient), "x-request-id", "req-42")

	var header metadata.MD
	err := h.conn.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &emptypb.Empty{}, grpc.Header(&header))
	if status.Code(err) != codes.NotFound {
		t.Fatalf("got %v, want NotFound", err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "req-42" {
		t.Errorf("error response x-request-id = %q, want req-42", got)
	}

	stream, err := h.conn.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
	if err != nil {
		t.Fatal(err)
	}
	var out wrapperspb.StringValue
	if err := stream.RecvMsg(&out); err != nil {
		t.Fatal(err)
	}
	sh, err := stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := sh.Get("x-request-id"); len(got) != 1 || got[0] != "req-42" {
		t.Errorf("stream x-request-id header = %q, want req-42", got)
	}
	if out.GetValue() != "u1/client req-42" {
		t.Errorf("stream handler saw %q", out.GetValue())
	}
}

func healthStatus(t *testing.T, conn *grpc.ClientConn, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health check %q: %v", service, err)
	}
	return resp.GetStatus()
}

func TestReadiness(t *testing.T) {
	var mongoDown, natsPanics atomic.Bool

	h := start(t, grpcserver.Options{
		ReadinessInterval: 20 * time.Millisecond,
		Readiness: []grpcserver.Check{
			{Name: "mongo", Fn: func(context.Context) error {
				if mongoDown.Load() {
					return fmt.Errorf("ping: %w", errBoom)
				}
				return nil
			}},
			{Name: "nats", Fn: func(context.Context) error {
				if natsPanics.Load() {
					panic("nats check bug")
				}
				return nil
			}},
		},
	}, nil, time.Second)

	steps := []struct {
		name  string
		setup func()
		want  healthpb.HealthCheckResponse_ServingStatus
	}{
		{"all checks pass", func() {}, healthpb.HealthCheckResponse_SERVING},
		{"mongo fails", func() { mongoDown.Store(true) }, healthpb.HealthCheckResponse_NOT_SERVING},
		{"mongo recovers", func() { mongoDown.Store(false) }, healthpb.HealthCheckResponse_SERVING},
		{"a panicking check fails readiness", func() { natsPanics.Store(true) }, healthpb.HealthCheckResponse_NOT_SERVING},
		{"and recovers", func() { natsPanics.Store(false) }, healthpb.HealthCheckResponse_SERVING},
	}
	for _, step := range steps {
		step.setup()
		for _, svc := range []string{"", testService} {
			eventually(t, fmt.Sprintf("%s: health(%q) = %v", step.name, svc, step.want), func() bool {
				return healthStatus(t, h.conn, svc) == step.want
			})
		}
		// A dependency outage never makes the process look dead.
		if got := healthStatus(t, h.conn, grpcserver.LivenessService); got != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("%s: liveness = %v, want SERVING", step.name, got)
		}
	}
	if len(h.logs.lines("readiness check failing", "mongo", "boom")) == 0 {
		t.Errorf("failing check not logged:\n%s", h.logs.String())
	}
	if len(h.logs.lines("readiness check recovered", "mongo")) == 0 {
		t.Errorf("recovery not logged:\n%s", h.logs.String())
	}
	if err := h.stop(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestNotServingUntilFirstCheckPasses(t *testing.T) {
	release := make(chan struct{})
	h := start(t, grpcserver.Options{
		ReadinessInterval: time.Hour, // only the first round runs
		Readiness: []grpcserver.Check{{Name: "slow", Fn: func(ctx context.Context) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}},
	}, nil, time.Second)
	if got := healthStatus(t, h.conn, ""); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("before the first check: %v, want NOT_SERVING", got)
	}
	close(release)
	eventually(t, "SERVING after the first check", func() bool {
		return healthStatus(t, h.conn, testService) == healthpb.HealthCheckResponse_SERVING
	})
}

func TestShutdown(t *testing.T) {
	t.Run("health turns NOT_SERVING and Serve returns nil", func(t *testing.T) {
		h := start(t, grpcserver.Options{}, nil, 5*time.Second)
		watchCtx, stopWatch := context.WithCancel(context.Background())
		defer stopWatch()
		watch, err := healthpb.NewHealthClient(h.conn).Watch(watchCtx, &healthpb.HealthCheckRequest{Service: testService})
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("before shutdown: %v, %v; want SERVING", resp.GetStatus(), err)
		}
		h.cancel()
		resp, err := watch.Recv()
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("at shutdown: %v, %v; want NOT_SERVING", resp.GetStatus(), err)
		}
		stopWatch() // a watcher that goes away lets the graceful stop finish
		if err := h.stop(t); err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	})

	t.Run("in-flight call finishes", func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		h := start(t, grpcserver.Options{}, &grpctest.Probe{
			Unary: func(context.Context, proto.Message) (proto.Message, error) {
				close(entered)
				<-release
				return wrapperspb.String("done"), nil
			},
		}, 5*time.Second)
		callErr := make(chan error, 1)
		go func() {
			var out wrapperspb.StringValue
			callErr <- h.conn.Invoke(bearer(t, "u", auth.RoleClient), grpctest.MethodUnary, &emptypb.Empty{}, &out)
		}()
		<-entered
		h.cancel()
		close(release)
		if err := <-callErr; err != nil {
			t.Errorf("in-flight call: %v, want success", err)
		}
		if err := h.stop(t); err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	})

	t.Run("deadline cuts a stuck call", func(t *testing.T) {
		entered := make(chan struct{})
		h := start(t, grpcserver.Options{}, &grpctest.Probe{
			Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) {
				close(entered)
				<-ctx.Done() // stuck until the hard stop cancels it
				return nil, ctx.Err()
			},
		}, 100*time.Millisecond)
		callErr := make(chan error, 1)
		go func() {
			callErr <- h.conn.Invoke(bearer(t, "u", auth.RoleClient), grpctest.MethodUnary, &emptypb.Empty{}, &emptypb.Empty{})
		}()
		<-entered
		if err := h.stop(t); err != grpcserver.ErrForcedStop {
			t.Errorf("Serve = %v, want ErrForcedStop", err)
		}
		if err := <-callErr; err == nil {
			t.Error("stuck call succeeded")
		}
	})

	t.Run("serve twice", func(t *testing.T) {
		h := start(t, grpcserver.Options{}, nil, time.Second)
		healthStatus(t, h.conn, "") // the first Serve is running
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.srv.Serve(ctx, grpctest.Listen(t), time.Second); err == nil {
			t.Error("second Serve succeeded")
		}
	})
}

// TestStreamsEndWithServe checks that Serve's return leaves no stream
// handler running (goleak in TestMain checks the goroutines).
func TestStreamsEndWithServe(t *testing.T) {
	h := start(t, grpcserver.Options{}, &grpctest.Probe{
		Bidi: func(stream grpc.ServerStream) error {
			for {
				if err := stream.RecvMsg(&emptypb.Empty{}); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
			}
		},
	}, 50*time.Millisecond)
	stream, err := h.conn.NewStream(bearer(t, "u", auth.RoleClient), grpctest.BidiDesc, grpctest.MethodBidi)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(&emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := h.stop(t); err != grpcserver.ErrForcedStop {
		t.Errorf("Serve with an open stream = %v, want ErrForcedStop", err)
	}
}

// A process serving several services (plans serves PlansService and
// CareService) answers health for each of them, not only for the one it is
// named after, and each follows readiness.
func TestHealthAnswersForEveryRegisteredService(t *testing.T) {
	var down atomic.Bool
	h := start(t, grpcserver.Options{
		ServiceName:       "nocontact.test.v1.PrimaryService",
		ReadinessInterval: 20 * time.Millisecond,
		Readiness: []grpcserver.Check{{Name: "store", Fn: func(context.Context) error {
			if down.Load() {
				return errBoom
			}
			return nil
		}}},
	}, &grpctest.Probe{}, time.Second)
	for _, want := range []healthpb.HealthCheckResponse_ServingStatus{
		healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING,
	} {
		down.Store(want == healthpb.HealthCheckResponse_NOT_SERVING)
		for _, svc := range []string{"nocontact.test.v1.PrimaryService", grpctest.Service} {
			eventually(t, fmt.Sprintf("health(%q) = %v", svc, want), func() bool {
				return healthStatus(t, h.conn, svc) == want
			})
		}
	}
}
