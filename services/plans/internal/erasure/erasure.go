// Package erasure is a client's erasure request (GDPR Art. 17) as the plans
// service keeps it: who asked, on what record, and which services have
// confirmed that they deleted or shredded what they held of the client.
// One request per client, for good: an erased client id is retired (see
// docs/decisions.md, "Erasure").
package erasure

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
)

// The services that take part in every erasure, in the order a request
// shows them.
const (
	ServicePlans   = "plans"
	ServiceJournal = "journal"
	ServiceNotify  = "notify"
)

// Services lists every service that must confirm before an erasure is
// complete.
var Services = []string{ServicePlans, ServiceJournal, ServiceNotify}

// Known reports whether s is a service that confirms erasures.
func Known(s string) bool {
	for _, k := range Services {
		if k == s {
			return true
		}
	}
	return false
}

// namespace derives the deterministic ids of one client's erasure.
var namespace = uuid.MustParse("6f1d3c1e-9a53-4f43-9d0f-2c1a8c5e0e13")

// ID is the erasure id of a client: deterministic, so that two requests
// for the same client (two replicas, a retry) are one request, and free of
// "." and "$" (a client id may hold "."), so that it can be an event id.
func ID(clientID string) string {
	return uuid.NewSHA1(namespace, []byte("erasure\x00"+clientID)).String()
}

// ConfirmationID is the event id of a service's confirmation: the same on
// every redelivery, so JetStream drops a repeat.
func ConfirmationID(clientID, service string) string {
	return uuid.NewSHA1(namespace, []byte("confirmed\x00"+service+"\x00"+clientID)).String()
}

// Request is one client's erasure request.
type Request struct {
	ID            string    `bson:"erasure_id"`
	ClientID      string    `bson:"client_id"`
	RequestedBy   string    `bson:"requested_by"`
	RequesterRole auth.Role `bson:"requester_role"`
	// SupportTicket is the record of the client's own request, when an
	// admin asked on their behalf.
	SupportTicket string    `bson:"support_ticket,omitempty"`
	RequestTime   time.Time `bson:"request_time"`
	// Confirmed holds each service's confirmation time, keyed by service.
	Confirmed map[string]time.Time `bson:"confirmed,omitempty"`
	// Sends counts how often the request was published (the first time
	// and each resend to services that have not confirmed); SentTime is
	// the last.
	Sends    int       `bson:"sends"`
	SentTime time.Time `bson:"sent_time"`
}

// EventID is the id of the request's n-th publication (1 is the first):
// each resend is a new message, which JetStream does not drop as a
// duplicate.
func (r Request) EventID(n int) string {
	if n <= 1 {
		return r.ID
	}
	return fmt.Sprintf("%s-%d", r.ID, n)
}

// New is the request of caller c for clientID's erasure, or the refusal:
// the client may ask for themself; an admin only with the support ticket
// that records the client's request; nobody else (PermissionDenied).
func New(c auth.Caller, clientID, supportTicket string, now time.Time) (Request, error) {
	switch {
	case c.Role == auth.RoleClient && c.ID == clientID:
		supportTicket = ""
	case c.Role == auth.RoleAdmin && supportTicket != "":
	case c.Role == auth.RoleAdmin:
		return Request{}, apperr.PermissionDenied("an admin may erase a client only on the client's recorded request: give its support_ticket")
	default:
		return Request{}, apperr.PermissionDenied("only the client, or an admin on the client's recorded request, may ask for an erasure")
	}
	return Request{ID: ID(clientID), ClientID: clientID, RequestedBy: c.ID, RequesterRole: c.Role,
		SupportTicket: supportTicket, RequestTime: now, Sends: 1, SentTime: now}, nil
}

// MayView reports whether c may see clientID's erasure: the client, or an
// admin.
func MayView(c auth.Caller, clientID string) bool {
	return (c.Role == auth.RoleClient && c.ID == clientID) || c.Role == auth.RoleAdmin
}

// Complete reports whether every service has confirmed.
func (r Request) Complete() bool {
	for _, s := range Services {
		if _, ok := r.Confirmed[s]; !ok {
			return false
		}
	}
	return true
}

// CompleteTime is when the last service confirmed (zero until complete).
func (r Request) CompleteTime() time.Time {
	if !r.Complete() {
		return time.Time{}
	}
	var last time.Time
	for _, t := range r.Confirmed {
		if t.After(last) {
			last = t
		}
	}
	return last
}
