package events

import (
	"context"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/journal/internal/app"
)

// ExportSpec is the durable consumer of the plans service's export
// requests: the journal builds its part of each (a service that was down
// builds it when it is back: the consumer is durable).
var ExportSpec = natsx.ConsumerSpec{
	Stream:         "PLANS",
	Durable:        "journal-export",
	FilterSubjects: []string{exportpart.RequestedSubject},
}

// ExportHandler builds the journal part of each export request
// (idempotent on the export id).
func ExportHandler(e *app.Exports) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		return e.BuildPart(ctx, env)
	})
}
