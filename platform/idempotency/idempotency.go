// Package idempotency gives creates their AIP-155 request_id semantics: a
// retry with the same request_id and the same request answers the first
// result and creates nothing; the same request_id with a different request
// is refused (ErrReused), never answered with another request's result.
//
// A create derives its document id from the caller and the request_id (so
// that two replicas racing on one request_id insert the same _id and the
// unique _id index lets one win, on MongoDB and FerretDB alike) and stores
// Hash of the request beside the document (docstore.Store.CreateOnce).
package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nocontact/backend/platform/apperr"
)

// Field is the name of the request field that carries the idempotency key.
const Field = "request_id"

// ErrReused answers a request_id already used by a different request
// (InvalidArgument naming request_id: the caller's mistake, HTTP 400).
var ErrReused = apperr.InvalidArgument(apperr.FieldViolation{
	Field:       Field,
	Description: "this request_id was already used for a different request; send a new request_id for a new request (a retry must repeat the first request exactly)",
})

// Hash is the fingerprint of a request: SHA-256 over its deterministic
// protobuf encoding with the top-level request_id cleared, so that a retry
// of the same request has the same hash and any change to any other field
// (path parameters included) gives another one. Deterministic marshalling
// orders map entries; it is stable within one build, and a deployment that
// changes the encoding of a message at worst refuses a retry that straddles
// it.
func Hash(req proto.Message) (string, error) {
	m := proto.Clone(req)
	r := m.ProtoReflect()
	if fd := r.Descriptor().Fields().ByName(protoreflect.Name(Field)); fd != nil {
		r.Clear(fd)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(append([]byte(string(r.Descriptor().FullName())+"\x00"), b...))
	return hex.EncodeToString(sum[:]), nil
}

// ID derives a document id from the parts that scope a request_id (the
// owner and the request_id, at least): the same parts always give the same
// id, and no two different lists of parts give the same one (each part is
// length-prefixed, so a separator inside a part cannot shift the split).
func ID(prefix string, parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%d:%s", len(p), p)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return prefix + hex.EncodeToString(sum[:12])
}

// Key is a create's AIP-155 idempotency key: the caller's request_id and
// the fingerprint of the request (Hash). The zero Key makes the create
// unkeyed.
type Key struct {
	ID, Hash string
}

// KeyOf is the key of a create request: the zero Key when it carries no
// request_id.
func KeyOf(req interface {
	proto.Message
	GetRequestId() string
}) (Key, error) {
	if req.GetRequestId() == "" {
		return Key{}, nil
	}
	h, err := Hash(req)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: req.GetRequestId(), Hash: h}, nil
}
