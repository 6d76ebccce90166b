package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
)

// BatchGetCareSummaries implements plansv1.CareServiceServer.
func (s *CareServer) BatchGetCareSummaries(ctx context.Context, req *plansv1.BatchGetCareSummariesRequest) (*plansv1.BatchGetCareSummariesResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.view.Summaries(ctx, caller, req.GetClientIds(), req.GetAsCareTeam())
	if err != nil {
		return nil, err
	}
	out := &plansv1.BatchGetCareSummariesResponse{}
	for _, sm := range list {
		out.Summaries = append(out.Summaries, careSummaryProto(sm))
	}
	return out, nil
}

// GetCareTimeline implements plansv1.CareServiceServer.
func (s *CareServer) GetCareTimeline(ctx context.Context, req *plansv1.GetCareTimelineRequest) (*plansv1.GetCareTimelineResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.view.Timeline(ctx, caller, req.GetClientId(), req.GetAsCareTeam())
	if err != nil {
		return nil, err
	}
	sm := careSummaryProto(t.Summary)
	out := &plansv1.GetCareTimelineResponse{
		ClientId:      t.Summary.ClientID,
		GrantedScopes: sm.GetGrantedScopes(),
		Plan:          sm.Plan,
		ReviewTime:    sm.ReviewTime,
	}
	for _, it := range t.Items {
		out.Timeline = append(out.Timeline, &plansv1.CareTimelineItem{
			Kind:          timelineKinds[it.Kind],
			Time:          timestamppb.New(it.Time),
			LocalDate:     it.LocalDate,
			PlanId:        it.PlanID,
			AttemptNumber: int32(it.Attempt),
			MilestoneDay:  int32(it.Milestone),
			Direction:     app.DirectionProto(it.Direction),
			Channel:       app.ChannelProto(it.Channel),
			EndReason:     app.EndReasonProto(it.EndReason),
			Days:          int32(it.Days),
			ContactId:     it.ContactID,
		})
	}
	if b := t.Slips; b != nil {
		sb := &plansv1.SlipBreakdown{Total: int32(b.Total), ByDirection: map[string]int32{}, ByChannel: map[string]int32{}}
		for d, n := range b.ByDirection {
			sb.ByDirection[app.DirectionProto(d).String()] = int32(n)
		}
		for c, n := range b.ByChannel {
			sb.ByChannel[app.ChannelProto(c).String()] = int32(n)
		}
		for _, n := range b.ByHour {
			sb.ByHour = append(sb.ByHour, int32(n))
		}
		for _, tm := range b.Times {
			sb.SlipTimes = append(sb.SlipTimes, timestamppb.New(tm))
		}
		out.Slips = sb
	}
	for _, e := range t.OwnReads {
		out.AccessLog = append(out.AccessLog, accessEntryProto(e))
	}
	return out, nil
}

// MarkClientReviewed implements plansv1.CareServiceServer.
func (s *CareServer) MarkClientReviewed(ctx context.Context, req *plansv1.MarkClientReviewedRequest) (*plansv1.MarkClientReviewedResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.view.MarkReviewed(ctx, caller, req.GetClientId())
	if err != nil {
		return nil, err
	}
	return &plansv1.MarkClientReviewedResponse{Review: &plansv1.Review{
		ClientId: req.GetClientId(), CounsellorId: caller.ID, ReviewTime: timestamppb.New(t),
	}}, nil
}

var timelineKinds = map[app.TimelineKind]plansv1.CareTimelineKind{
	app.TimelineAttemptStarted: plansv1.CareTimelineKind_CARE_TIMELINE_KIND_ATTEMPT_STARTED,
	app.TimelineAttemptEnded:   plansv1.CareTimelineKind_CARE_TIMELINE_KIND_ATTEMPT_ENDED,
	app.TimelineSlip:           plansv1.CareTimelineKind_CARE_TIMELINE_KIND_SLIP,
	app.TimelineMilestone:      plansv1.CareTimelineKind_CARE_TIMELINE_KIND_MILESTONE_REACHED,
	app.TimelineContact:        plansv1.CareTimelineKind_CARE_TIMELINE_KIND_CONTACT,
}

func careSummaryProto(sm app.CareSummary) *plansv1.CareSummary {
	out := &plansv1.CareSummary{ClientId: sm.ClientID, AssignmentId: sm.AssignmentID}
	for _, sc := range sm.Granted {
		out.GrantedScopes = append(out.GrantedScopes, app.ScopeProto(sc))
	}
	if sm.ReviewTime != nil {
		out.ReviewTime = timestamppb.New(*sm.ReviewTime)
	}
	if p := sm.Plan; p != nil && hasScope(sm.Granted, care.ScopePlanProgress) {
		ps := &plansv1.PlanCareSummary{
			PlanId: p.PlanID, Status: app.StatusProto(p.Status), CurrentStreakDays: int32(p.StreakDays),
			SlipsLast_14Days: int32(p.Slips14Days), TimeZone: p.TimeZone, LocalDate: p.LocalDate,
			LastSlipTime: optionalTime(p.LastSlipTime), LastContactTime: optionalTime(p.LastContactTime),
		}
		if m := p.NextMilestone; m != nil {
			day := int32(m.Day)
			ps.NextMilestoneDay = &day
			ps.NextMilestoneTime = optionalTime(m.DueTime)
		}
		if h := p.HardDate; h != nil {
			ps.HardDateAhead = &plansv1.UpcomingHardDate{HardDateId: h.ID, Label: h.Label, Date: h.Date, DaysUntil: int32(h.DaysUntil)}
		}
		out.Plan = ps
	}
	return out
}

func hasScope(granted []care.Scope, s care.Scope) bool {
	for _, g := range granted {
		if g == s {
			return true
		}
	}
	return false
}
