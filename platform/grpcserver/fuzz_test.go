package grpcserver_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/internal/grpctest"

	// The suite's services, so that their descriptors are registered.
	_ "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"
	_ "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	_ "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	_ "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"
)

// fuzzRPC is one unary RPC of the suite that the request fuzzer calls.
type fuzzRPC struct {
	fullMethod string
	request    protoreflect.MessageType
}

// mutatingRPCs lists every unary RPC of the suite's services (nocontact.*)
// that creates or changes something: every method but the reads (Get,
// List, Search, Watch, Stream, Export). Sorted, so that a fuzz input's
// selector names the same RPC on every run (new RPCs shift the mapping; the
// seeds still decode, they only land on another request type).
func mutatingRPCs(tb testing.TB) []fuzzRPC {
	tb.Helper()
	var out []fuzzRPC
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "nocontact.") {
			return true
		}
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			sd := svcs.Get(i)
			ms := sd.Methods()
			for j := 0; j < ms.Len(); j++ {
				md := ms.Get(j)
				if md.IsStreamingClient() || md.IsStreamingServer() || isRead(string(md.Name())) {
					continue
				}
				mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
				if err != nil {
					tb.Fatalf("request type of %s: %v", md.FullName(), err)
				}
				out = append(out, fuzzRPC{fullMethod: "/" + string(sd.FullName()) + "/" + string(md.Name()), request: mt})
			}
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].fullMethod < out[j].fullMethod })
	return out
}

func isRead(method string) bool {
	for _, p := range []string{"Get", "List", "Search", "Watch", "Stream", "Export", "Batch"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// fuzzCodec sends the fuzz input's bytes as the request's wire form, exactly
// as given, and reads the answer's bytes without decoding them.
type fuzzCodec struct{}

func (fuzzCodec) Name() string { return "proto" }

func (fuzzCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (fuzzCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

var _ encoding.CodecV2 = fuzzCodec{}

// FuzzRequestValidation feeds arbitrary bytes, as the wire form of the
// request of one of the suite's create/update RPCs (picked by rpc), through
// the shared server: its decoding (requestCodec), checkRequest and the
// request type's protovalidate rules, over a real loopback connection. The
// handler behind them accepts anything that passes. Whatever the bytes, the
// server must not panic and must answer OK (the request was valid) or
// InvalidArgument with field violations (it was not): never Internal,
// Unknown or any other code, which would say the server failed on
// the caller's mistake.
func FuzzRequestValidation(f *testing.F) {
	rpcs := mutatingRPCs(f)
	if len(rpcs) < 7 {
		f.Fatalf("found %d create/update RPCs; the suite has at least 7", len(rpcs))
	}

	srv := grpcserver.New(grpcserver.Options{
		Clock:         clock.NewFake(time.Date(2026, 11, 1, 1, 30, 0, 0, time.UTC)),
		PublicMethods: methodNames(rpcs),
	})
	registerAccepting(srv.GRPC(), rpcs)
	lis := grpctest.Listen(f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, 5*time.Second) }()
	conn := grpctest.Dial(f, lis.Addr().String(), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(fuzzCodec{})))
	f.Cleanup(func() {
		_ = conn.Close()
		cancel()
		<-done
	})

	f.Fuzz(func(t *testing.T, rpc uint16, wire []byte) {
		r := rpcs[int(rpc)%len(rpcs)]
		var reply []byte
		err := conn.Invoke(context.Background(), r.fullMethod, &wire, &reply)
		switch st := status.Convert(err); st.Code() {
		case codes.OK, codes.InvalidArgument:
		default:
			t.Fatalf("%s with %d bytes %q: %v, want OK or InvalidArgument", r.fullMethod, len(wire), wire, err)
		}
	})
}

func methodNames(rpcs []fuzzRPC) []string {
	out := make([]string, len(rpcs))
	for i, r := range rpcs {
		out[i] = r.fullMethod
	}
	return out
}

// registerAccepting registers, for each service of rpcs, a handler per RPC
// that decodes the RPC's real request type and answers Empty.
func registerAccepting(reg grpc.ServiceRegistrar, rpcs []fuzzRPC) {
	bySvc := map[string][]fuzzRPC{}
	for _, r := range rpcs {
		svc := strings.Split(r.fullMethod, "/")[1]
		bySvc[svc] = append(bySvc[svc], r)
	}
	for svc, rs := range bySvc {
		sd := &grpc.ServiceDesc{ServiceName: svc, HandlerType: (*any)(nil)}
		for _, r := range rs {
			sd.Methods = append(sd.Methods, grpc.MethodDesc{
				MethodName: strings.Split(r.fullMethod, "/")[2],
				Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
					req := r.request.New().Interface()
					if err := dec(req); err != nil {
						return nil, err
					}
					h := func(context.Context, any) (any, error) { return &emptypb.Empty{}, nil }
					if in == nil {
						return h(ctx, req)
					}
					return in(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: r.fullMethod}, h)
				},
			})
		}
		reg.RegisterService(sd, struct{}{})
	}
}

// TestFuzzRequestRPCs names the RPCs the fuzzer covers, so that a renamed
// method that drops out of the list is noticed.
func TestFuzzRequestRPCs(t *testing.T) {
	got := map[string]bool{}
	for _, r := range mutatingRPCs(t) {
		got[r.fullMethod[strings.LastIndex(r.fullMethod, "/")+1:]] = true
	}
	for _, m := range []string{"CreatePlan", "UpdatePlan", "CreateEntry", "UpdateContact", "CreateWebhook",
		"UpdateNotificationPreferences", "CreateCareAssignment"} {
		if !got[m] {
			t.Errorf("%s is not fuzzed; fuzzed: %v", m, fmt.Sprint(got))
		}
	}
}
