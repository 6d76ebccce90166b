package fieldcrypt

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/secretdata"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/fieldcrypt/kms"
)

// KEK is a key-encryption key: the AEAD that wraps the clients' keysets,
// and the id stored beside each wrapped keyset so that the Rewrap job knows
// which ones are not yet under the current KEK.
type KEK struct {
	// ID names the key without revealing it: the KMS key URI, or
	// "local:<primary key id>" for a keyset from the environment.
	ID   string
	AEAD tink.AEAD
}

// KEKSet is the current KEK (wraps every new or rewrapped keyset) and the
// previous ones (only unwrap, until Rewrap has moved every keyset off them).
type KEKSet struct {
	Current  KEK
	Previous []KEK
}

// Config is the key configuration of a service binary, for its Config
// struct. Exactly one source of the current KEK: a KMS key URI
// (production) or a key in the environment (development, tests).
type Config struct {
	// KEK is a local key-encryption key: a Tink AEAD keyset in JSON
	// (cleartext; its primary wraps, every key in it unwraps) or the
	// standard base64 of 32 random bytes (one AES256-GCM key). Refused in
	// production.
	KEK config.Secret `env:"NOCONTACT_KEK"`
	// KEKPrevious is the local KEK used before KEK (same formats), kept
	// until the Rewrap job has run.
	KEKPrevious config.Secret `env:"NOCONTACT_KEK_PREVIOUS"`
	// KEKURI is a KMS key URI (e.g. gcp-kms://projects/..., aws-kms://arn:...)
	// served by a KMS client registered with Tink's registry.RegisterKMSClient
	// in the binary's main.
	KEKURI string `env:"NOCONTACT_KEK_URI"`
	// KEKPreviousURIs are KMS keys used before KEKURI, comma-separated.
	KEKPreviousURIs []string `env:"NOCONTACT_KEK_PREVIOUS_URIS" envSeparator:","`
	// CacheSize bounds the clients whose unwrapped keysets are kept in memory.
	CacheSize int `env:"NOCONTACT_KEY_CACHE_SIZE" envDefault:"10000"`
	// CacheTTL is how long an unwrapped keyset (or a tombstone) is used
	// before it is read again: the longest a replica keeps decrypting for
	// a client whose keyset another replica destroyed.
	CacheTTL time.Duration `env:"NOCONTACT_KEY_CACHE_TTL" envDefault:"1m"`
}

// ErrNoKEK is returned by Config.KEKs when no key-encryption key is set.
var ErrNoKEK = errors.New("fieldcrypt: no key-encryption key configured")

// KEKs builds the KEK set. In production only KMS URIs are accepted: a key
// in the environment would sit beside the data it protects.
func (c Config) KEKs(production bool) (KEKSet, error) {
	local, uri := c.KEK.Reveal() != "", c.KEKURI != ""
	switch {
	case local && uri:
		return KEKSet{}, errors.New("fieldcrypt: NOCONTACT_KEK and NOCONTACT_KEK_URI are both set: choose one")
	case production && local:
		return KEKSet{}, errors.New("fieldcrypt: NOCONTACT_KEK (a key in the environment) is refused in production: set NOCONTACT_KEK_URI to a KMS key")
	case production && !uri:
		return KEKSet{}, fmt.Errorf("%w: production needs NOCONTACT_KEK_URI (a KMS key URI, see docs/operations.md)", ErrNoKEK)
	case !local && !uri:
		return KEKSet{}, fmt.Errorf("%w: set NOCONTACT_KEK to the base64 of 32 random bytes (e.g. `openssl rand -base64 32`) or NOCONTACT_KEK_URI to a KMS key", ErrNoKEK)
	}
	var set KEKSet
	var err error
	if uri {
		if set.Current, err = KEKFromURI(c.KEKURI); err != nil {
			return KEKSet{}, err
		}
		for _, u := range c.KEKPreviousURIs {
			if u = strings.TrimSpace(u); u == "" {
				continue
			}
			k, err := KEKFromURI(u)
			if err != nil {
				return KEKSet{}, err
			}
			set.Previous = append(set.Previous, k)
		}
	} else {
		if set.Current, err = LocalKEK(c.KEK.Reveal()); err != nil {
			return KEKSet{}, fmt.Errorf("NOCONTACT_KEK: %w", err)
		}
	}
	if c.KEKPrevious.Reveal() != "" {
		k, err := LocalKEK(c.KEKPrevious.Reveal())
		if err != nil {
			return KEKSet{}, fmt.Errorf("NOCONTACT_KEK_PREVIOUS: %w", err)
		}
		set.Previous = append(set.Previous, k)
	}
	return set, nil
}

// KEKFromURI registers the KMS client that serves uri (package kms: Google
// Cloud KMS and Vault transit are wired) and returns its AEAD. It contacts
// no KMS: a key that is wrong or unreachable shows on the first wrap.
func KEKFromURI(uri string) (KEK, error) {
	// A client registered by the binary (or a test's fake KMS) wins.
	if _, err := registry.GetKMSClient(uri); err != nil {
		if err := kms.Register(context.Background(), uri); err != nil {
			return KEK{}, fmt.Errorf("fieldcrypt: %w", err)
		}
	}
	client, err := registry.GetKMSClient(uri)
	if err != nil {
		return KEK{}, fmt.Errorf("fieldcrypt: no KMS client registered for the key URI (register one with registry.RegisterKMSClient in main): %w", err)
	}
	a, err := client.GetAEAD(uri)
	if err != nil {
		return KEK{}, fmt.Errorf("fieldcrypt: KMS AEAD for the key URI: %w", err)
	}
	return KEK{ID: uri, AEAD: a}, nil
}

// LocalKEK parses a key from the environment: a cleartext Tink keyset in
// JSON, or the standard base64 of 32 bytes. Errors never quote the value.
func LocalKEK(value string) (KEK, error) {
	value = strings.TrimSpace(value)
	var h *keyset.Handle
	if strings.HasPrefix(value, "{") {
		var err error
		h, err = insecurecleartextkeyset.Read(keyset.NewJSONReader(strings.NewReader(value)))
		if err != nil {
			return KEK{}, errors.New("not a valid Tink keyset in JSON")
		}
	} else {
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(raw) != 32 {
			return KEK{}, errors.New("want a Tink keyset in JSON or the base64 of exactly 32 bytes")
		}
		if h, err = rawAESKeyset(raw); err != nil {
			return KEK{}, err
		}
	}
	a, err := aead.New(h)
	if err != nil {
		return KEK{}, errors.New("the keyset holds no AEAD primary key")
	}
	primary, err := h.Primary()
	if err != nil {
		return KEK{}, errors.New("the keyset has no primary key")
	}
	return KEK{ID: "local:" + strconv.FormatUint(uint64(primary.KeyID()), 10), AEAD: a}, nil
}

// rawAESKeyset makes a one-key AES256-GCM keyset of raw. Its key id is
// derived from the key, so that two different raw keys (current and
// previous) get different KEK ids.
func rawAESKeyset(raw []byte) (*keyset.Handle, error) {
	params, err := aesgcm.NewParameters(aesgcm.ParametersOpts{
		KeySizeInBytes: 32, IVSizeInBytes: 12, TagSizeInBytes: 16, Variant: aesgcm.VariantTink,
	})
	if err != nil {
		return nil, fmt.Errorf("aes-gcm parameters: %w", err)
	}
	sum := sha256.Sum256(raw)
	id := binary.BigEndian.Uint32(sum[:4]) | 1
	key, err := aesgcm.NewKey(secretdata.NewBytesFromData(raw, insecuresecretdataaccess.Token{}), id, params)
	if err != nil {
		return nil, errors.New("not a valid AES-256 key")
	}
	m := keyset.NewManager()
	kid, err := m.AddKey(key)
	if err != nil {
		return nil, fmt.Errorf("add key: %w", err)
	}
	if err := m.SetPrimary(kid); err != nil {
		return nil, fmt.Errorf("set primary: %w", err)
	}
	return m.Handle()
}
