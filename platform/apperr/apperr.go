// Package apperr defines domain-neutral application errors and the one
// mapping from errors to gRPC status.
//
// Domain and application code return these errors (possibly wrapped with
// fmt.Errorf("...: %w", err)); the gRPC server maps them with ToStatus at the
// edge. The message given to a constructor is shown to the caller, so it must
// say what is wrong in the caller's terms and never contain internals (ids the
// caller did not send, database errors, journal text). Anything that is not an
// apperr error, a context error or a gRPC status becomes Internal with a
// fixed message, so an unexpected error can never leak.
package apperr

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Kind classifies an error by what the caller can do about it.
//
// Kind implements error so that errors.Is(err, apperr.KindNotFound) asks
// "is this, somewhere in its chain, a not-found error?".
type Kind int

// Kinds. The zero value is not a valid kind, so a forgotten kind cannot pass
// for one.
const (
	KindInvalidArgument Kind = iota + 1
	KindNotFound
	KindAlreadyExists
	KindFailedPrecondition
	KindPermissionDenied
	KindUnauthenticated
	KindUnavailable
	KindAborted
	KindResourceExhausted
	// KindDataLoss: a stored record is damaged (it fails its integrity
	// check, e.g. a sealed field that does not decrypt); the message names
	// ids only.
	KindDataLoss
)

var kindInfo = map[Kind]struct {
	name string
	code codes.Code
	msg  string // the message when the constructor was given none
}{
	KindInvalidArgument:    {"InvalidArgument", codes.InvalidArgument, "invalid argument"},
	KindNotFound:           {"NotFound", codes.NotFound, "not found"},
	KindAlreadyExists:      {"AlreadyExists", codes.AlreadyExists, "already exists"},
	KindFailedPrecondition: {"FailedPrecondition", codes.FailedPrecondition, "failed precondition"},
	KindPermissionDenied:   {"PermissionDenied", codes.PermissionDenied, "permission denied"},
	KindUnauthenticated:    {"Unauthenticated", codes.Unauthenticated, "unauthenticated"},
	KindUnavailable:        {"Unavailable", codes.Unavailable, "service unavailable, try again later"},
	KindAborted:            {"Aborted", codes.Aborted, "aborted by a concurrent change, try again"},
	KindResourceExhausted:  {"ResourceExhausted", codes.ResourceExhausted, "resource exhausted"},
	KindDataLoss:           {"DataLoss", codes.DataLoss, "a stored record is damaged and cannot be read"},
}

// String returns the kind's name, e.g. "NotFound".
func (k Kind) String() string {
	if info, ok := kindInfo[k]; ok {
		return info.name
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error implements error, so that a Kind can be the target of errors.Is.
func (k Kind) Error() string {
	if info, ok := kindInfo[k]; ok {
		return info.msg
	}
	return "unknown error kind"
}

// Code returns the gRPC code of the kind; codes.Internal for an invalid kind.
func (k Kind) Code() codes.Code {
	if info, ok := kindInfo[k]; ok {
		return info.code
	}
	return codes.Internal
}

// FieldViolation says what is wrong with one field of a request. Field is
// the proto field path (`plan.target_days`, AIP-193); Description is shown to
// the caller.
type FieldViolation struct {
	Field       string
	Description string
}

// Error is an application error of a given kind. Create one with the
// constructors; inspect one with errors.As or KindOf.
type Error struct {
	kind       Kind
	msg        string
	violations []FieldViolation
	cause      error
}

// Error returns the user-facing message, followed by the cause when there is
// one. Only the user-facing message reaches the client (see ToStatus); the
// full text is for logs.
func (e *Error) Error() string {
	if e.cause != nil {
		return e.Message() + ": " + e.cause.Error()
	}
	return e.Message()
}

// Kind returns the error's kind.
func (e *Error) Kind() Kind { return e.kind }

// Message returns the user-facing message.
func (e *Error) Message() string {
	if e.msg != "" {
		return e.msg
	}
	return e.kind.Error()
}

// Violations returns a copy of the field violations (InvalidArgument only).
func (e *Error) Violations() []FieldViolation {
	if len(e.violations) == 0 {
		return nil
	}
	out := make([]FieldViolation, len(e.violations))
	copy(out, e.violations)
	return out
}

// Unwrap returns the cause given to Wrap, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is e's Kind, which makes
// errors.Is(err, apperr.KindNotFound) work through any wrapping.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.kind
}

func newf(kind Kind, format string, args []any) *Error {
	msg := format
	// Formatting only with arguments keeps a literal '%' in a plain message
	// from turning into "%!" noise.
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{kind: kind, msg: msg}
}

// InvalidArgument reports a request that is wrong whatever the state of the
// system, field by field. The violations reach the caller as
// errdetails.BadRequest.
func InvalidArgument(violations ...FieldViolation) error {
	e := &Error{kind: KindInvalidArgument}
	if len(violations) > 0 {
		e.violations = append([]FieldViolation(nil), violations...)
	}
	return e
}

// NotFound reports a resource that does not exist or that the caller may not
// see (the two must be indistinguishable, so ids cannot be probed).
func NotFound(format string, args ...any) error { return newf(KindNotFound, format, args) }

// AlreadyExists reports a create that collides with an existing resource.
func AlreadyExists(format string, args ...any) error {
	return newf(KindAlreadyExists, format, args)
}

// FailedPrecondition reports a request the current state does not allow
// (e.g. an illegal plan transition); retrying will not help until the state
// changes.
func FailedPrecondition(format string, args ...any) error {
	return newf(KindFailedPrecondition, format, args)
}

// PermissionDenied reports an authenticated caller acting outside its role.
// For data the caller may not see, use NotFound instead.
func PermissionDenied(format string, args ...any) error {
	return newf(KindPermissionDenied, format, args)
}

// Unauthenticated reports a missing or invalid identity.
func Unauthenticated(format string, args ...any) error {
	return newf(KindUnauthenticated, format, args)
}

// Unavailable reports a transient failure; the caller may retry.
func Unavailable(format string, args ...any) error {
	return newf(KindUnavailable, format, args)
}

// Aborted reports a concurrency conflict (e.g. a version check lost); the
// caller may retry the whole read-modify-write.
func Aborted(format string, args ...any) error { return newf(KindAborted, format, args) }

// ResourceExhausted reports a quota or rate limit hit.
func ResourceExhausted(format string, args ...any) error {
	return newf(KindResourceExhausted, format, args)
}

// Wrap returns an error of the given kind and user-facing message that keeps
// cause for logs and errors.Is/As, e.g. Wrap(KindUnavailable, err, "database
// unavailable"). The cause's text never reaches the client.
func Wrap(kind Kind, cause error, format string, args ...any) error {
	e := newf(kind, format, args)
	e.cause = cause
	return e
}

// KindOf returns the kind of the first apperr error in err's chain.
func KindOf(err error) (Kind, bool) {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.kind, true
	}
	if k, ok := errors.AsType[Kind](err); ok {
		return k, true
	}
	return 0, false
}

// InternalMessage is the only message a client ever sees for an error the
// server did not expect.
const InternalMessage = "internal error"

// maxViolationsInMessage bounds the status message; the full list is in the
// BadRequest details.
const maxViolationsInMessage = 3

// ToStatus maps err to the gRPC status the client sees. It is the one place
// where errors become codes:
//
//   - nil: OK;
//   - an apperr error: its kind's code and user-facing message;
//     InvalidArgument carries errdetails.BadRequest with the violations;
//   - context.Canceled and context.DeadlineExceeded: Canceled and
//     DeadlineExceeded;
//   - a gRPC status (e.g. from a downstream call): passed through unchanged,
//     except Unknown, Internal and DataLoss, which become Internal with the
//     fixed message because their text may hold another server's internals;
//   - anything else: Internal with the fixed message "internal error".
//
// The caller (the gRPC server) logs the original error when the code is
// Internal; ToStatus itself never puts err.Error() in the status.
func ToStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return errorStatus(e)
	}
	if k, ok := errors.AsType[Kind](err); ok {
		return errorStatus(&Error{kind: k})
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded")
	}
	// errors.As on the GRPCStatus interface rather than status.FromError:
	// FromError replaces the message with the whole wrapped text, which would
	// leak the wrapping context ("load plan x: ...").
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		st := se.GRPCStatus()
		switch st.Code() {
		case codes.OK, codes.Unknown, codes.Internal, codes.DataLoss:
			// OK cannot describe a failure; treat it as a bug like the rest.
			return status.New(codes.Internal, InternalMessage)
		}
		return st
	}
	return status.New(codes.Internal, InternalMessage)
}

func errorStatus(e *Error) *status.Status {
	code := e.kind.Code()
	if code == codes.Internal { // an invalid Kind value
		return status.New(codes.Internal, InternalMessage)
	}
	if e.kind != KindInvalidArgument || len(e.violations) == 0 {
		return status.New(code, e.Message())
	}
	st := status.New(code, violationsMessage(e))
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, len(e.violations))}
	for i, v := range e.violations {
		br.FieldViolations[i] = &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description}
	}
	withDetails, err := st.WithDetails(br)
	if err != nil {
		// Only fails for a nil or unmarshalable detail; the message still
		// names the fields.
		return st
	}
	return withDetails
}

// violationsMessage summarises the violations for clients that only show the
// status message: "invalid argument: plan.target_days: must be ... (and 2
// more)".
func violationsMessage(e *Error) string {
	var b strings.Builder
	b.WriteString(e.Message())
	b.WriteString(": ")
	for i, v := range e.violations {
		if i == maxViolationsInMessage {
			fmt.Fprintf(&b, " (and %d more)", len(e.violations)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		if v.Field != "" {
			b.WriteString(v.Field)
			b.WriteString(": ")
		}
		b.WriteString(v.Description)
	}
	return b.String()
}
