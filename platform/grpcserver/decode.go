package grpcserver

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// gRPC answers Internal to a request it cannot decode (truncated bytes,
// invalid UTF-8 in a string, groups nested past the recursion limit), and
// writes that status itself before any handler or interceptor sees the
// error. Each is the caller's mistake, so the server decodes with
// requestCodec, which does not fail: it records the failure for the message
// and leaves it empty, and the two places that receive a message turn the
// record into InvalidArgument: a unary handler's dec function (wrapped by
// registrar) and a stream's RecvMsg (wrapped by the outermost stream
// interceptor). A message over the size limit is refused by gRPC before
// decoding (ResourceExhausted) and does not get here.

// decodeFailures maps a message being received to why it did not decode.
// An entry lives from the codec's Unmarshal to the check right after it in
// the same call.
var decodeFailures sync.Map // proto.Message -> error

// requestCodec is gRPC's protobuf codec, except that Unmarshal records a
// failure instead of returning it (see above).
type requestCodec struct{ encoding.CodecV2 }

func newRequestCodec() requestCodec { return requestCodec{encoding.GetCodecV2("proto")} }

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	proto.Reset(m)
	decodeFailures.Store(m, err)
	return nil
}

// decodeFailure returns InvalidArgument when v did not decode, and forgets
// the failure.
func decodeFailure(v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return nil
	}
	why, failed := decodeFailures.LoadAndDelete(m)
	if !failed {
		return nil
	}
	return status.Error(codes.InvalidArgument, "the request message is malformed: "+why.(error).Error())
}

// registrar registers services on a grpc.Server with each unary handler's
// dec function checking for a decoding failure.
type registrar struct{ srv *grpc.Server }

func (r registrar) RegisterService(sd *grpc.ServiceDesc, impl any) {
	wrapped := *sd
	wrapped.Methods = make([]grpc.MethodDesc, len(sd.Methods))
	for i, m := range sd.Methods {
		h := m.Handler
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
			return h(srv, ctx, func(v any) error {
				if err := dec(v); err != nil {
					return err
				}
				return decodeFailure(v)
			}, in)
		}
		wrapped.Methods[i] = m
	}
	r.srv.RegisterService(&wrapped, impl)
}

// decodingStream checks every received message for a decoding failure.
type decodingStream struct{ grpc.ServerStream }

func (d decodingStream) RecvMsg(m any) error {
	if err := d.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return decodeFailure(m)
}
