package grpcserver_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/internal/grpctest"
)

// createPlanRequest builds, at run time, the descriptor of
//
//	message CreatePlanRequest { Plan plan = 1; }
//	message Plan {
//	  int32 target_days = 1 [(buf.validate.field).int32 = {gte: 1, lte: 365}];
//	  repeated string reasons = 2 [(buf.validate.field).repeated.items.string.min_len = 1];
//	}
//
// so that the interceptor can be tested with real rules before the suite's
// own protos exist.
func createPlanRequest(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	fieldOpts := func(rules *validate.FieldRules) *descriptorpb.FieldOptions {
		opts := &descriptorpb.FieldOptions{}
		proto.SetExtension(opts, validate.E_Field, rules)
		return opts
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("platformtest/plan.proto"),
		Package:    proto.String("platformtest"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"buf/validate/validate.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("CreatePlanRequest"),
				Field: []*descriptorpb.FieldDescriptorProto{{
					Name: proto.String("plan"), JsonName: proto.String("plan"), Number: proto.Int32(1),
					Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
					Type:  descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".platformtest.Plan"),
				}},
			},
			{
				Name: proto.String("Plan"),
				Field: []*descriptorpb.FieldDescriptorProto{
					{
						Name: proto.String("target_days"), JsonName: proto.String("targetDays"), Number: proto.Int32(1),
						Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
						Type:  descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(),
						Options: fieldOpts(validate.FieldRules_builder{
							Int32: validate.Int32Rules_builder{Gte: proto.Int32(1), Lte: proto.Int32(365)}.Build(),
						}.Build()),
					},
					{
						Name: proto.String("reasons"), JsonName: proto.String("reasons"), Number: proto.Int32(2),
						Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(),
						Type:  descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
						Options: fieldOpts(validate.FieldRules_builder{
							Repeated: validate.RepeatedRules_builder{
								Items: validate.FieldRules_builder{
									String: validate.StringRules_builder{MinLen: proto.Uint64(1)}.Build(),
								}.Build(),
							}.Build(),
						}.Build()),
					},
				},
			},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("build test descriptor: %v", err)
	}
	return fd.Messages().ByName("CreatePlanRequest")
}

// newCreatePlan returns a CreatePlanRequest with the given plan fields.
func newCreatePlan(md protoreflect.MessageDescriptor, targetDays int32, reasons ...string) *dynamicpb.Message {
	req := dynamicpb.NewMessage(md)
	planField := md.Fields().ByName("plan")
	plan := dynamicpb.NewMessage(planField.Message())
	plan.Set(planField.Message().Fields().ByName("target_days"), protoreflect.ValueOfInt32(targetDays))
	list := plan.Mutable(planField.Message().Fields().ByName("reasons")).List()
	for _, r := range reasons {
		list.Append(protoreflect.ValueOfString(r))
	}
	req.Set(planField, protoreflect.ValueOfMessage(plan))
	return req
}

func TestValidation(t *testing.T) {
	md := createPlanRequest(t)
	var handled atomic.Int32
	h := start(t, grpcserver.Options{}, &grpctest.Probe{
		NewRequest: func() proto.Message { return dynamicpb.NewMessage(md) },
		Unary: func(context.Context, proto.Message) (proto.Message, error) {
			handled.Add(1)
			return &emptypb.Empty{}, nil
		},
		Bidi: func(stream grpc.ServerStream) error {
			for {
				err := stream.RecvMsg(dynamicpb.NewMessage(md))
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err // a validation error, returned as is
				}
				handled.Add(1)
			}
		},
	}, time.Second)

	tests := []struct {
		name     string
		req      proto.Message
		wantCode codes.Code
		want     []apperr.FieldViolation
	}{
		{"valid", newCreatePlan(md, 30, "my peace"), codes.OK, nil},
		{"empty reasons are fine", newCreatePlan(md, 365), codes.OK, nil},
		{"target out of range", newCreatePlan(md, 0, "ok"), codes.InvalidArgument, []apperr.FieldViolation{
			{Field: "plan.target_days", Description: "must be greater than or equal to 1 and less than or equal to 365"},
		}},
		{"two violations", newCreatePlan(md, 400, "ok", ""), codes.InvalidArgument, []apperr.FieldViolation{
			{Field: "plan.target_days", Description: "must be greater than or equal to 1 and less than or equal to 365"},
			{Field: "plan.reasons[1]", Description: "must be at least 1 characters"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := bearer(t, "u1", auth.RoleClient)
			before := handled.Load()

			err := h.conn.Invoke(ctx, grpctest.MethodUnary, tt.req, &emptypb.Empty{})
			st := status.Convert(err)
			if st.Code() != tt.wantCode {
				t.Fatalf("unary: %v, want %v", err, tt.wantCode)
			}
			if tt.wantCode != codes.OK {
				assertBadRequest(t, st, tt.want)
				if handled.Load() != before {
					t.Error("unary: the handler ran on an invalid request")
				}
			}

			stream, err := h.conn.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.SendMsg(tt.req); err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			recvErr := stream.RecvMsg(&emptypb.Empty{})
			switch tt.wantCode {
			case codes.OK:
				// The handler read the message and ended at EOF.
				if recvErr != io.EOF {
					t.Errorf("stream: %v, want a clean end", recvErr)
				}
			default:
				st := status.Convert(recvErr)
				if st.Code() != tt.wantCode {
					t.Fatalf("stream: %v, want %v", recvErr, tt.wantCode)
				}
				assertBadRequest(t, st, tt.want)
			}
		})
	}
}

// TestValidationWithoutRules checks that messages without rules (most
// well-known types) pass untouched.
func TestValidationWithoutRules(t *testing.T) {
	h := start(t, grpcserver.Options{}, &grpctest.Probe{
		NewRequest: func() proto.Message { return &wrapperspb.StringValue{} },
		Unary: func(_ context.Context, req proto.Message) (proto.Message, error) {
			return req, nil
		},
	}, time.Second)
	var out wrapperspb.StringValue
	err := h.conn.Invoke(bearer(t, "u", auth.RoleClient), grpctest.MethodUnary, wrapperspb.String("hi"), &out)
	if err != nil || out.GetValue() != "hi" {
		t.Errorf("got %q, %v; want the echo", out.GetValue(), err)
	}
}

func TestValidationViolations(t *testing.T) {
	elem := func(name string, sub func(b *validate.FieldPathElement_builder)) *validate.FieldPathElement {
		b := validate.FieldPathElement_builder{FieldName: proto.String(name)}
		if sub != nil {
			sub(&b)
		}
		return b.Build()
	}
	violation := func(msg, ruleID string, path ...*validate.FieldPathElement) *protovalidate.Violation {
		v := validate.Violation_builder{RuleId: proto.String(ruleID)}
		if msg != "" {
			v.Message = proto.String(msg)
		}
		if len(path) > 0 {
			v.Field = validate.FieldPath_builder{Elements: path}.Build()
		}
		return &protovalidate.Violation{Proto: v.Build()}
	}
	tests := []struct {
		name string
		in   *protovalidate.ValidationError
		want []apperr.FieldViolation
	}{
		{"nil", nil, nil},
		{"nested field", &protovalidate.ValidationError{Violations: []*protovalidate.Violation{
			violation("must be at most 365", "int32.lte", elem("plan", nil), elem("target_days", nil)),
		}}, []apperr.FieldViolation{{Field: "plan.target_days", Description: "must be at most 365"}}},
		{"repeated index and map key", &protovalidate.ValidationError{Violations: []*protovalidate.Violation{
			violation("too short", "string.min_len", elem("reasons", func(b *validate.FieldPathElement_builder) { b.Index = proto.Uint64(2) })),
			violation("bad label", "string.pattern", elem("labels", func(b *validate.FieldPathElement_builder) { b.StringKey = proto.String("x") })),
		}}, []apperr.FieldViolation{
			{Field: "reasons[2]", Description: "too short"},
			{Field: `labels["x"]`, Description: "bad label"},
		}},
		{"message-level rule", &protovalidate.ValidationError{Violations: []*protovalidate.Violation{
			violation("end must be after start", "plan.window"),
		}}, []apperr.FieldViolation{{Field: "", Description: "end must be after start"}}},
		{"no message falls back to the rule id", &protovalidate.ValidationError{Violations: []*protovalidate.Violation{
			violation("", "plan.custom", elem("plan", nil)),
		}}, []apperr.FieldViolation{{Field: "plan", Description: "violates rule plan.custom"}}},
		{"nil entries are skipped", &protovalidate.ValidationError{Violations: []*protovalidate.Violation{nil, {}}}, []apperr.FieldViolation{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := grpcserver.ValidationViolations(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
