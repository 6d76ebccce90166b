// Package events consumes the plans events the journal service needs: the
// care team and the client's consent, kept as a local projection
// (platform/careview) so every query can check access without asking plans.
package events

import (
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/journal/internal/app"
)

// CareSpec is the durable consumer of the care events.
var CareSpec = careview.Spec("journal-care-projection")

// CareHandler applies care and consent events to the projection; it is
// idempotent (the projection keeps the stream sequence it last applied).
func CareHandler(access *app.Access) natsx.Handler { return careview.Handler(access.View()) }
