// Package events consumes the plans events the journal service needs: the
// care team and the client's consent, kept as a local projection so every
// query can check access without asking plans.
package events

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/journal/internal/app"
)

// CareSpec is the durable consumer of the care events.
var CareSpec = natsx.ConsumerSpec{
	Stream:         "PLANS",
	Durable:        "journal-care-projection",
	FilterSubjects: []string{"plans.care.>", "plans.consent.changed"},
}

// CareHandler applies care and consent events to the projection. It is
// idempotent: the projection keeps the stream sequence it last applied.
func CareHandler(access *app.Access) natsx.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		env, err := events.Decode(msg.Data())
		if err != nil {
			return natsx.Permanent(err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return natsx.Permanent(fmt.Errorf("message metadata: %w", err))
		}
		seq := int64(meta.Sequence.Stream)
		switch p := env.GetPayload().(type) {
		case *eventsv1.Envelope_CareAssignmentChanged:
			a := p.CareAssignmentChanged
			active := a.GetStatus() == plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE
			return access.ApplyAssignment(ctx, env.GetClientId(), a.GetCounsellorId(), active, seq)
		case *eventsv1.Envelope_ConsentChanged:
			scopes := make([]string, 0, len(p.ConsentChanged.GetGrantedScopes()))
			for _, s := range p.ConsentChanged.GetGrantedScopes() {
				scopes = append(scopes, s.String())
			}
			return access.ApplyConsent(ctx, env.GetClientId(), scopes, seq)
		}
		return nil
	}
}
