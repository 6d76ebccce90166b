// Package kms links the KMS clients that can hold the services'
// key-encryption key (NOCONTACT_KEK_URI, issue 13) and registers the one a
// key URI needs with Tink's registry, where fieldcrypt.KEKFromURI finds it.
//
// Wired:
//
//   - Google Cloud KMS, "gcp-kms://projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>"
//     (tink-go-gcpkms), with Application Default Credentials: Workload
//     Identity on GKE, GOOGLE_APPLICATION_CREDENTIALS elsewhere.
//   - HashiCorp Vault's (or OpenBao's) transit engine,
//     "hcvault://<host>[:port]/<mount>/keys/<name>" (tink-go-hcvault), over
//     HTTPS to the URI's host, with the token and TLS settings of the
//     standard VAULT_* variables (VAULT_TOKEN, VAULT_CACERT, ...). The
//     transit key must be an AES-GCM key without derivation: the keysets'
//     associated data goes in transit's associated_data parameter.
//
// To add another KMS (AWS KMS, Azure Key Vault): add a case to clientFor
// that returns Tink's registry.KMSClient for its URI prefix (Tink's
// integration module for it, or a small registry.KMSClient over the
// vendor's SDK), and a test beside this file's. docs/operations.md says
// how to run with a KMS.
package kms

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	vault "github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go-gcpkms/v2/integration/gcpkms"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/core/registry"
)

// Schemes are the key URI schemes a KMS client is wired for.
var Schemes = []string{"gcp-kms://", "hcvault://"}

var (
	mu         sync.Mutex
	registered = map[string]bool{}
)

// Register makes sure a KMS client for uri is registered with Tink's
// registry (once per URI prefix and process). It contacts no KMS: a wrong
// key, missing permissions or an unreachable KMS show on the first wrap
// or unwrap, with the KMS's own error.
func Register(ctx context.Context, uri string) error {
	prefix, err := prefixOf(uri)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if registered[prefix] {
		return nil
	}
	client, err := clientFor(ctx, prefix)
	if err != nil {
		return err
	}
	registry.RegisterKMSClient(client)
	registered[prefix] = true
	return nil
}

// prefixOf is the part of uri one client serves: the scheme for Cloud KMS
// (one client serves every key its credentials reach), scheme and host for
// Vault (one client per server).
func prefixOf(uri string) (string, error) {
	lower := strings.ToLower(uri)
	switch {
	case strings.HasPrefix(lower, "gcp-kms://"):
		if len(uri) == len("gcp-kms://") {
			return "", fmt.Errorf("kms: the key URI %q names no key", uri)
		}
		return "gcp-kms://", nil
	case strings.HasPrefix(lower, "hcvault://"):
		u, err := url.Parse(uri)
		if err != nil || u.Host == "" || !strings.Contains(u.Path, "/keys/") {
			return "", fmt.Errorf("kms: a Vault key URI is hcvault://<host>[:port]/<mount>/keys/<name>, not %q", uri)
		}
		return "hcvault://" + u.Host + "/", nil
	default:
		return "", fmt.Errorf("kms: no KMS client is wired for the key URI %q: wired are %s (see platform/fieldcrypt/kms to add one)", uri, strings.Join(Schemes, ", "))
	}
}

func clientFor(ctx context.Context, prefix string) (registry.KMSClient, error) {
	if prefix == "gcp-kms://" {
		c, err := gcpkms.NewClientWithOptions(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("kms: Google Cloud KMS client (Application Default Credentials): %w", err)
		}
		return c, nil
	}
	u, err := url.Parse(prefix)
	if err != nil {
		return nil, err
	}
	cfg := vault.DefaultConfig() // VAULT_CACERT, VAULT_CLIENT_CERT, ... from the environment
	if cfg.Error != nil {
		return nil, fmt.Errorf("kms: Vault client settings: %w", cfg.Error)
	}
	cfg.Address = "https://" + u.Host
	vc, err := vault.NewClient(cfg) // VAULT_TOKEN from the environment
	if err != nil {
		return nil, fmt.Errorf("kms: Vault client: %w", err)
	}
	c, err := hcvault.NewClientWithAEADOptions(prefix, vc.Logical())
	if err != nil {
		return nil, fmt.Errorf("kms: Vault transit client: %w", err)
	}
	return c, nil
}
