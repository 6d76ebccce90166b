package tlsx

import "time"

// SetRecheckEvery shortens how often handshakes look at the files.
func SetRecheckEvery(d time.Duration) (restore func()) {
	old := recheckEvery
	recheckEvery = d
	return func() { recheckEvery = old }
}
