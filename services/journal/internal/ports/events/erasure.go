package events

import (
	"context"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/journal/internal/app"
)

// ErasureSpec is the journal's durable consumer of erasure requests (the
// plans service owns them): a request made while the journal was down is
// erased, and confirmed, when it comes back.
var ErasureSpec = natsx.ConsumerSpec{
	Stream:         "PLANS",
	Durable:        "journal-erasure",
	FilterSubjects: []string{erasure.RequestedSubject},
}

// ErasureHandler erases the client's journal (idempotent).
func ErasureHandler(j *app.Journal) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		p, ok := env.GetPayload().(*eventsv1.Envelope_ErasureRequested)
		if !ok || env.GetClientId() == "" {
			return nil
		}
		return j.Erase(ctx, env.GetClientId(), p.ErasureRequested.GetErasureId(), p.ErasureRequested.GetRequestTime().AsTime())
	})
}
