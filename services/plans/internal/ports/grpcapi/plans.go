// Package grpcapi is the plans service's gRPC port: it maps protobuf
// requests to the app layer and domain values back to protobuf. Request
// fields were already checked by protovalidate in the interceptor; the
// domain checks what proto rules cannot (time zones, time ranges).
package grpcapi

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// PlansServer implements plansv1.PlansServiceServer.
type PlansServer struct {
	plansv1.UnimplementedPlansServiceServer
	plans *app.Plans
}

// NewPlansServer builds the PlansService handlers.
func NewPlansServer(p *app.Plans) *PlansServer { return &PlansServer{plans: p} }

// CreatePlan implements plansv1.PlansServiceServer.
func (s *PlansServer) CreatePlan(ctx context.Context, req *plansv1.CreatePlanRequest) (*plansv1.CreatePlanResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	key, err := idempotency.KeyOf(req)
	if err != nil {
		return nil, err
	}
	v, err := s.plans.Create(ctx, c, planParams(req.GetPlan()), key)
	if err != nil {
		return nil, err
	}
	return &plansv1.CreatePlanResponse{Plan: planProto(v)}, nil
}

// GetPlan implements plansv1.PlansServiceServer.
func (s *PlansServer) GetPlan(ctx context.Context, req *plansv1.GetPlanRequest) (*plansv1.GetPlanResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.plans.Get(ctx, c, req.GetPlanId(), "GetPlan")
	if err != nil {
		return nil, err
	}
	return &plansv1.GetPlanResponse{Plan: planProto(v)}, nil
}

// ListPlans implements plansv1.PlansServiceServer.
func (s *PlansServer) ListPlans(ctx context.Context, req *plansv1.ListPlansRequest) (*plansv1.ListPlansResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	views, next, err := s.plans.List(ctx, c, req.GetClientId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &plansv1.ListPlansResponse{NextPageToken: next, Plans: make([]*plansv1.Plan, 0, len(views))}
	for _, v := range views {
		out.Plans = append(out.Plans, planProto(v))
	}
	return out, nil
}

// UpdatePlan implements plansv1.PlansServiceServer.
func (s *PlansServer) UpdatePlan(ctx context.Context, req *plansv1.UpdatePlanRequest) (*plansv1.UpdatePlanResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetPlan().GetId() == "" {
		return nil, apperr.InvalidArgument(apperr.FieldViolation{Field: "plan.id", Description: "is required"})
	}
	patch := plan.Patch{Fields: req.GetUpdateMask().GetPaths(), NewPlanParams: planParams(req.GetPlan())}
	v, err := s.plans.Update(ctx, c, req.GetPlan().GetId(), patch)
	if err != nil {
		return nil, err
	}
	return &plansv1.UpdatePlanResponse{Plan: planProto(v)}, nil
}

func (s *PlansServer) move(ctx context.Context, id string, t app.Transition, reason string, target int32) (*plansv1.Plan, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.plans.Move(ctx, c, id, t, reason, int(target))
	if err != nil {
		return nil, err
	}
	return planProto(v), nil
}

// ActivatePlan implements plansv1.PlansServiceServer.
func (s *PlansServer) ActivatePlan(ctx context.Context, req *plansv1.ActivatePlanRequest) (*plansv1.ActivatePlanResponse, error) {
	p, err := s.move(ctx, req.GetPlanId(), app.Activate, "", 0)
	if err != nil {
		return nil, err
	}
	return &plansv1.ActivatePlanResponse{Plan: p}, nil
}

// PausePlan implements plansv1.PlansServiceServer.
func (s *PlansServer) PausePlan(ctx context.Context, req *plansv1.PausePlanRequest) (*plansv1.PausePlanResponse, error) {
	p, err := s.move(ctx, req.GetPlanId(), app.Pause, req.GetReason(), 0)
	if err != nil {
		return nil, err
	}
	return &plansv1.PausePlanResponse{Plan: p}, nil
}

// ResumePlan implements plansv1.PlansServiceServer.
func (s *PlansServer) ResumePlan(ctx context.Context, req *plansv1.ResumePlanRequest) (*plansv1.ResumePlanResponse, error) {
	p, err := s.move(ctx, req.GetPlanId(), app.Resume, "", 0)
	if err != nil {
		return nil, err
	}
	return &plansv1.ResumePlanResponse{Plan: p}, nil
}

// EndPlan implements plansv1.PlansServiceServer.
func (s *PlansServer) EndPlan(ctx context.Context, req *plansv1.EndPlanRequest) (*plansv1.EndPlanResponse, error) {
	p, err := s.move(ctx, req.GetPlanId(), app.End, req.GetReason(), 0)
	if err != nil {
		return nil, err
	}
	return &plansv1.EndPlanResponse{Plan: p}, nil
}

// ExtendPlan implements plansv1.PlansServiceServer.
func (s *PlansServer) ExtendPlan(ctx context.Context, req *plansv1.ExtendPlanRequest) (*plansv1.ExtendPlanResponse, error) {
	p, err := s.move(ctx, req.GetPlanId(), app.Extend, "", req.GetTargetDays())
	if err != nil {
		return nil, err
	}
	return &plansv1.ExtendPlanResponse{Plan: p}, nil
}

// ClosePlan implements plansv1.PlansServiceServer.
func (s *PlansServer) ClosePlan(ctx context.Context, req *plansv1.ClosePlanRequest) (*plansv1.ClosePlanResponse, error) {
	p, err := s.move(ctx, req.GetPlanId(), app.Close, "", 0)
	if err != nil {
		return nil, err
	}
	return &plansv1.ClosePlanResponse{Plan: p}, nil
}

// CancelPlan implements plansv1.PlansServiceServer.
func (s *PlansServer) CancelPlan(ctx context.Context, req *plansv1.CancelPlanRequest) (*plansv1.CancelPlanResponse, error) {
	p, err := s.move(ctx, req.GetPlanId(), app.Cancel, "", 0)
	if err != nil {
		return nil, err
	}
	return &plansv1.CancelPlanResponse{Plan: p}, nil
}

// RecordContact implements plansv1.PlansServiceServer.
func (s *PlansServer) RecordContact(ctx context.Context, req *plansv1.RecordContactRequest) (*plansv1.RecordContactResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	key, err := idempotency.KeyOf(req)
	if err != nil {
		return nil, err
	}
	ct, v, err := s.plans.RecordContact(ctx, c, req.GetPlanId(), contactParams(req.GetContact()), key)
	if err != nil {
		return nil, err
	}
	return &plansv1.RecordContactResponse{Contact: contactProto(v, ct)}, nil
}

// ListContacts implements plansv1.PlansServiceServer: newest first, at
// most app.MaxContactsPage a page.
func (s *PlansServer) ListContacts(ctx context.Context, req *plansv1.ListContactsRequest) (*plansv1.ListContactsResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	contacts, v, next, err := s.plans.ListContacts(ctx, c, req.GetPlanId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &plansv1.ListContactsResponse{NextPageToken: next}
	for _, ct := range contacts {
		out.Contacts = append(out.Contacts, contactProto(v, ct))
	}
	return out, nil
}

// UpdateContact implements plansv1.PlansServiceServer.
func (s *PlansServer) UpdateContact(ctx context.Context, req *plansv1.UpdateContactRequest) (*plansv1.UpdateContactResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	patch := plan.ContactPatch{Fields: req.GetUpdateMask().GetPaths(), ContactParams: contactParams(req.GetContact())}
	ct, v, err := s.plans.CorrectContact(ctx, c, req.GetPlanId(), req.GetContactId(), patch)
	if err != nil {
		return nil, err
	}
	return &plansv1.UpdateContactResponse{Contact: contactProto(v, ct)}, nil
}

// VoidContact implements plansv1.PlansServiceServer.
func (s *PlansServer) VoidContact(ctx context.Context, req *plansv1.VoidContactRequest) (*plansv1.VoidContactResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	ct, v, err := s.plans.VoidContact(ctx, c, req.GetPlanId(), req.GetContactId())
	if err != nil {
		return nil, err
	}
	return &plansv1.VoidContactResponse{Contact: contactProto(v, ct)}, nil
}

// GetPlanProgress implements plansv1.PlansServiceServer.
func (s *PlansServer) GetPlanProgress(ctx context.Context, req *plansv1.GetPlanProgressRequest) (*plansv1.GetPlanProgressResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.plans.Get(ctx, c, req.GetPlanId(), "GetPlanProgress")
	if err != nil {
		return nil, err
	}
	p, now := &v.Plan, v.Now
	pr := p.Progress(now) // derived once for the whole answer
	st := pr.Streaks
	out := &plansv1.GetPlanProgressResponse{
		PlanId:            p.ID,
		Status:            app.StatusProto(p.Status),
		TargetDays:        int32(p.TargetDays),
		CurrentStreakDays: int32(st.Current),
		LongestStreakDays: int32(st.Longest),
		TotalDays:         int32(st.Total),
		TimeZone:          p.TimeZone,
		LocalDate:         p.LocalDate(now).String(),
	}
	for _, a := range pr.Attempts {
		out.Attempts = append(out.Attempts, attemptProto(a))
	}
	for _, m := range pr.Milestones {
		out.Milestones = append(out.Milestones, milestoneProto(m))
	}
	if pr.Next != nil {
		out.NextMilestone = milestoneProto(*pr.Next)
	}
	return out, nil
}

// ListMilestones implements plansv1.PlansServiceServer.
func (s *PlansServer) ListMilestones(ctx context.Context, req *plansv1.ListMilestonesRequest) (*plansv1.ListMilestonesResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.plans.Get(ctx, c, req.GetPlanId(), "ListMilestones")
	if err != nil {
		return nil, err
	}
	out := &plansv1.ListMilestonesResponse{}
	pr := v.Plan.Progress(v.Now)
	for _, m := range pr.Milestones {
		out.Milestones = append(out.Milestones, milestoneProto(m))
	}
	for _, m := range pr.History {
		out.History = append(out.History, milestoneProto(m))
	}
	return out, nil
}

// AcknowledgeMilestone implements plansv1.PlansServiceServer.
func (s *PlansServer) AcknowledgeMilestone(ctx context.Context, req *plansv1.AcknowledgeMilestoneRequest) (*plansv1.AcknowledgeMilestoneResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.plans.AcknowledgeMilestone(ctx, c, req.GetPlanId(), req.GetMilestoneId())
	if err != nil {
		return nil, err
	}
	return &plansv1.AcknowledgeMilestoneResponse{Milestone: milestoneProto(m)}, nil
}

// GetSupportInfo implements plansv1.PlansServiceServer.
func (s *PlansServer) GetSupportInfo(ctx context.Context, req *plansv1.GetSupportInfoRequest) (*plansv1.GetSupportInfoResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	info, err := s.plans.Support(ctx, c, req.GetClientId())
	if err != nil {
		return nil, err
	}
	out := &plansv1.GetSupportInfoResponse{}
	if p := info.Plan; p != nil {
		out.PlanId = p.ID
		out.Reasons = p.Reasons
		out.SafetyFirst = p.SafetyFirst
		out.CurrentStreakDays = int32(info.CurrentStreak)
		for _, sc := range p.SupportContacts {
			out.SupportContacts = append(out.SupportContacts, supportProto(sc))
		}
	}
	return out, nil
}

func planParams(p *plansv1.Plan) plan.NewPlanParams {
	out := plan.NewPlanParams{
		TargetDays:          int(p.GetTargetDays()),
		TimeZone:            p.GetTimeZone(),
		Reasons:             p.GetReasons(),
		SafetyFirst:         p.GetSafetyFirst(),
		CountsProfileChecks: p.GetCountsProfileChecks(),
	}
	if p.TargetDays != nil && p.GetTargetDays() == 0 {
		// An explicit 0 is out of range; protovalidate already refused it,
		// keep it refused here too rather than turning it into the default.
		out.TargetDays = -1
	}
	if p.GetStartTime() != nil {
		out.StartTime = p.GetStartTime().AsTime()
	}
	switch p.GetMode() {
	case plansv1.PlanMode_PLAN_MODE_WITH_EXCEPTIONS:
		out.Mode = plan.ModeWithExceptions
	case plansv1.PlanMode_PLAN_MODE_STRICT:
		out.Mode = plan.ModeStrict
	}
	for _, b := range p.GetBoundaries() {
		out.Boundaries = append(out.Boundaries, plan.Boundary{ID: b.GetId(), Kind: boundaryKind(b.GetKind()), Label: b.GetLabel(), Platform: b.GetPlatform(), State: boundaryState(b.GetState())})
	}
	for _, e := range p.GetExceptions() {
		out.Exceptions = append(out.Exceptions, plan.Exception{ID: e.GetId(), Kind: app.ExceptionKindFromProto(e.GetKind()), Channel: app.ChannelFromProto(e.GetChannel()), Topic: e.GetTopic()})
	}
	for _, sc := range p.GetSupportContacts() {
		out.SupportContacts = append(out.SupportContacts, plan.SupportContact{ID: sc.GetId(), Name: sc.GetName(), Relationship: sc.GetRelationship(), Contact: sc.GetContact()})
	}
	for _, g := range p.GetGoals() {
		out.Goals = append(out.Goals, plan.Goal{ID: g.GetId(), Text: g.GetText(), Done: g.GetDone()})
	}
	for _, h := range p.GetHardDates() {
		out.HardDates = append(out.HardDates, plan.HardDate{ID: h.GetId(), Label: h.GetLabel(), Month: int(h.GetMonth()), Day: int(h.GetDay())})
	}
	for _, d := range p.GetCustomMilestoneDays() {
		out.CustomMilestoneDays = append(out.CustomMilestoneDays, int(d))
	}
	return out
}

// planProto is the plan as v's caller may see it. An admin gets status
// only: none of the client's own words (reasons, goals, boundaries,
// exceptions, hard dates, end reason), none of their support contacts, and the number
// of logged contacts instead of the log.
func planProto(v app.View) *plansv1.Plan {
	p := &v.Plan
	contacts := int32(p.ContactCount)
	if v.Admin {
		return &plansv1.Plan{
			Id: p.ID, ClientId: p.ClientID, CounsellorId: v.CounsellorID, Status: app.StatusProto(p.Status),
			TimeZone: p.TimeZone, StartTime: timestamppb.New(p.StartTime), CreateTime: timestamppb.New(p.CreateTime),
			UpdateTime: timestamppb.New(p.UpdateTime), ActivateTime: optionalTime(p.ActivateTime), SafetyFirst: p.SafetyFirst,
			TargetDays: proto.Int32(int32(p.TargetDays)), ContactCount: contacts,
		}
	}
	target := int32(p.TargetDays)
	out := &plansv1.Plan{
		Id:                  p.ID,
		ClientId:            p.ClientID,
		CounsellorId:        v.CounsellorID,
		Status:              app.StatusProto(p.Status),
		TargetDays:          &target,
		TimeZone:            p.TimeZone,
		StartTime:           timestamppb.New(p.StartTime),
		Reasons:             p.Reasons,
		SafetyFirst:         p.SafetyFirst,
		CountsProfileChecks: p.CountsProfileChecks,
		CreateTime:          timestamppb.New(p.CreateTime),
		UpdateTime:          timestamppb.New(p.UpdateTime),
		ActivateTime:        optionalTime(p.ActivateTime),
		Mode:                plansv1.PlanMode_PLAN_MODE_STRICT,
		ContactCount:        contacts,
	}
	if p.Mode == plan.ModeWithExceptions {
		out.Mode = plansv1.PlanMode_PLAN_MODE_WITH_EXCEPTIONS
	}
	if v.Owner {
		out.EndReason = p.EndReason
	}
	for _, b := range p.Boundaries {
		out.Boundaries = append(out.Boundaries, &plansv1.Boundary{Id: b.ID, Kind: boundaryKindProto(b.Kind), Label: b.Label, Platform: b.Platform, State: boundaryStateProto(b.State)})
	}
	for _, e := range p.Exceptions {
		out.Exceptions = append(out.Exceptions, &plansv1.ContactException{Id: e.ID, Kind: app.ExceptionKindProto(e.Kind), Channel: app.ChannelProto(e.Channel), Topic: e.Topic})
	}
	for _, sc := range p.SupportContacts {
		out.SupportContacts = append(out.SupportContacts, supportProto(sc))
	}
	for _, g := range p.Goals {
		out.Goals = append(out.Goals, &plansv1.Goal{Id: g.ID, Text: g.Text, Done: g.Done})
	}
	for _, h := range p.HardDates {
		out.HardDates = append(out.HardDates, &plansv1.HardDate{Id: h.ID, Label: h.Label, Month: int32(h.Month), Day: int32(h.Day)})
	}
	for _, d := range p.CustomMilestoneDays {
		out.CustomMilestoneDays = append(out.CustomMilestoneDays, int32(d))
	}
	return out
}

func supportProto(sc plan.SupportContact) *plansv1.SupportContact {
	return &plansv1.SupportContact{Id: sc.ID, Name: sc.Name, Relationship: sc.Relationship, Contact: sc.Contact}
}

func contactParams(c *plansv1.Contact) plan.ContactParams {
	out := plan.ContactParams{
		Direction:   app.DirectionFromProto(c.GetDirection()),
		Channel:     app.ChannelFromProto(c.GetChannel()),
		Response:    app.ResponseFromProto(c.GetResponse()),
		ExceptionID: c.GetExceptionId(),
		Note:        c.GetNote(),
	}
	if c.GetOccurredAt() != nil {
		out.OccurredAt = c.GetOccurredAt().AsTime()
	}
	if c.GetRecommitTime() != nil {
		t := c.GetRecommitTime().AsTime()
		out.RecommitTime = &t
	}
	return out
}

func contactProto(v app.View, c plan.Contact) *plansv1.Contact {
	out := &plansv1.Contact{
		Id:             c.ID,
		PlanId:         v.Plan.ID,
		Direction:      app.DirectionProto(c.Direction),
		Channel:        app.ChannelProto(c.Channel),
		OccurredAt:     timestamppb.New(c.OccurredAt),
		Response:       app.ResponseProto(c.Response),
		ExceptionId:    c.ExceptionID,
		RecommitTime:   optionalTime(c.RecommitTime),
		Classification: app.ClassificationProto(c.Classification),
		EndedAttempt:   v.Plan.EndsAttempt(c),
		TimeZone:       c.TimeZone,
		LocalDate:      c.LocalDate,
		Voided:         c.Voided,
		CreateTime:     timestamppb.New(c.CreateTime),
		UpdateTime:     timestamppb.New(c.UpdateTime),
	}
	if v.Owner {
		out.Note = c.Note
	}
	return out
}

func attemptProto(a plan.Attempt) *plansv1.Attempt {
	return &plansv1.Attempt{
		Number:        int32(a.Number),
		StartTime:     timestamppb.New(a.Start),
		EndTime:       optionalTime(a.End),
		EndReason:     app.EndReasonProto(a.EndReason),
		SlipContactId: a.SlipContactID,
		Days:          int32(a.Days),
	}
}

func milestoneProto(m plan.Milestone) *plansv1.Milestone {
	out := &plansv1.Milestone{
		Id:              m.ID,
		Day:             int32(m.Day),
		Kind:            app.MilestoneKindProto(m.Kind),
		DueTime:         optionalTime(m.DueTime),
		ReachTime:       optionalTime(m.ReachTime),
		AcknowledgeTime: optionalTime(m.AckTime),
		AttemptNumber:   int32(m.AttemptNumber),
	}
	switch m.Status {
	case plan.MilestonePending:
		out.Status = plansv1.MilestoneStatus_MILESTONE_STATUS_PENDING
	case plan.MilestoneReached:
		out.Status = plansv1.MilestoneStatus_MILESTONE_STATUS_REACHED
	case plan.MilestoneAcknowledged:
		out.Status = plansv1.MilestoneStatus_MILESTONE_STATUS_ACKNOWLEDGED
	case plan.MilestoneSuperseded:
		out.Status = plansv1.MilestoneStatus_MILESTONE_STATUS_SUPERSEDED
	}
	return out
}

var boundaryKinds = map[string]plansv1.BoundaryKind{
	"block_number": plansv1.BoundaryKind_BOUNDARY_KIND_BLOCK_NUMBER, "mute_unfollow": plansv1.BoundaryKind_BOUNDARY_KIND_MUTE_UNFOLLOW,
	"archive_photos": plansv1.BoundaryKind_BOUNDARY_KIND_ARCHIVE_PHOTOS, "avoid_places": plansv1.BoundaryKind_BOUNDARY_KIND_AVOID_PLACES,
	"tell_rule": plansv1.BoundaryKind_BOUNDARY_KIND_TELL_RULE, "other": plansv1.BoundaryKind_BOUNDARY_KIND_OTHER,
}

var boundaryStates = map[string]plansv1.BoundaryState{
	"todo": plansv1.BoundaryState_BOUNDARY_STATE_TODO, "done": plansv1.BoundaryState_BOUNDARY_STATE_DONE,
	"skipped": plansv1.BoundaryState_BOUNDARY_STATE_SKIPPED,
}

func boundaryKind(k plansv1.BoundaryKind) string {
	for s, v := range boundaryKinds {
		if v == k {
			return s
		}
	}
	return ""
}

func boundaryState(st plansv1.BoundaryState) string {
	for s, v := range boundaryStates {
		if v == st {
			return s
		}
	}
	return ""
}

func boundaryKindProto(k string) plansv1.BoundaryKind   { return boundaryKinds[k] }
func boundaryStateProto(s string) plansv1.BoundaryState { return boundaryStates[s] }
