// Package events consumes the journal's own record events, from which the
// risk consumer raises the care team's flags. (Who may see what is asked of
// plans on every counsellor read: the journal keeps no care projection.)
package events

import (
	"context"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/journal/internal/app"
)

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
