// Package export is the plans service's record of a client's export
// request (GDPR Art. 20): who asked, when it expires, and which services
// have built their part. The parts themselves live in each service.
package export

import (
	"slices"
	"time"
)

// The services that contribute a part, in the order the archive lists
// them.
const (
	Plans   = "plans"
	Journal = "journal"
	Notify  = "notify"
)

// Services are every contributing service, in archive order.
var Services = []string{Plans, Journal, Notify}

// Known reports whether service contributes parts.
func Known(service string) bool { return slices.Contains(Services, service) }

// DefaultRetention is how long an export and its parts are served after
// the request: long enough to download on another day, short enough that a
// readable archive route does not linger.
const DefaultRetention = 7 * 24 * time.Hour

// State is where an export stands.
type State int

// The states of an export.
const (
	Running State = iota + 1
	Ready
	Expired
)

// Part is one service's progress.
type Part struct {
	ReadyTime time.Time        `bson:"ready_time"`
	Counts    map[string]int32 `bson:"counts"`
}

// Request is one export request. Parts is keyed by service and written one
// field at a time ($set of parts.<service>), so readiness arrives in any
// order, any number of times, without a version check.
type Request struct {
	ID         string          `bson:"id"`
	ClientID   string          `bson:"client_id"`
	CreateTime time.Time       `bson:"create_time"`
	ExpireTime time.Time       `bson:"expire_time"`
	Parts      map[string]Part `bson:"parts,omitempty"`
}

// New is a request made at now, kept for retention.
func New(id, clientID string, now time.Time, retention time.Duration) Request {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return Request{ID: id, ClientID: clientID, CreateTime: now, ExpireTime: now.Add(retention)}
}

// State is the request's state at now.
func (r Request) State(now time.Time) State {
	switch {
	case !now.Before(r.ExpireTime):
		return Expired
	case r.Complete():
		return Ready
	default:
		return Running
	}
}

// Complete reports whether every service's part is ready.
func (r Request) Complete() bool {
	for _, s := range Services {
		if _, ok := r.Parts[s]; !ok {
			return false
		}
	}
	return true
}
