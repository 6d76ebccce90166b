package edge

import (
	"testing"

	"go.uber.org/goleak"
)

// The gateway's tests start servers, streams and their goroutines; every
// one must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
