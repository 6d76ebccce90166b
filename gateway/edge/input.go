package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nocontact/backend/platform/apperr"
)

// What a caller sends is checked here before any service is called:
// the path and query are UTF-8, every query parameter names a field of the
// request, and the body is exactly one JSON value. grpc-gateway's generated
// handlers turn a decoding error into InvalidArgument with the error's text
// as the message; the errors made here have a fixed shape (fieldError) that
// errorHandler turns back into a BadRequest naming the field.

// fieldError is a refused piece of input. Its text is what grpc-gateway puts
// in the status message, and what fieldErrorFrom parses back.
type fieldError struct {
	field string // as the caller wrote it: a query key or a JSON field name
	desc  string
}

func (e fieldError) Error() string { return fmt.Sprintf("invalid field %q: %s", e.field, e.desc) }

var fieldErrorText = regexp.MustCompile(`^invalid field ("(?:[^"\\]|\\.)*"): (.+)$`)

// fieldErrorFrom recovers a fieldError from an InvalidArgument the
// generated code made of it; ok is false for any other status.
func fieldErrorFrom(st *status.Status) (fieldError, bool) {
	if st.Code() != codes.InvalidArgument || len(st.Details()) != 0 {
		return fieldError{}, false
	}
	m := fieldErrorText.FindStringSubmatch(st.Message())
	if m == nil {
		return fieldError{}, false
	}
	field, err := strconv.Unquote(m[1])
	if err != nil {
		return fieldError{}, false
	}
	return fieldError{field: field, desc: m[2]}, true
}

// badRequest is the status of an InvalidArgument naming fields.
func badRequest(violations ...apperr.FieldViolation) *status.Status {
	return apperr.ToStatus(apperr.InvalidArgument(violations...))
}

// withValidRequestLine refuses a path or query that is not UTF-8 (a proto
// string cannot hold it, and the call would fail inside the gateway's gRPC
// client as an internal error).
func withValidRequestLine(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !utf8.ValidString(r.URL.Path) {
			writeStatus(w, http.StatusBadRequest, status.New(codes.InvalidArgument, "the request path is not valid UTF-8"))
			return
		}
		if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				ok := utf8.ValidString(k)
				for _, v := range q[k] {
					ok = ok && utf8.ValidString(v)
				}
				if !ok {
					field := strings.ToValidUTF8(k, "\uFFFD")
					writeStatus(w, http.StatusBadRequest, badRequest(apperr.FieldViolation{Field: field, Description: "is not valid UTF-8"}))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// bodyState records, for errorHandler, that a body hit the size limit: the
// generated handlers keep only the text of the read error, so a body
// without a declared length (chunked) that grows past the limit would be
// a 400 instead of a 413.
type bodyState struct{ tooLarge atomic.Bool }

type bodyStateKey struct{}

func bodyTooLarge(ctx context.Context) bool {
	st, _ := ctx.Value(bodyStateKey{}).(*bodyState)
	return st != nil && st.tooLarge.Load()
}

type limitedBody struct {
	io.ReadCloser
	state *bodyState
}

func (b limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		b.state.tooLarge.Store(true)
	}
	return n, err
}

// strictJSON is the JSON marshaler with a stricter decoder: the body must be
// one JSON value with nothing after it, and a decoding error names the
// field it is about.
type strictJSON struct{ *runtime.JSONPb }

func (m strictJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		body, err := io.ReadAll(r)
		if err != nil {
			return err // over the limit: see bodyState
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return io.EOF // no body: the generated handlers accept it
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		var one json.RawMessage
		if err := dec.Decode(&one); err != nil {
			return fmt.Errorf("the body is not valid JSON: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return fmt.Errorf("the body has data after its JSON value (at byte %d)", dec.InputOffset())
		}
		if err := m.JSONPb.Unmarshal(one, v); err != nil {
			return jsonFieldError(err)
		}
		return nil
	})
}

// protojson names the field in its error text ("unknown field \"x\"",
// "invalid value for int32 field targetDays: ..."), never in a structure.
var jsonFieldName = regexp.MustCompile(`(?:unknown|duplicate) field "?([^"\s:]+)"?|field ([A-Za-z0-9_]+):`)

func jsonFieldError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "proto: ")
	m := jsonFieldName.FindStringSubmatch(msg)
	if m == nil {
		return errors.New("the body does not match the request: " + msg)
	}
	field := m[1]
	if field == "" {
		field = m[2]
	}
	return fieldError{field: field, desc: msg}
}

// strictQueryParser refuses a query parameter that names no field of the
// request, or a field the route takes from its path or body, instead of
// ignoring it; each parameter's value error names the parameter.
type strictQueryParser struct{ runtime.DefaultQueryParser }

var mapKeyParam = regexp.MustCompile(`^(.*)\[(.*)\]$`)

func (p *strictQueryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first refusal is always the same one
	for _, key := range keys {
		fieldKey := key
		if m := mapKeyParam.FindStringSubmatch(key); m != nil {
			fieldKey = m[1]
		}
		path, ok := protoPath(msg.ProtoReflect().Descriptor(), strings.Split(fieldKey, "."))
		if !ok {
			return fieldError{field: key, desc: "is not a parameter of this request"}
		}
		if filter.HasCommonPrefix(path) {
			return fieldError{field: key, desc: "is set by the path or the body of this request, not the query"}
		}
		vals := values[key]
		if isFieldMask(msg.ProtoReflect().Descriptor(), path) {
			vals = snakeMaskPaths(vals)
		}
		if err := p.DefaultQueryParser.Parse(msg, url.Values{key: vals}, filter); err != nil {
			return fieldError{field: key, desc: err.Error()}
		}
	}
	return nil
}

// isFieldMask reports whether the field at path (proto names) is a
// google.protobuf.FieldMask.
func isFieldMask(md protoreflect.MessageDescriptor, path []string) bool {
	var fd protoreflect.FieldDescriptor
	for _, name := range path {
		if md == nil {
			return false
		}
		if fd = md.Fields().ByName(protoreflect.Name(name)); fd == nil {
			return false
		}
		md = fd.Message()
	}
	return fd != nil && fd.Message() != nil && fd.Message().FullName() == "google.protobuf.FieldMask"
}

// snakeMaskPaths writes field-mask paths given in the JSON spelling
// ("hardDates", as in a JSON body's mask and the OpenAPI document) in the
// proto spelling the services check ("hard_dates"); paths already in the
// proto spelling stay as they are.
func snakeMaskPaths(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		var b strings.Builder
		for _, r := range v {
			if r >= 'A' && r <= 'Z' {
				b.WriteByte('_')
				r += 'a' - 'A'
			}
			b.WriteRune(r)
		}
		out[i] = b.String()
	}
	return out
}

// protoPath resolves a query key's segments (proto or JSON names) to proto
// names; ok is false when a segment names no field or goes through a field
// that is not a message.
func protoPath(md protoreflect.MessageDescriptor, segs []string) ([]string, bool) {
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		if md == nil {
			return nil, false
		}
		fd := md.Fields().ByName(protoreflect.Name(s))
		if fd == nil {
			fd = md.Fields().ByJSONName(s)
		}
		if fd == nil {
			return nil, false
		}
		out = append(out, string(fd.Name()))
		if i < len(segs)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, false
			}
			md = fd.Message()
		}
	}
	return out, true
}
