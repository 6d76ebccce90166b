package edge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nocontact/backend/platform/apperr"
)

// errorHandler maps a gRPC error to HTTP. Field violations of InvalidArgument
// pass through (400 with the field names); a FailedPrecondition (an illegal
// lifecycle move) stays 400 as grpc-gateway maps it, the body's code telling
// it apart; Internal, Unknown and Unavailable lose their message, which may
// name hosts or drivers, and get a plain one instead.
func errorHandler(log *slog.Logger) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || bodyTooLarge(r.Context()) {
			writeStatus(w, http.StatusRequestEntityTooLarge, status.New(codes.InvalidArgument, "request body too large"))
			return
		}
		st := status.Convert(err)
		if fe, ok := fieldErrorFrom(st); ok {
			st = badRequest(apperr.FieldViolation{Field: fe.field, Description: fe.desc})
		}
		switch st.Code() {
		case codes.DataLoss:
			// A sealed record that does not decrypt (issue 13): the
			// services' message names ids only, and says the record is
			// damaged rather than that the server failed (HTTP 500).
			log.ErrorContext(ctx, "backend error", "code", st.Code().String(), "path", r.URL.Path, "error", st.Message())
		case codes.Internal, codes.Unknown:
			log.ErrorContext(ctx, "backend error", "code", st.Code().String(), "path", r.URL.Path, "error", st.Message())
			st = status.New(codes.Internal, "internal error")
		case codes.Unavailable:
			log.WarnContext(ctx, "backend unavailable", "path", r.URL.Path, "error", st.Message())
			st = status.New(codes.Unavailable, "service unavailable, please retry")
		case codes.DeadlineExceeded:
			st = status.New(codes.DeadlineExceeded, "the request took too long")
		case codes.ResourceExhausted:
			// Every 429 says when to come back.
			w.Header().Set("Retry-After", "1")
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, st.Err())
	}
}

// routingErrorHandler answers unknown routes and wrong methods in the same
// JSON error shape as every other error.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		writeStatus(w, httpStatus, status.New(codes.Unimplemented, "method not allowed"))
	case http.StatusBadRequest:
		writeStatus(w, httpStatus, status.New(codes.InvalidArgument, "bad request"))
	default:
		writeStatus(w, http.StatusNotFound, status.New(codes.NotFound, "not found"))
	}
}
