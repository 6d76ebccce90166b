package clock

import (
	"sync"
	"time"
)

// zones caches loaded time zones by name. Only names that load are kept,
// so it is bounded by the zone database (some 600 names).
var zones sync.Map

// LoadLocation is time.LoadLocation, cached. time.LoadLocation reads and
// parses the zone database on every call (about 0.1 ms on the build
// machine), which a roster of 200 clients would otherwise pay 200 times
// per service; a *time.Location is immutable and safe to share.
func LoadLocation(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}
