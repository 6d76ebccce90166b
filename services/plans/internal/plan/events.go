package plan

import "time"

// EventKind names a domain event.
type EventKind string

// Domain events.
const (
	EventPlanCreated           EventKind = "plan_created"
	EventPlanUpdated           EventKind = "plan_updated"
	EventStatusChanged         EventKind = "status_changed"
	EventContactRecorded       EventKind = "contact_recorded"
	EventContactCorrected      EventKind = "contact_corrected"
	EventContactVoided         EventKind = "contact_voided"
	EventAttemptEnded          EventKind = "attempt_ended"
	EventAttemptStarted        EventKind = "attempt_started"
	EventMilestoneReached      EventKind = "milestone_reached"
	EventMilestoneAcknowledged EventKind = "milestone_acknowledged"
	EventMilestoneSuperseded   EventKind = "milestone_superseded"
	EventHardDateUpcoming      EventKind = "hard_date_upcoming"
)

// Event is something that happened to a plan. Only the fields of its kind
// are set.
type Event struct {
	Kind         EventKind
	Time         time.Time
	From, To     Status        // status_changed
	Fields       []string      // plan_updated
	Contact      *Contact      // contact_*
	EndedAttempt bool          // contact_recorded, contact_corrected
	Attempt      *Attempt      // attempt_*
	Milestone    *Milestone    // milestone_*
	HardDate     *HardDateNote // hard_date_upcoming
}
