// Package webhook holds what webhook delivery needs that is not storage:
// signing and verifying payloads, the retry schedule, and the checks that
// keep a user-supplied URL from reaching inside our network (SSRF).
//
// The signature rule, for receivers: the header
//
//	X-Nocontact-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// carries the send time and the HMAC-SHA256, keyed with the webhook's secret,
// of the string "<unix seconds>.<raw request body>". A receiver recomputes it,
// compares in constant time, and rejects timestamps too far from its clock.
// There may be several v1 values (while a secret is being rotated); one match
// is enough.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header that carries the signature.
const SignatureHeader = "X-Nocontact-Signature"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors from Verify. They name the problem and nothing of the secret.
var (
	ErrMalformedSignature = errors.New("the webhook signature header is malformed")
	ErrSignatureMismatch  = errors.New("the webhook signature does not match the request body")
	ErrStaleSignature     = errors.New("the webhook signature timestamp is too far from the current time")
)

// Sign returns the signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header against body and the receiver's clock
// now. It accepts the header when one of its v1 values matches and its
// timestamp is within tolerance of now, either way (DefaultTolerance when
// tolerance is not positive). Unknown fields are ignored, so a future scheme
// can be added alongside v1.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var (
		ts     string
		haveTS bool
		sigs   [][]byte
		haveV1 bool
	)
	for part := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch key {
		case "t":
			if haveTS {
				return ErrMalformedSignature
			}
			ts, haveTS = value, true
		case "v1":
			haveV1 = true
			// A value that is not hex cannot match; skip it rather than
			// let one bad value hide a good one.
			if sig, err := hex.DecodeString(value); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveTS || !haveV1 {
		return ErrMalformedSignature
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 || strings.HasPrefix(ts, "+") {
		return ErrMalformedSignature
	}

	want := mac(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		// Compare every value, so timing does not tell which one matched.
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	if skew := now.Sub(time.Unix(unix, 0)); skew > tolerance || skew < -tolerance {
		return ErrStaleSignature
	}
	return nil
}
