package grpcserver_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/internal/grpctest"
)

// rawCodec sends a request's bytes as they are, so a test can send what no
// well-behaved client would.
type rawCodec struct{}

type rawMsg []byte

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*rawMsg))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func (rawCodec) Name() string { return "proto" }

// countingProbe answers unary and stream calls with requests of type newReq
// and counts what its handlers were given.
func countingProbe(newReq func() proto.Message, handled *atomic.Int32) *grpctest.Probe {
	return &grpctest.Probe{
		NewRequest: newReq,
		Unary: func(context.Context, proto.Message) (proto.Message, error) {
			handled.Add(1)
			return &emptypb.Empty{}, nil
		},
		Bidi: func(stream grpc.ServerStream) error {
			for {
				err := stream.RecvMsg(newReq())
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				handled.Add(1)
			}
		},
	}
}

func TestMalformedRequestsAreInvalidArgument(t *testing.T) {
	var handled atomic.Int32
	h := start(t, grpcserver.Options{}, countingProbe(func() proto.Message { return &wrapperspb.StringValue{} }, &handled), time.Second)
	cases := map[string][]byte{
		"invalid UTF-8 in a string": {0x0a, 0x02, 0xff, 0xfe},
		"truncated":                 {0x0a, 0x05, 'a', 'b'},
		"nested groups":             bytes.Repeat([]byte{0x1b}, 20000), // start group, field 3, 20000 deep
		"bad tag":                   {0x00},
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := bearer(t, "u1", auth.RoleClient)
			msg := rawMsg(raw)
			err := h.conn.Invoke(ctx, grpctest.MethodUnary, &msg, &emptypb.Empty{}, grpc.ForceCodecV2(rawCodec{}))
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "malformed") {
				t.Errorf("unary: %v, want InvalidArgument saying the message is malformed", err)
			}

			stream, err := h.conn.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi, grpc.ForceCodecV2(rawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.SendMsg(&msg); err != nil {
				t.Fatal(err)
			}
			_ = stream.CloseSend()
			if err := stream.RecvMsg(&emptypb.Empty{}); status.Code(err) != codes.InvalidArgument {
				t.Errorf("stream: %v, want InvalidArgument", err)
			}
		})
	}
	if handled.Load() != 0 {
		t.Errorf("handlers ran %d times on malformed requests", handled.Load())
	}
}

func TestMessageAndMetadataSizesAreBounded(t *testing.T) {
	var handled atomic.Int32
	h := start(t, grpcserver.Options{}, countingProbe(func() proto.Message { return &wrapperspb.StringValue{} }, &handled), time.Second)
	ctx := bearer(t, "u1", auth.RoleClient)

	fits := wrapperspb.String(strings.Repeat("a", grpcserver.DefaultMaxRecvMsgBytes-16))
	if err := h.conn.Invoke(ctx, grpctest.MethodUnary, fits, &emptypb.Empty{}); err != nil {
		t.Fatalf("a message within the limit: %v", err)
	}
	tooBig := wrapperspb.String(strings.Repeat("a", 2<<20))
	if err := h.conn.Invoke(ctx, grpctest.MethodUnary, tooBig, &emptypb.Empty{}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 2 MiB message: %v, want ResourceExhausted", err)
	}

	bigMD := metadata.AppendToOutgoingContext(ctx, "x-padding", strings.Repeat("p", 64<<10))
	if err := h.conn.Invoke(bigMD, grpctest.MethodUnary, wrapperspb.String("x"), &emptypb.Empty{}); err == nil {
		t.Error("a call with 64 KiB of metadata was served")
	}
	bigToken := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+strings.Repeat("t", 1<<20))
	if err := h.conn.Invoke(bigToken, grpctest.MethodUnary, wrapperspb.String("x"), &emptypb.Empty{}); err == nil {
		t.Error("a call with a 1 MiB token was served")
	}
	if got := handled.Load(); got != 1 {
		t.Errorf("handler ran %d times, want once (the message within limits)", got)
	}
	// The connection is still good after the refusals.
	if err := h.conn.Invoke(ctx, grpctest.MethodUnary, wrapperspb.String("x"), &emptypb.Empty{}); err != nil {
		t.Fatalf("a normal call after the refusals: %v", err)
	}
}

func TestEveryRequestRefusesNULAndImpossibleTimestamps(t *testing.T) {
	var handled atomic.Int32
	var newReq func() proto.Message
	h := start(t, grpcserver.Options{}, countingProbe(func() proto.Message { return newReq() }, &handled), time.Second)

	validPlan := func() *plansv1.CreatePlanRequest {
		return &plansv1.CreatePlanRequest{Plan: &plansv1.Plan{
			TargetDays: proto.Int32(30), TimeZone: "Europe/Berlin", StartTime: timestamppb.New(testNow),
		}}
	}
	type tc struct {
		name   string
		newReq func() proto.Message
		req    proto.Message
		want   []apperr.FieldViolation // nil: accepted
	}
	planReq := func() proto.Message { return &plansv1.CreatePlanRequest{} }
	withPlan := func(f func(*plansv1.CreatePlanRequest)) proto.Message {
		r := validPlan()
		f(r)
		return r
	}
	nul := "must not contain a NUL byte"
	tsRange := "must be a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
	tests := []tc{
		{"valid plan", planReq, validPlan(), nil},
		{"zero time (0001-01-01T00:00:00Z)", planReq, withPlan(func(r *plansv1.CreatePlanRequest) {
			r.Plan.StartTime = &timestamppb.Timestamp{Seconds: -62135596800}
		}), []apperr.FieldViolation{{Field: "plan.start_time", Description: tsRange}}},
		{"before 1970", planReq, withPlan(func(r *plansv1.CreatePlanRequest) {
			r.Plan.StartTime = &timestamppb.Timestamp{Seconds: -1}
		}), []apperr.FieldViolation{{Field: "plan.start_time", Description: tsRange}}},
		{"after 9999", planReq, withPlan(func(r *plansv1.CreatePlanRequest) {
			r.Plan.StartTime = &timestamppb.Timestamp{Seconds: 253402300800}
		}), []apperr.FieldViolation{{Field: "plan.start_time", Description: tsRange}}},
		{"negative nanos", planReq, withPlan(func(r *plansv1.CreatePlanRequest) {
			r.Plan.StartTime = &timestamppb.Timestamp{Seconds: testNow.Unix(), Nanos: -1}
		}), []apperr.FieldViolation{{Field: "plan.start_time", Description: "must have nanos from 0 to 999999999"}}},
		{"nanos of a whole second", planReq, withPlan(func(r *plansv1.CreatePlanRequest) {
			r.Plan.StartTime = &timestamppb.Timestamp{Seconds: testNow.Unix(), Nanos: 1_000_000_000}
		}), []apperr.FieldViolation{{Field: "plan.start_time", Description: "must have nanos from 0 to 999999999"}}},
		{"NUL in a repeated text", planReq, withPlan(func(r *plansv1.CreatePlanRequest) {
			r.Plan.Reasons = []string{"my peace", "sleep\x00again"}
		}), []apperr.FieldViolation{{Field: "plan.reasons[1]", Description: nul}}},
		{"NUL in an id", planReq, withPlan(func(r *plansv1.CreatePlanRequest) { r.RequestId = "abc\x00" }),
			[]apperr.FieldViolation{{Field: "request_id", Description: nul}, {Field: "request_id", Description: "does not match regex pattern `^[A-Za-z0-9_-]*$`"}}},
		{"NUL in a map key and value", func() proto.Message { return &structpb.Struct{} },
			&structpb.Struct{Fields: map[string]*structpb.Value{"a\x00": structpb.NewStringValue("x\x00")}},
			[]apperr.FieldViolation{
				{Field: "fields", Description: "has a key that contains a NUL byte"},
				{Field: `fields["a\x00"].string_value`, Description: nul},
			}},
		{"a separator in a client id", func() proto.Message { return &plansv1.ListConsentsRequest{} },
			&plansv1.ListConsentsRequest{ClientId: "a|b"},
			[]apperr.FieldViolation{{Field: "client_id", Description: "must be a user id: " + auth.UserIDRule}}},
		{"a slash in a nested counsellor id", func() proto.Message { return &plansv1.CreateCareAssignmentRequest{} },
			&plansv1.CreateCareAssignmentRequest{CareAssignment: &plansv1.CareAssignment{ClientId: "client-1", CounsellorId: "../k1"}},
			[]apperr.FieldViolation{{Field: "care_assignment.counsellor_id", Description: "must be a user id: " + auth.UserIDRule}}},
		{"plain user ids pass", func() proto.Message { return &plansv1.CreateCareAssignmentRequest{} },
			&plansv1.CreateCareAssignmentRequest{CareAssignment: &plansv1.CareAssignment{ClientId: "client-1", CounsellorId: "3f1c9a2e-0b7d-4c55-9e0a-1d2b3c4d5e6f"}}, nil},
		{"a Timestamp request", func() proto.Message { return &timestamppb.Timestamp{} },
			&timestamppb.Timestamp{Seconds: -62135596800},
			[]apperr.FieldViolation{{Field: "", Description: tsRange}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newReq = tt.newReq
			ctx := bearer(t, "u1", auth.RoleClient)
			before := handled.Load()
			err := h.conn.Invoke(ctx, grpctest.MethodUnary, tt.req, &emptypb.Empty{})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("%v, want InvalidArgument", err)
			}
			assertBadRequest(t, st, tt.want)
			if handled.Load() != before {
				t.Error("the handler ran")
			}
		})
	}
}

// Straight to gRPC, each identity has its own rate: past its burst a call
// answers ResourceExhausted with how long to wait, while another identity
// and the health service are unaffected; time refills the bucket.
func TestCallsAreRateLimitedPerIdentity(t *testing.T) {
	var handled atomic.Int32
	clk := fakeAt(testNow)
	h := start(t, grpcserver.Options{Clock: clk, RateLimitPerSecond: 1, RateLimitBurst: 2},
		countingProbe(func() proto.Message { return &wrapperspb.StringValue{} }, &handled), time.Second)
	call := func(ctx context.Context) error {
		return h.conn.Invoke(ctx, grpctest.MethodUnary, wrapperspb.String("x"), &emptypb.Empty{})
	}
	a, b := bearer(t, "u1", auth.RoleClient), bearer(t, "u2", auth.RoleClient)
	for i := range 2 {
		if err := call(a); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	err := call(a)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a call past the burst = %v, want ResourceExhausted", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("the refusal carries no retry delay: %v", status.Convert(err).Details())
	}
	if err := call(b); err != nil {
		t.Fatalf("another identity was limited by the first one's calls: %v", err)
	}
	health := healthpb.NewHealthClient(h.conn)
	for range 5 {
		if _, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health was limited: %v", err)
		}
	}
	clk.Advance(time.Second)
	if err := call(a); err != nil {
		t.Fatalf("after a second the bucket did not refill: %v", err)
	}
	if got := handled.Load(); got != 4 {
		t.Errorf("handler ran %d times, want 4", got)
	}
}
