package events

import (
	"context"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/plans/internal/app"
)

// ExportSpec is the durable consumer of the plans service's own export
// requests: it builds the plans part, as the journal and notify build
// theirs from the same event.
var ExportSpec = natsx.ConsumerSpec{
	Stream:         "PLANS",
	Durable:        "plans-export",
	FilterSubjects: []string{exportpart.RequestedSubject},
}

// ExportHandler builds the plans part of each export request.
func ExportHandler(e *app.Exports) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		return e.BuildPart(ctx, env)
	})
}

// The durable consumers of each service's ExportPartReady, one per stream
// (each service publishes on its own).
var (
	PlansPartsSpec   = natsx.ConsumerSpec{Stream: "PLANS", Durable: "plans-export-parts", FilterSubjects: []string{exportpart.ReadySubject("plans")}}
	JournalPartsSpec = natsx.ConsumerSpec{Stream: "JOURNAL", Durable: "plans-export-parts", FilterSubjects: []string{exportpart.ReadySubject("journal")}}
	NotifyPartsSpec  = natsx.ConsumerSpec{Stream: "NOTIFY", Durable: "plans-export-parts", FilterSubjects: []string{exportpart.ReadySubject("notify")}}
)

// PartsHandler records each ExportPartReady on its request; idempotent (a
// part already recorded is left as it is). An event naming a service that
// contributes no part can never succeed: dead-lettered.
func PartsHandler(e *app.Exports) natsx.Handler {
	return events.Handler(func(ctx context.Context, env *eventsv1.Envelope, _ int64) error {
		err := e.PartReady(ctx, env)
		if k, ok := apperr.KindOf(err); ok && k == apperr.KindInvalidArgument {
			return natsx.Permanent(err)
		}
		return err
	})
}
