// Package events consumes the plans and journal events that become
// notifications (and, on the plans stream, keep the care projection).
package events

import (
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/notify/internal/app"
)

// PlansSpec reads every plans event: one consumer, so that care and consent
// changes apply in order with the events that depend on them.
var PlansSpec = natsx.ConsumerSpec{Stream: "PLANS", Durable: "notify-plans", FilterSubjects: []string{"plans.>"}}

// JournalSpec reads the journal events counsellors hear about.
var JournalSpec = natsx.ConsumerSpec{
	Stream:         "JOURNAL",
	Durable:        "notify-journal",
	FilterSubjects: []string{"journal.urge.logged", "journal.risk.flag_raised", "journal.risk.flag_updated"},
}

// Handler turns events into notifications, and erases a client on their
// erasure request (which comes on the plans stream, in order with the care
// events before it). A payload that does not decode is a poison message:
// dead-lettered, and consumption goes on.
func Handler(n *app.Notify) natsx.Handler { return events.Handler(n.HandleEvent) }
