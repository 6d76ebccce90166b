package kms_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/backend/platform/fieldcrypt"
)

// A Vault transit key URI reaches a Vault client: the KEK is built without
// contacting Vault, and its first wrap goes to the URI's host (here a port
// nothing listens on), failing with the transport's error, not a panic and
// not "no KMS client".
func TestVaultKeyURIReachesAVaultClient(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "test-token")
	t.Setenv("VAULT_MAX_RETRIES", "0")
	kek, err := fieldcrypt.KEKFromURI("hcvault://127.0.0.1:1/transit/keys/nocontact-kek")
	if err != nil {
		t.Fatalf("KEKFromURI: %v", err)
	}
	if kek.ID != "hcvault://127.0.0.1:1/transit/keys/nocontact-kek" {
		t.Fatalf("KEK id = %q, want the key URI", kek.ID)
	}
	_, err = kek.AEAD.Encrypt([]byte("keyset"), []byte("client"))
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("wrap through an unreachable Vault = %v, want an error naming its address", err)
	}
}

func TestVaultKeyURIWithoutAKeyIsRefused(t *testing.T) {
	if _, err := fieldcrypt.KEKFromURI("hcvault://vault.example"); err == nil || !strings.Contains(err.Error(), "/keys/") {
		t.Fatalf("a Vault URI without a key = %v, want an error showing the URI's shape", err)
	}
}

// Cloud KMS needs credentials at start-up: without any, the service stops
// with an error saying so, before it serves.
func TestCloudKMSWithoutCredentialsSaysSo(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	t.Setenv("HOME", t.TempDir())
	_, err := fieldcrypt.KEKFromURI("gcp-kms://projects/p/locations/europe-west3/keyRings/r/cryptoKeys/k")
	if err == nil || !strings.Contains(err.Error(), "Application Default Credentials") {
		t.Fatalf("Cloud KMS without credentials = %v, want an error naming the credentials", err)
	}
	if _, statErr := os.Stat(os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")); statErr == nil {
		t.Fatal("the test's credentials file exists")
	}
}

func TestUnwiredKMSNamesTheWiredOnes(t *testing.T) {
	_, err := fieldcrypt.KEKFromURI("aws-kms://arn:aws:kms:eu-west-1:111122223333:key/abc")
	if err == nil || !strings.Contains(err.Error(), "gcp-kms://") || !strings.Contains(err.Error(), "hcvault://") {
		t.Fatalf("an AWS key URI = %v, want an error naming the wired schemes", err)
	}
}
