package buildinfo

import "testing"

// A test binary is not stamped: Get falls back rather than reporting
// empty strings that would make a build_info series or a log line useless.
func TestGetNeverEmpty(t *testing.T) {
	info := Get()
	if info.Version == "" || info.Commit == "" || info.GoVersion == "" {
		t.Fatalf("Get() = %+v, want every field set", info)
	}
}
