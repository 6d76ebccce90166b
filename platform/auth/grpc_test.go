package auth_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/internal/grpctest"
)

// whoAmI answers with "subject/role" of the caller, or "anonymous".
func whoAmI(ctx context.Context) *wrapperspb.StringValue {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return wrapperspb.String("anonymous")
	}
	return wrapperspb.String(id.Subject + "/" + string(id.Role))
}

// startAuthServer serves the probe behind the auth interceptors.
func startAuthServer(t *testing.T, public func(string) bool) *grpc.ClientConn {
	t.Helper()
	v := auth.NewHS256Verifier(secret, issuer, audience, clock.NewFake(now))
	s := grpc.NewServer(
		grpc.UnaryInterceptor(auth.UnaryServerInterceptor(v, public)),
		grpc.StreamInterceptor(auth.StreamServerInterceptor(v, public)),
	)
	(&grpctest.Probe{
		Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) { return whoAmI(ctx), nil },
		Bidi: func(stream grpc.ServerStream) error {
			return stream.SendMsg(whoAmI(stream.Context()))
		},
	}).Register(s)
	return grpctest.Dial(t, grpctest.Serve(t, s))
}

func token(t *testing.T, mutate func(c map[string]any)) string {
	t.Helper()
	c := validClaims()
	if mutate != nil {
		mutate(c)
	}
	return sign(t, jwt.SigningMethodHS256, secret, c)
}

func TestServerInterceptors(t *testing.T) {
	conn := startAuthServer(t, nil)
	tests := []struct {
		name     string
		md       []string // alternating key, value
		wantCode codes.Code
		wantWho  string
	}{
		{"valid token", []string{"authorization", "Bearer " + token(t, nil)}, codes.OK, "user-1/client"},
		{"scheme is case-insensitive", []string{"authorization", "bearer " + token(t, nil)}, codes.OK, "user-1/client"},
		{"missing token", nil, codes.Unauthenticated, ""},
		{"empty bearer", []string{"authorization", "Bearer "}, codes.Unauthenticated, ""},
		{"basic auth", []string{"authorization", "Basic dXNlcjpwYXNz"}, codes.Unauthenticated, ""},
		{"token without scheme", []string{"authorization", token(t, nil)}, codes.Unauthenticated, ""},
		{"two authorization entries", []string{"authorization", "Bearer " + token(t, nil), "authorization", "Bearer " + token(t, nil)}, codes.Unauthenticated, ""},
		{"expired", []string{"authorization", "Bearer " + token(t, func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })}, codes.Unauthenticated, ""},
		{"badly signed", []string{"authorization", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("wrong-secret-wrong-secret-wrong!"), validClaims())}, codes.Unauthenticated, ""},
		{"wrong audience", []string{"authorization", "Bearer " + token(t, func(c map[string]any) { c["aud"] = "gateway-admin" })}, codes.Unauthenticated, ""},
		{"unknown role", []string{"authorization", "Bearer " + token(t, func(c map[string]any) { c["role"] = "root" })}, codes.Unauthenticated, ""},
		{"identity header is not trusted", []string{"x-user-id", "admin-1", "x-role", "admin"}, codes.Unauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), tt.md...)

			// Unary.
			var out wrapperspb.StringValue
			err := conn.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &out)
			checkAuthResult(t, "unary", err, out.GetValue(), tt.wantCode, tt.wantWho)

			// Stream.
			stream, err := conn.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
			if err != nil {
				t.Fatalf("NewStream: %v", err)
			}
			var sout wrapperspb.StringValue
			err = stream.RecvMsg(&sout)
			checkAuthResult(t, "stream", err, sout.GetValue(), tt.wantCode, tt.wantWho)
		})
	}
}

func checkAuthResult(t *testing.T, kind string, err error, who string, wantCode codes.Code, wantWho string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != wantCode {
		t.Fatalf("%s: code = %v (%q), want %v", kind, st.Code(), st.Message(), wantCode)
	}
	if wantCode == codes.OK {
		if who != wantWho {
			t.Errorf("%s: handler saw %q, want %q", kind, who, wantWho)
		}
		return
	}
	// The client learns nothing about why the token failed.
	if msg := st.Message(); msg != "missing bearer token" && msg != "invalid or expired token" {
		t.Errorf("%s: message %q is not one of the plain messages", kind, msg)
	}
	// An ErrorInfo says which of the two, and nothing more.
	var reasons []string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == auth.ErrorDomain {
			reasons = append(reasons, info.GetReason())
		}
	}
	if len(reasons) != 1 || reasons[0] != auth.ReasonTokenMissing && reasons[0] != auth.ReasonTokenInvalid {
		t.Errorf("%s: ErrorInfo reasons %v, want exactly one of TOKEN_MISSING, TOKEN_INVALID", kind, reasons)
	}
}

func TestPublicMethodsSkipAuth(t *testing.T) {
	conn := startAuthServer(t, func(m string) bool { return m == grpctest.MethodUnary })
	var out wrapperspb.StringValue
	if err := conn.Invoke(context.Background(), grpctest.MethodUnary, &emptypb.Empty{}, &out); err != nil {
		t.Fatalf("public method without token: %v", err)
	}
	if out.GetValue() != "anonymous" {
		t.Errorf("public method saw identity %q, want anonymous", out.GetValue())
	}
	stream, err := conn.NewStream(context.Background(), grpctest.BidiDesc, grpctest.MethodBidi)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.RecvMsg(&out); status.Code(err) != codes.Unauthenticated {
		t.Errorf("non-public stream without token: %v, want Unauthenticated", err)
	}
}

func TestNilVerifierDeniesByDefault(t *testing.T) {
	s := grpc.NewServer(grpc.UnaryInterceptor(auth.UnaryServerInterceptor(nil, nil)))
	(&grpctest.Probe{}).Register(s)
	conn := grpctest.Dial(t, grpctest.Serve(t, s))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token(t, nil))
	err := conn.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &emptypb.Empty{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("nil verifier: %v, want Unauthenticated", err)
	}
}

// TestForwardInterceptors runs a front service that calls a back service on
// the caller's behalf: the back service must see the caller's identity,
// verified from the forwarded token.
func TestForwardInterceptors(t *testing.T) {
	v := auth.NewHS256Verifier(secret, issuer, audience, clock.NewFake(now))
	back := grpc.NewServer(
		grpc.UnaryInterceptor(auth.UnaryServerInterceptor(v, nil)),
		grpc.StreamInterceptor(auth.StreamServerInterceptor(v, nil)),
	)
	(&grpctest.Probe{
		Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) { return whoAmI(ctx), nil },
		Bidi:  func(stream grpc.ServerStream) error { return stream.SendMsg(whoAmI(stream.Context())) },
	}).Register(back)
	toBack := grpctest.Dial(t, grpctest.Serve(t, back),
		grpc.WithUnaryInterceptor(auth.ForwardUnaryClientInterceptor()),
		grpc.WithStreamInterceptor(auth.ForwardStreamClientInterceptor()),
	)

	front := grpc.NewServer(grpc.UnaryInterceptor(auth.UnaryServerInterceptor(v, nil)))
	(&grpctest.Probe{
		Unary: func(ctx context.Context, _ proto.Message) (proto.Message, error) {
			var unary, streamed wrapperspb.StringValue
			if err := toBack.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &unary); err != nil {
				return nil, err
			}
			stream, err := toBack.NewStream(ctx, grpctest.BidiDesc, grpctest.MethodBidi)
			if err != nil {
				return nil, err
			}
			if err := stream.RecvMsg(&streamed); err != nil && err != io.EOF {
				return nil, err
			}
			return wrapperspb.String(unary.GetValue() + "|" + streamed.GetValue()), nil
		},
	}).Register(front)
	toFront := grpctest.Dial(t, grpctest.Serve(t, front))

	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token(t, nil))
	var out wrapperspb.StringValue
	if err := toFront.Invoke(ctx, grpctest.MethodUnary, &emptypb.Empty{}, &out); err != nil {
		t.Fatalf("front call: %v", err)
	}
	if got, want := out.GetValue(), "user-1/client|user-1/client"; got != want {
		t.Errorf("back service saw %q, want %q", got, want)
	}
}

func TestForwardKeepsExplicitAuthorization(t *testing.T) {
	var seen []string
	capture := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		md, _ := metadata.FromOutgoingContext(ctx)
		seen = md.Get("authorization")
		return nil
	}
	fwd := auth.ForwardUnaryClientInterceptor()
	tests := []struct {
		name     string
		incoming []string
		outgoing []string
		want     []string
	}{
		{"no incoming call", nil, nil, nil},
		{"incoming token forwarded", []string{"Bearer in"}, nil, []string{"Bearer in"}},
		{"explicit outgoing token wins", []string{"Bearer in"}, []string{"Bearer service"}, []string{"Bearer service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.incoming != nil {
				ctx = metadata.NewIncomingContext(ctx, metadata.MD{"authorization": tt.incoming})
			}
			if tt.outgoing != nil {
				ctx = metadata.NewOutgoingContext(ctx, metadata.MD{"authorization": tt.outgoing})
			}
			seen = nil
			if err := fwd(ctx, "/x/y", nil, nil, nil, capture); err != nil {
				t.Fatal(err)
			}
			if strings.Join(seen, ",") != strings.Join(tt.want, ",") {
				t.Errorf("outgoing authorization = %v, want %v", seen, tt.want)
			}
		})
	}
}
