package apperr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nocontact/backend/platform/apperr"
)

func TestToStatus(t *testing.T) {
	secret := errors.New("mongo: connection refused at 10.0.0.7 for user plans_rw")
	tests := []struct {
		name     string
		err      error
		wantCode codes.Code
		wantMsg  string
	}{
		{"nil", nil, codes.OK, ""},
		{"not found", apperr.NotFound("plan not found"), codes.NotFound, "plan not found"},
		{"formatted", apperr.NotFound("plan %q not found", "p1"), codes.NotFound, `plan "p1" not found`},
		{"literal percent kept", apperr.FailedPrecondition("100% done"), codes.FailedPrecondition, "100% done"},
		{"empty message gets a default", apperr.NotFound(""), codes.NotFound, "not found"},
		{"already exists", apperr.AlreadyExists("plan exists"), codes.AlreadyExists, "plan exists"},
		{"failed precondition", apperr.FailedPrecondition("plan is not active"), codes.FailedPrecondition, "plan is not active"},
		{"permission denied", apperr.PermissionDenied("admins only"), codes.PermissionDenied, "admins only"},
		{"unauthenticated", apperr.Unauthenticated("sign in"), codes.Unauthenticated, "sign in"},
		{"unavailable", apperr.Unavailable("try later"), codes.Unavailable, "try later"},
		{"aborted", apperr.Aborted("changed meanwhile"), codes.Aborted, "changed meanwhile"},
		{"resource exhausted", apperr.ResourceExhausted("slow down"), codes.ResourceExhausted, "slow down"},
		{"wrapped once", fmt.Errorf("load plan p1: %w", apperr.NotFound("plan not found")), codes.NotFound, "plan not found"},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", apperr.Aborted("retry"))), codes.Aborted, "retry"},
		{"wrap keeps cause out of message", apperr.Wrap(apperr.KindUnavailable, secret, "database unavailable"), codes.Unavailable, "database unavailable"},
		{"bare kind", fmt.Errorf("x: %w", apperr.KindNotFound), codes.NotFound, "not found"},
		{"invalid kind", apperr.Wrap(apperr.Kind(99), secret, "boom"), codes.Internal, "internal error"},
		{"canceled", context.Canceled, codes.Canceled, "request canceled"},
		{"wrapped deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "deadline exceeded"},
		{"unknown error", secret, codes.Internal, "internal error"},
		{"wrapped unknown error", fmt.Errorf("load plan: %w", io.ErrUnexpectedEOF), codes.Internal, "internal error"},
		{"status passes through", status.Error(codes.NotFound, "downstream says no"), codes.NotFound, "downstream says no"},
		{"wrapped status keeps its own message", fmt.Errorf("call plans for p1: %w", status.Error(codes.PermissionDenied, "nope")), codes.PermissionDenied, "nope"},
		{"downstream internal is hidden", status.Error(codes.Internal, "panic at db.go:12"), codes.Internal, "internal error"},
		{"downstream unknown is hidden", status.Error(codes.Unknown, secret.Error()), codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := apperr.ToStatus(tt.err)
			if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
				t.Errorf("ToStatus() = %v %q, want %v %q", st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(st.Message(), "10.0.0.7") || strings.Contains(st.Message(), "load plan") {
				t.Errorf("status message leaks internals: %q", st.Message())
			}
		})
	}
}

func TestToStatusStatusDetailsPassThrough(t *testing.T) {
	in, err := status.New(codes.InvalidArgument, "bad").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "a", Description: "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := apperr.ToStatus(fmt.Errorf("downstream: %w", in.Err()))
	if !proto.Equal(st.Proto(), in.Proto()) {
		t.Errorf("status changed on the way through: got %v, want %v", st.Proto(), in.Proto())
	}
}

func TestInvalidArgumentDetails(t *testing.T) {
	tests := []struct {
		name       string
		violations []apperr.FieldViolation
		wantMsg    string
	}{
		{"none", nil, "invalid argument"},
		{
			"one",
			[]apperr.FieldViolation{{Field: "plan.target_days", Description: "must be between 1 and 365"}},
			"invalid argument: plan.target_days: must be between 1 and 365",
		},
		{
			"many are summarised",
			[]apperr.FieldViolation{
				{Field: "a", Description: "x"}, {Field: "b", Description: "y"}, {Field: "c", Description: "z"},
				{Field: "d", Description: "w"}, {Field: "e", Description: "v"},
			},
			"invalid argument: a: x; b: y; c: z (and 2 more)",
		},
		{"message-level violation", []apperr.FieldViolation{{Description: "end before start"}}, "invalid argument: end before start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("create plan: %w", apperr.InvalidArgument(tt.violations...))
			st := apperr.ToStatus(err)
			if st.Code() != codes.InvalidArgument || st.Message() != tt.wantMsg {
				t.Errorf("ToStatus() = %v %q, want InvalidArgument %q", st.Code(), st.Message(), tt.wantMsg)
			}
			var got []apperr.FieldViolation
			for _, d := range st.Details() {
				br, ok := d.(*errdetails.BadRequest)
				if !ok {
					t.Fatalf("unexpected detail %T", d)
				}
				for _, fv := range br.GetFieldViolations() {
					got = append(got, apperr.FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.violations) {
				t.Errorf("BadRequest violations = %v, want %v", got, tt.violations)
			}
		})
	}
}

func TestErrorsIsAndAs(t *testing.T) {
	cause := errors.New("duplicate key")
	err := fmt.Errorf("create: %w", apperr.Wrap(apperr.KindAlreadyExists, cause, "plan %s exists", "p1"))

	if !errors.Is(err, apperr.KindAlreadyExists) {
		t.Error("errors.Is(err, KindAlreadyExists) = false")
	}
	if errors.Is(err, apperr.KindNotFound) {
		t.Error("errors.Is(err, KindNotFound) = true")
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is(err, cause) = false: Wrap lost the cause")
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatal("errors.As(*apperr.Error) = false")
	}
	if ae.Kind() != apperr.KindAlreadyExists || ae.Message() != "plan p1 exists" {
		t.Errorf("Kind, Message = %v, %q", ae.Kind(), ae.Message())
	}
	if k, ok := apperr.KindOf(err); !ok || k != apperr.KindAlreadyExists {
		t.Errorf("KindOf = %v, %v", k, ok)
	}
	if _, ok := apperr.KindOf(cause); ok {
		t.Error("KindOf(plain error) = ok")
	}
	if got := err.Error(); got != "create: plan p1 exists: duplicate key" {
		t.Errorf("Error() = %q: logs should see the cause", got)
	}

	// Violations returns a copy: callers cannot change a shared error.
	v := []apperr.FieldViolation{{Field: "f", Description: "d"}}
	iaErr := apperr.InvalidArgument(v...)
	v[0].Field = "changed"
	errors.As(iaErr, &ae)
	ae.Violations()[0].Field = "changed too"
	if got := ae.Violations()[0].Field; got != "f" {
		t.Errorf("violation field = %q, want f", got)
	}
}

func TestKindNames(t *testing.T) {
	tests := []struct {
		kind apperr.Kind
		name string
		code codes.Code
	}{
		{apperr.KindInvalidArgument, "InvalidArgument", codes.InvalidArgument},
		{apperr.KindNotFound, "NotFound", codes.NotFound},
		{apperr.KindAlreadyExists, "AlreadyExists", codes.AlreadyExists},
		{apperr.KindFailedPrecondition, "FailedPrecondition", codes.FailedPrecondition},
		{apperr.KindPermissionDenied, "PermissionDenied", codes.PermissionDenied},
		{apperr.KindUnauthenticated, "Unauthenticated", codes.Unauthenticated},
		{apperr.KindUnavailable, "Unavailable", codes.Unavailable},
		{apperr.KindAborted, "Aborted", codes.Aborted},
		{apperr.KindResourceExhausted, "ResourceExhausted", codes.ResourceExhausted},
		{apperr.Kind(0), "Kind(0)", codes.Internal},
	}
	for _, tt := range tests {
		if tt.kind.String() != tt.name || tt.kind.Code() != tt.code {
			t.Errorf("Kind %d: String, Code = %q, %v; want %q, %v", int(tt.kind), tt.kind, tt.kind.Code(), tt.name, tt.code)
		}
	}
}
