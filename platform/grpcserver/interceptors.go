package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/logging"
	"github.com/nocontact/backend/platform/mongox"
)

// The interceptors below run in this order, outermost first: recovery,
// request id, logging (and the ObserveRPC hook), auth (package auth),
// validation, error mapping.
// Recovery is outermost so that a panic anywhere, interceptors included,
// becomes Internal; error mapping is innermost so that logging records the
// code the client actually gets.

// wrappedStream lets an interceptor replace the context of a stream and
// hook RecvMsg.
type wrappedStream struct {
	grpc.ServerStream
	ctx  context.Context
	recv func(m any) error // nil: the embedded stream's RecvMsg
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

func (w *wrappedStream) RecvMsg(m any) error {
	if w.recv != nil {
		return w.recv(m)
	}
	return w.ServerStream.RecvMsg(m)
}

// --- recovery ---

func (s *Server) unaryRecovery(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.recovered(ctx, info.FullMethod, p)
		}
	}()
	return handler(ctx, req)
}

func (s *Server) streamRecovery(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.recovered(ss.Context(), info.FullMethod, p)
		}
	}()
	// Outermost, so that every interceptor and the handler see a message
	// that did not decode as InvalidArgument (see requestCodec).
	return handler(srv, decodingStream{ss})
}

// recovered logs a panic with its stack (still the panicking goroutine's,
// since we are in its deferred call) and hides it from the client.
func (s *Server) recovered(ctx context.Context, method string, p any) error {
	s.logger.ErrorContext(ctx, "panic in rpc handler",
		"method", method,
		"panic", fmt.Sprint(p),
		"stack", string(debug.Stack()),
	)
	return status.Error(codes.Internal, apperr.InternalMessage)
}

// --- request id ---

// maxRequestIDLen bounds a caller-chosen request id; longer or oddly
// formed ids are replaced so that nobody can inject into our logs.
const maxRequestIDLen = 128

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-', r == '_', r == '.', r == ':', r == '/', r == '+', r == '=':
		default:
			return false
		}
	}
	return true
}

// requestID returns the caller's request id when it sent a usable one (the
// gateway does), else a new one.
func requestID(ctx context.Context) string {
	// The one key, not FromIncomingContext's copy of every header.
	if ids := metadata.ValueFromIncomingContext(ctx, logging.RequestIDHeader); len(ids) == 1 && validRequestID(ids[0]) {
		return ids[0]
	}
	return uuid.NewString()
}

func (s *Server) unaryRequestID(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := requestID(ctx)
	ctx = logging.WithRequestID(ctx, id)
	// The header is best effort: it fails only when headers were already
	// sent, which cannot have happened before the handler runs.
	_ = grpc.SetHeader(ctx, metadata.Pairs(logging.RequestIDHeader, id))
	return handler(ctx, req)
}

func (s *Server) streamRequestID(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	id := requestID(ss.Context())
	_ = ss.SetHeader(metadata.Pairs(logging.RequestIDHeader, id))
	return handler(srv, &wrappedStream{ServerStream: ss, ctx: logging.WithRequestID(ss.Context(), id)})
}

// --- logging ---

func (s *Server) unaryLogging(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := s.clock.Now()
	panicked := true
	// Deferred without recover so that a panic still reaches the recovery
	// interceptor with its stack, yet the call is in the access log.
	defer func() { s.logCall(ctx, info.FullMethod, err, panicked, start) }()
	resp, err = handler(ctx, req)
	panicked = false
	return resp, err
}

func (s *Server) streamLogging(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := s.clock.Now()
	panicked := true
	defer func() { s.logCall(ss.Context(), info.FullMethod, err, panicked, start) }()
	err = handler(srv, ss)
	panicked = false
	return err
}

// logCall writes the access log line: method, code, duration, and hands the
// same to the ObserveRPC hook. Never the request or response: they may hold
// health data.
func (s *Server) logCall(ctx context.Context, method string, err error, panicked bool, start time.Time) {
	code := status.Code(err)
	if panicked {
		code = codes.Internal
	}
	elapsed := s.clock.Now().Sub(start)
	if s.observeRPC != nil {
		s.observeRPC(method, code, elapsed)
	}
	level := slog.LevelInfo
	if isPlatformService(method) {
		level = slog.LevelDebug // probes every few seconds would drown the log
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	}
	if panicked {
		attrs = append(attrs, slog.Bool("panic", true))
	}
	s.logger.LogAttrs(ctx, level, "rpc", attrs...)
}

// --- validation ---

// validate checks msg against the rules of every request (checkRequest) and
// its protovalidate rules. A rule violation is an apperr.InvalidArgument; any other failure (rules that do not compile,
// a CEL runtime error) is a server bug and stays an internal error.
func (s *Server) validate(msg any) error {
	pm, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	bad := checkRequest(pm.ProtoReflect())
	err := s.validator.Validate(pm)
	if ve, ok := errors.AsType[*protovalidate.ValidationError](err); ok {
		bad = append(bad, ValidationViolations(ve)...)
	} else if err != nil {
		return fmt.Errorf("validate %s: %w", pm.ProtoReflect().Descriptor().FullName(), err)
	}
	if len(bad) > 0 {
		return apperr.InvalidArgument(bad...)
	}
	return nil
}

func (s *Server) unaryValidation(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.validate(req); err != nil {
		// Error mapping runs inside this interceptor, so map here.
		return nil, s.toStatusError(ctx, info.FullMethod, err)
	}
	return handler(ctx, req)
}

func (s *Server) streamValidation(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	w := &wrappedStream{ServerStream: ss, ctx: ss.Context()}
	w.recv = func(m any) error {
		if err := ss.RecvMsg(m); err != nil {
			return err
		}
		// The handler returns this error (maybe wrapped); error mapping,
		// inside, turns it into InvalidArgument.
		return s.validate(m)
	}
	return handler(srv, w)
}

// ValidationViolations converts protovalidate violations to field
// violations: Field is the proto field path (`plan.target_days`,
// `reasons[2]`, `labels["x"]`), empty for a message-level rule; Description
// is the rule's message.
func ValidationViolations(ve *protovalidate.ValidationError) []apperr.FieldViolation {
	if ve == nil {
		return nil
	}
	out := make([]apperr.FieldViolation, 0, len(ve.Violations))
	for _, v := range ve.Violations {
		if v == nil || v.Proto == nil {
			continue
		}
		desc := v.Proto.GetMessage()
		if desc == "" {
			desc = "violates rule " + v.Proto.GetRuleId()
		}
		out = append(out, apperr.FieldViolation{
			Field:       protovalidate.FieldPathString(v.Proto.GetField()),
			Description: desc,
		})
	}
	return out
}

// --- error mapping ---

func (s *Server) unaryErrorMapping(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		return nil, s.toStatusError(ctx, info.FullMethod, err)
	}
	return resp, nil
}

func (s *Server) streamErrorMapping(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := handler(srv, ss); err != nil {
		return s.toStatusError(ss.Context(), info.FullMethod, err)
	}
	return nil
}

// toStatusError maps err with apperr.ToStatus and logs the real error once
// when the client only gets "internal error".
func (s *Server) toStatusError(ctx context.Context, method string, err error) error {
	if _, typed := apperr.KindOf(err); !typed && ctx.Err() == nil && mongox.IsUnavailable(err) {
		// The database is unreachable: a transient failure the caller may
		// retry (HTTP 503), not a bug (docs/reliability.md, fault 4).
		s.logger.WarnContext(ctx, "rpc failed: database unavailable", "method", method, "error", err.Error())
		err = apperr.Wrap(apperr.KindUnavailable, err, "database unavailable, try again later")
	}
	st := apperr.ToStatus(err)
	switch st.Code() {
	case codes.Internal:
		s.logger.ErrorContext(ctx, "rpc failed", "method", method, "error", err.Error())
	case codes.DataLoss:
		// A sealed record that does not decrypt (tampered or moved): the
		// error names its ids (fieldcrypt.Ref), never a value.
		s.logger.ErrorContext(ctx, "rpc failed: stored record damaged", "method", method, "error", err.Error())
	}
	return st.Err()
}

// rateLimited refuses a call past its identity's rate (Options.RateLimit*)
// with ResourceExhausted and a RetryInfo; health and reflection pass.
func (s *Server) rateLimited(ctx context.Context, fullMethod string) error {
	if isPlatformService(fullMethod) {
		return nil
	}
	key := "addr:"
	if c, err := auth.CallerFrom(ctx); err == nil && c.ID != "" {
		key = "sub:" + c.ID
	} else if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host, _, err := net.SplitHostPort(p.Addr.String())
		if err != nil {
			host = p.Addr.String()
		}
		key += host
	}
	if s.limiter.Allow(key) {
		return nil
	}
	st := status.New(codes.ResourceExhausted, "too many requests, slow down")
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(s.limiter.RetryAfter())}); err == nil {
		st = d
	}
	return st.Err()
}

func (s *Server) unaryRateLimit(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.rateLimited(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) streamRateLimit(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.rateLimited(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}
