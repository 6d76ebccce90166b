package auth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The JWKS verifier refreshes its keys in a goroutine of its own: it must
// stop with its context, which goleak checks after every test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
