package grpcserver

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
)

// Bounds of a Timestamp in a request. Before 1970 nothing this suite
// records can have happened (a plan start, a check-in, a contact), and a
// client that sends 0001-01-01T00:00:00Z (Go's zero time, what a missing
// value becomes in many clients) means "unset", which the services must not
// guess at: it is refused, naming the field.
const (
	minRequestSeconds = 0            // 1970-01-01T00:00:00Z
	maxRequestSeconds = 253402300799 // 9999-12-31T23:59:59Z
	maxNanos          = 999_999_999  // a Timestamp's nanos are 0..999,999,999
	timestampName     = "google.protobuf.Timestamp"
	tsSecondsField    = 1
	tsNanosField      = 2
)

// checkRequest applies the rules every request obeys, whatever its own
// protovalidate rules say, and returns one violation per offending field
// (named by its proto path, as protovalidate names them):
//
//   - no string anywhere holds a NUL byte (no id, text or name needs one,
//     and C-based tools downstream would cut the value there);
//   - every client_id, counsellor_id, user_id and actor_id is a user id
//     (auth.UserIDRule), so no id can hold a separator;
//   - every Timestamp is a real instant from 1970 to 9999 with nanos in
//     range (see minRequestSeconds).
//
// userIDFields are the request fields that hold a user id, wherever they
// appear; each must be in the user-id charset (auth.UserIDRule) when set.
var userIDFields = map[protoreflect.Name]bool{"client_id": true, "counsellor_id": true, "user_id": true, "actor_id": true}

func checkRequest(m protoreflect.Message) []apperr.FieldViolation {
	var out []apperr.FieldViolation
	walkMessage(m, "", &out)
	return out
}

func walkMessage(m protoreflect.Message, path string, out *[]apperr.FieldViolation) {
	if m.Descriptor().FullName() == timestampName {
		checkTimestamp(m, path, out)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := joinPath(path, string(fd.Name()))
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkValue(fd, l.Get(i), fmt.Sprintf("%s[%d]", name, i), out)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				elem := name + "[" + mapKeyString(fd.MapKey(), k) + "]"
				if fd.MapKey().Kind() == protoreflect.StringKind && strings.IndexByte(k.String(), 0) >= 0 {
					*out = append(*out, apperr.FieldViolation{Field: name, Description: "has a key that contains a NUL byte"})
				}
				walkValue(fd.MapValue(), mv, elem, out)
				return true
			})
		default:
			walkValue(fd, v, name, out)
		}
		return true
	})
}

func walkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, out *[]apperr.FieldViolation) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		switch s := v.String(); {
		case strings.IndexByte(s, 0) >= 0:
			*out = append(*out, apperr.FieldViolation{Field: path, Description: "must not contain a NUL byte"})
		case s != "" && userIDFields[fd.Name()] && !auth.ValidUserID(s):
			*out = append(*out, apperr.FieldViolation{Field: path, Description: "must be a user id: " + auth.UserIDRule})
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walkMessage(v.Message(), path, out)
	}
}

func checkTimestamp(m protoreflect.Message, path string, out *[]apperr.FieldViolation) {
	fields := m.Descriptor().Fields()
	secs := m.Get(fields.ByNumber(tsSecondsField)).Int()
	nanos := m.Get(fields.ByNumber(tsNanosField)).Int()
	switch {
	case nanos < 0 || nanos > maxNanos:
		*out = append(*out, apperr.FieldViolation{Field: path, Description: "must have nanos from 0 to 999999999"})
	case secs < minRequestSeconds || secs > maxRequestSeconds:
		*out = append(*out, apperr.FieldViolation{Field: path, Description: "must be a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"})
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func mapKeyString(fd protoreflect.FieldDescriptor, k protoreflect.MapKey) string {
	if fd.Kind() == protoreflect.StringKind {
		return strconv.Quote(k.String())
	}
	return k.String()
}
