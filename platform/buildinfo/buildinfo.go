// Package buildinfo says which build of a binary is running. Release
// images stamp Version and Commit at link time:
//
//	go build -ldflags "-X github.com/nocontact/backend/platform/buildinfo.Version=v1.2.3 \
//	  -X github.com/nocontact/backend/platform/buildinfo.Commit=$(git rev-parse HEAD)"
//
// An unstamped build (go run, go test) falls back to what the Go toolchain
// recorded: the module version and the VCS revision when the binary was
// built inside a git checkout, else "dev" and "unknown".
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Stamped with -X at link time; empty in an unstamped build.
var (
	Version string
	Commit  string
)

// Info is the running build.
type Info struct {
	Version string
	Commit  string
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

var read = sync.OnceValue(func() Info {
	info := Info{Version: Version, Commit: Commit}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.GoVersion = bi.GoVersion
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					info.Commit = s.Value
				}
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
})

// Get returns the running build.
func Get() Info { return read() }
