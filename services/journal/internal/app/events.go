package app

import (
	"time"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/outbox"
)

const producer = "journal"

// newEvent packs a journal event (ids, scores and labels only: callers never
// put a note, a body or a letter in env).
func newEvent(subject, clientID, correlationID string, occurred time.Time, tz, localDate string, env *eventsv1.Envelope) (outbox.Message, error) {
	return events.New(events.Meta{
		Subject: subject, Producer: producer, ClientID: clientID, CorrelationID: correlationID,
		OccurredAt: occurred, TimeZone: tz, LocalDate: localDate,
	}, env)
}

// storedNow is now at the precision MongoDB stores (ms).
func storedNow(clk clock.Clock) time.Time { return clk.Now().UTC().Truncate(time.Millisecond) }
