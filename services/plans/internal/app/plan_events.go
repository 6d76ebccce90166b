package app

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// statusSubjects names the event of each lifecycle move by where it lands.
func statusSubject(from, to plan.Status) string {
	switch {
	case to == plan.StatusActive && from == plan.StatusDraft:
		return "plans.plan.activated"
	case to == plan.StatusActive && from == plan.StatusPaused:
		return "plans.plan.resumed"
	case to == plan.StatusActive && from == plan.StatusCompleted:
		return "plans.plan.extended"
	case to == plan.StatusPaused:
		return "plans.plan.paused"
	case to == plan.StatusCompleted:
		return "plans.plan.completed"
	case to == plan.StatusEnded:
		return "plans.plan.ended"
	case to == plan.StatusClosed:
		return "plans.plan.closed"
	case to == plan.StatusCancelled:
		return "plans.plan.cancelled"
	}
	return "plans.plan.updated"
}

// outboxEvents turns the plan's recorded domain events into outbox
// messages. They carry ids, enums and counts only: never a note or a
// reason in the client's words.
func (s *Plans) outboxEvents(p *plan.Plan, c Caller) ([]outbox.Message, error) {
	var out []outbox.Message
	for _, e := range p.PopEvents() {
		local := &localTime{TimeZone: p.TimeZone, LocalDate: p.LocalDate(e.Time).String()}
		id := newID()
		var subject string
		env := &eventsv1.Envelope{}
		switch e.Kind {
		case plan.EventPlanCreated:
			subject = "plans.plan.created"
			env.Payload = &eventsv1.Envelope_PlanCreated{PlanCreated: &eventsv1.PlanCreated{
				PlanId: p.ID, TargetDays: int32(p.TargetDays), StartTime: timestamppb.New(p.StartTime), SafetyFirst: p.SafetyFirst,
			}}
		case plan.EventPlanUpdated:
			subject = "plans.plan.updated"
			env.Payload = &eventsv1.Envelope_PlanUpdated{PlanUpdated: &eventsv1.PlanUpdated{
				PlanId: p.ID, ChangedFields: e.Fields, TargetDays: int32(p.TargetDays),
			}}
		case plan.EventStatusChanged:
			subject = statusSubject(e.From, e.To)
			env.Payload = &eventsv1.Envelope_PlanStatusChanged{PlanStatusChanged: &eventsv1.PlanStatusChanged{
				PlanId: p.ID, From: StatusProto(e.From), To: StatusProto(e.To), TargetDays: int32(p.TargetDays),
				CurrentStreakDays: int32(p.CurrentStreakDays(e.Time)), ActorId: c.ID,
			}}
		case plan.EventContactRecorded, plan.EventContactCorrected:
			rec := contactEvent(p, e)
			if e.Kind == plan.EventContactRecorded {
				subject = "plans.contact.recorded"
				env.Payload = &eventsv1.Envelope_ContactRecorded{ContactRecorded: rec}
			} else {
				subject = "plans.contact.corrected"
				env.Payload = &eventsv1.Envelope_ContactCorrected{ContactCorrected: &eventsv1.ContactCorrected{Contact: rec}}
			}
		case plan.EventContactVoided:
			subject = "plans.contact.voided"
			env.Payload = &eventsv1.Envelope_ContactVoided{ContactVoided: &eventsv1.ContactVoided{PlanId: p.ID, ContactId: e.Contact.ID}}
		case plan.EventAttemptEnded:
			subject = "plans.attempt.ended"
			a := e.Attempt
			ended := &eventsv1.AttemptEnded{
				PlanId: p.ID, AttemptNumber: int32(a.Number), StartTime: timestamppb.New(a.Start),
				Days: int32(a.Days), Reason: EndReasonProto(a.EndReason), SlipContactId: a.SlipContactID,
			}
			if a.End != nil {
				ended.EndTime = timestamppb.New(*a.End)
			}
			env.Payload = &eventsv1.Envelope_AttemptEnded{AttemptEnded: ended}
		case plan.EventAttemptStarted:
			subject = "plans.attempt.started"
			env.Payload = &eventsv1.Envelope_AttemptStarted{AttemptStarted: &eventsv1.AttemptStarted{
				PlanId: p.ID, AttemptNumber: int32(e.Attempt.Number), StartTime: timestamppb.New(e.Attempt.Start),
			}}
		case plan.EventMilestoneReached:
			subject = "plans.milestone.reached"
			m := e.Milestone
			// The milestone's own id: a second recording anywhere would be
			// the same event, dropped by JetStream and by consumers.
			id = m.ID
			reached := &eventsv1.MilestoneReached{
				PlanId: p.ID, MilestoneId: m.ID, AttemptNumber: int32(m.AttemptNumber), Day: int32(m.Day),
				Kind: MilestoneKindProto(m.Kind), TargetDays: int32(p.TargetDays),
			}
			if m.DueTime != nil {
				reached.DueTime = timestamppb.New(*m.DueTime)
			}
			env.Payload = &eventsv1.Envelope_MilestoneReached{MilestoneReached: reached}
		case plan.EventMilestoneAcknowledged:
			subject = "plans.milestone.acknowledged"
			id = e.Milestone.ID + "-ack"
			env.Payload = &eventsv1.Envelope_MilestoneAcknowledged{MilestoneAcknowledged: &eventsv1.MilestoneAcknowledged{
				PlanId: p.ID, MilestoneId: e.Milestone.ID, Day: int32(e.Milestone.Day),
			}}
		case plan.EventMilestoneSuperseded:
			subject = "plans.milestone.superseded"
			// Each supersession is its own event (slip, void, the same
			// slip again supersede twice); the id is fixed when written,
			// so a redelivery of one is still dropped.
			id = e.Milestone.ID + "-superseded"
			if n := e.Milestone.Supersession; n > 1 {
				id = fmt.Sprintf("%s-%d", id, n)
			}
			env.Payload = &eventsv1.Envelope_MilestoneSuperseded{MilestoneSuperseded: &eventsv1.MilestoneSuperseded{
				PlanId: p.ID, MilestoneId: e.Milestone.ID, Day: int32(e.Milestone.Day),
			}}
		case plan.EventHardDateUpcoming:
			subject = "plans.hard_date.upcoming"
			// One id per plan, hard date and occurrence: a second recording
			// on any replica is the same event. The label stays in the plan.
			id = e.HardDate.ID
			env.Payload = &eventsv1.Envelope_HardDateUpcoming{HardDateUpcoming: &eventsv1.HardDateUpcoming{
				PlanId: p.ID, HardDateId: e.HardDate.HardDateID, Date: e.HardDate.Date.String(),
			}}
		default:
			continue
		}
		msg, err := newEventWithID(id, subject, p.ClientID, c.RequestID, e.Time, local, env)
		if err != nil {
			return nil, err
		}
		out = append(out, msg)
	}
	return out, nil
}

func contactEvent(p *plan.Plan, e plan.Event) *eventsv1.ContactRecorded {
	ct := e.Contact
	rec := &eventsv1.ContactRecorded{
		PlanId: p.ID, ContactId: ct.ID, Direction: DirectionProto(ct.Direction), Channel: ChannelProto(ct.Channel),
		Response: ResponseProto(ct.Response), Classification: ClassificationProto(ct.Classification),
		OccurredAt: timestamppb.New(ct.OccurredAt), EndedAttempt: e.EndedAttempt,
	}
	for _, x := range p.Exceptions {
		if x.ID == ct.ExceptionID && ct.Classification == plan.ExceptionCall {
			rec.ExceptionKind = ExceptionKindProto(x.Kind)
		}
	}
	return rec
}

// StatusProto maps a plan status to proto.
func StatusProto(s plan.Status) plansv1.PlanStatus {
	switch s {
	case plan.StatusDraft:
		return plansv1.PlanStatus_PLAN_STATUS_DRAFT
	case plan.StatusActive:
		return plansv1.PlanStatus_PLAN_STATUS_ACTIVE
	case plan.StatusPaused:
		return plansv1.PlanStatus_PLAN_STATUS_PAUSED
	case plan.StatusCompleted:
		return plansv1.PlanStatus_PLAN_STATUS_COMPLETED
	case plan.StatusEnded:
		return plansv1.PlanStatus_PLAN_STATUS_ENDED
	case plan.StatusCancelled:
		return plansv1.PlanStatus_PLAN_STATUS_CANCELLED
	case plan.StatusClosed:
		return plansv1.PlanStatus_PLAN_STATUS_CLOSED
	}
	return plansv1.PlanStatus_PLAN_STATUS_UNSPECIFIED
}

var (
	directions = map[plan.Direction]plansv1.ContactDirection{
		plan.Inbound: plansv1.ContactDirection_INBOUND, plan.Outbound: plansv1.ContactDirection_OUTBOUND,
		plan.Encounter: plansv1.ContactDirection_ENCOUNTER, plan.ProfileCheck: plansv1.ContactDirection_PROFILE_CHECK,
	}
	channels = map[plan.Channel]plansv1.Channel{
		plan.ChannelText: plansv1.Channel_TEXT, plan.ChannelCall: plansv1.Channel_CALL,
		plan.ChannelSocialMedia: plansv1.Channel_SOCIAL_MEDIA, plan.ChannelEmail: plansv1.Channel_EMAIL,
		plan.ChannelInPerson: plansv1.Channel_IN_PERSON, plan.ChannelOther: plansv1.Channel_OTHER,
	}
	responses = map[plan.Response]plansv1.ContactResponse{
		plan.ResponseNone: plansv1.ContactResponse_NONE, plan.ResponseBoundaryReply: plansv1.ContactResponse_BOUNDARY_REPLY,
		plan.ResponseEngaged: plansv1.ContactResponse_ENGAGED,
	}
	classifications = map[plan.Classification]plansv1.Classification{
		plan.Slip: plansv1.Classification_SLIP, plan.ExceptionCall: plansv1.Classification_EXCEPTION,
		plan.InboundHandled: plansv1.Classification_INBOUND_HANDLED, plan.Checking: plansv1.Classification_CHECKING,
	}
	exceptionKinds = map[string]plansv1.ExceptionKind{
		"co_parenting": plansv1.ExceptionKind_EXCEPTION_KIND_CO_PARENTING, "logistics": plansv1.ExceptionKind_EXCEPTION_KIND_LOGISTICS,
		"legal": plansv1.ExceptionKind_EXCEPTION_KIND_LEGAL, "work": plansv1.ExceptionKind_EXCEPTION_KIND_WORK,
		"other": plansv1.ExceptionKind_EXCEPTION_KIND_OTHER,
	}
	milestoneKinds = map[plan.MilestoneKind]plansv1.MilestoneKind{
		plan.KindLadder: plansv1.MilestoneKind_MILESTONE_KIND_LADDER, plan.KindTarget: plansv1.MilestoneKind_MILESTONE_KIND_TARGET,
		plan.KindCustom: plansv1.MilestoneKind_MILESTONE_KIND_CUSTOM,
	}
)

// DirectionProto maps a direction to proto.
func DirectionProto(d plan.Direction) plansv1.ContactDirection { return directions[d] }

// ChannelProto maps a channel to proto.
func ChannelProto(c plan.Channel) plansv1.Channel { return channels[c] }

// ResponseProto maps a response to proto.
func ResponseProto(r plan.Response) plansv1.ContactResponse { return responses[r] }

// ClassificationProto maps a classification to proto.
func ClassificationProto(c plan.Classification) plansv1.Classification { return classifications[c] }

// ExceptionKindProto maps an exception kind to proto.
func ExceptionKindProto(k string) plansv1.ExceptionKind { return exceptionKinds[k] }

// MilestoneKindProto maps a milestone kind to proto.
func MilestoneKindProto(k plan.MilestoneKind) plansv1.MilestoneKind { return milestoneKinds[k] }

// EndReasonProto maps an attempt end reason to proto.
func EndReasonProto(r plan.EndReason) plansv1.AttemptEndReason {
	switch r {
	case plan.EndSlip:
		return plansv1.AttemptEndReason_ATTEMPT_END_REASON_SLIP
	case plan.EndPlanEnded:
		return plansv1.AttemptEndReason_ATTEMPT_END_REASON_PLAN_ENDED
	}
	return plansv1.AttemptEndReason_ATTEMPT_END_REASON_UNSPECIFIED
}

// DirectionFromProto maps a proto direction to the domain ("" if unknown).
func DirectionFromProto(d plansv1.ContactDirection) plan.Direction { return reverse(directions, d) }

// ChannelFromProto maps a proto channel to the domain ("" if unspecified).
func ChannelFromProto(c plansv1.Channel) plan.Channel { return reverse(channels, c) }

// ResponseFromProto maps a proto response to the domain ("" = none).
func ResponseFromProto(r plansv1.ContactResponse) plan.Response { return reverse(responses, r) }

// ExceptionKindFromProto maps a proto exception kind ("" if unspecified).
func ExceptionKindFromProto(k plansv1.ExceptionKind) string { return reverse(exceptionKinds, k) }

func reverse[K comparable, V comparable](m map[K]V, v V) K {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	var zero K
	return zero
}
