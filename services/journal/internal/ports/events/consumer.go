// Package events consumes the events the journal service needs: the plans
// events of the care team and the client's consent, kept as a local
// projection (platform/careview) so every query can check access without
// asking plans; and the journal's own record events, from which the risk
// consumer raises the care team's flags.
package events

import (
	"context"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/journal/internal/app"
)

// CareSpec is the durable consumer of the care events.
var CareSpec = careview.Spec("journal-care-projection")

// CareHandler applies care and consent events to the projection; it is
// idempotent (the projection keeps the stream sequence it last applied).
func CareHandler(access *app.Access) natsx.Handler { return careview.Handler(access.View()) }

// RiskSpec is the durable consumer of the journal's own record events:
// every check-in, entry and urge, each carrying what its words screened as.
// A failure is redelivered with backoff (natsx.Consume), so a flag the
// record calls for is raised once the store answers again.
var RiskSpec = natsx.ConsumerSpec{
	Stream:         "JOURNAL",
	Durable:        "journal-risk-flags",
	FilterSubjects: []string{"journal.checkin.recorded", "journal.entry.created", "journal.urge.logged"},
}

// RiskHandler raises the flags an event's record calls for; it is
// idempotent (a flag's id derives from its source record and reason).
func RiskHandler(j *app.Journal) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		return j.RaiseFlags(ctx, env)
	})
}
