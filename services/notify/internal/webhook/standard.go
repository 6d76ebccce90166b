package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com): every
// delivery carries all three, next to the deprecated SignatureHeader.
const (
	// IDHeader is the delivery's id, the same on every retry of it: the
	// receiver's key for dropping a duplicate.
	IDHeader = standardwebhooks.HeaderWebhookID
	// TimestampHeader is the attempt's time in unix seconds.
	TimestampHeader = standardwebhooks.HeaderWebhookTimestamp
	// StandardSignatureHeader holds "v1,<base64 HMAC-SHA256>" over
	// "<id>.<timestamp>.<body>", one per live secret, space-separated.
	StandardSignatureHeader = standardwebhooks.HeaderWebhookSignature
)

// SecretPrefix starts every secret the server generates.
const SecretPrefix = "whsec_"

// secretBytes is the key length of a generated secret (the specification
// asks for 24 to 64).
const secretBytes = 32

// NewSecret returns a fresh random secret, "whsec_" and the base64 of 32
// random bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// key is the HMAC key of a secret: the decoded bytes of a "whsec_" secret;
// the raw bytes of anything else (secrets chosen by users before the server
// generated them, which receivers load with NewWebhookRaw).
func key(secret string) []byte {
	if s, ok := strings.CutPrefix(secret, SecretPrefix); ok {
		if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) > 0 {
			return k
		}
	}
	return []byte(secret)
}

// Headers returns the signature headers of one attempt of delivery id,
// sent at t, for body, signed with every secret in secrets (the current
// one first; during a rotation the previous one too). It sets the three
// Standard Webhooks headers and the deprecated SignatureHeader, whose
// HMAC is keyed with the secret string as shown to the user, as before.
func Headers(id string, t time.Time, body []byte, secrets ...string) http.Header {
	h := http.Header{}
	h.Set(IDHeader, id)
	h.Set(TimestampHeader, strconv.FormatInt(t.Unix(), 10))
	var std, legacy []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		wh, err := standardwebhooks.NewWebhookRaw(key(s))
		if err != nil {
			continue
		}
		sig, err := wh.Sign(id, t, body)
		if err != nil {
			continue
		}
		std = append(std, sig)
		legacy = append(legacy, "v1="+legacyMAC(s, t, body))
	}
	h.Set(StandardSignatureHeader, strings.Join(std, " "))
	h.Set(SignatureHeader, "t="+strconv.FormatInt(t.Unix(), 10)+","+strings.Join(legacy, ","))
	return h
}

func legacyMAC(secret string, t time.Time, body []byte) string {
	v := Sign([]byte(secret), t, body)
	_, hexMAC, _ := strings.Cut(v, ",v1=")
	return hexMAC
}
