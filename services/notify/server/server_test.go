package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/services/notify/server"
)

// The notify service never starts without a key-encryption key: it would
// have nothing to seal the webhook secrets with.
func TestRunRefusesToStartWithoutAKEK(t *testing.T) {
	var cfg server.Config // the defaults, no KEK
	if err := config.LoadFrom(&cfg, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	err := server.Run(context.Background(), cfg, server.Options{})
	if !errors.Is(err, fieldcrypt.ErrNoKEK) {
		t.Fatalf("run without a KEK = %v, want ErrNoKEK", err)
	}
	cfg.RequireKMS = true
	cfg.Crypto.KEK = "dGVzdC1rZWstb2YtdGhlLXBsYW5zLXNlcnZpY2UtISE="
	if err := server.Run(context.Background(), cfg, server.Options{}); err == nil {
		t.Fatal("a KEK from the environment was accepted with KEK_REQUIRE_KMS")
	}
}
