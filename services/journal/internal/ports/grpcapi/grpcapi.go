// Package grpcapi is the journal service's gRPC port.
package grpcapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
	"github.com/nocontact/backend/services/journal/internal/prompts"
	"github.com/nocontact/backend/services/journal/internal/resources"
)

// Server implements journalv1.JournalServiceServer.
type Server struct {
	journalv1.UnimplementedJournalServiceServer
	j *app.Journal
}

// New builds the JournalService handlers.
func New(j *app.Journal) *Server { return &Server{j: j} }

// RecordCheckIn implements journalv1.JournalServiceServer.
func (s *Server) RecordCheckIn(ctx context.Context, req *journalv1.RecordCheckInRequest) (*journalv1.RecordCheckInResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetCheckIn()
	ci := journal.CheckIn{
		Mood: int(in.GetMood()), Difficulty: int(in.GetDifficulty()), SelfCare: in.GetSelfCare(), Triggers: in.GetTriggers(),
		Note: in.GetNote(), TimeZone: in.GetTimeZone(), Kind: "daily",
	}
	if in.GetKind() == journalv1.CheckInKind_MOMENTARY {
		ci.Kind = "momentary"
	}
	if in.GetOccurredAt() != nil {
		ci.OccurredAt = in.GetOccurredAt().AsTime()
	}
	if in.SleepHours != nil {
		h := float64(in.GetSleepHours())
		ci.SleepHours = &h
	}
	for _, e := range in.GetEmotions() {
		ci.Emotions = append(ci.Emotions, journal.EmotionRating{Emotion: e.GetEmotion(), Intensity: int(e.GetIntensity())})
	}
	key, err := idempotency.KeyOf(req)
	if err != nil {
		return nil, err
	}
	out, screen, err := s.j.RecordCheckIn(ctx, c, req.GetClientId(), ci, req.GetCountryCode(), key)
	if err != nil {
		return nil, err
	}
	return &journalv1.RecordCheckInResponse{CheckIn: checkInProto(out, true), CrisisResources: resourcesProto(screen.Resources), SupportMessage: screen.Message}, nil
}

// ListCheckIns implements journalv1.JournalServiceServer.
func (s *Server) ListCheckIns(ctx context.Context, req *journalv1.ListCheckInsRequest) (*journalv1.ListCheckInsResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, next, owner, err := s.j.ListCheckIns(ctx, c, req.GetClientId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &journalv1.ListCheckInsResponse{NextPageToken: next}
	for _, ci := range list {
		out.CheckIns = append(out.CheckIns, checkInProto(ci, owner))
	}
	return out, nil
}

// CreateEntry implements journalv1.JournalServiceServer.
func (s *Server) CreateEntry(ctx context.Context, req *journalv1.CreateEntryRequest) (*journalv1.CreateEntryResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetEntry()
	e := journal.Entry{
		Kind: app.EntryKindFromProto(in.GetKind()), PromptID: in.GetPromptId(), Title: in.GetTitle(), Body: in.GetBody(),
		TimeZone: in.GetTimeZone(),
	}
	if in.MoodBefore != nil {
		m := int(in.GetMoodBefore())
		e.MoodBefore = &m
	}
	if in.MoodAfter != nil {
		m := int(in.GetMoodAfter())
		e.MoodAfter = &m
	}
	key, err := idempotency.KeyOf(req)
	if err != nil {
		return nil, err
	}
	out, screen, err := s.j.CreateEntry(ctx, c, req.GetClientId(), e, req.GetCountryCode(), key)
	if err != nil {
		return nil, err
	}
	return &journalv1.CreateEntryResponse{Entry: entryProto(out), CrisisResources: resourcesProto(screen.Resources), SupportMessage: screen.Message}, nil
}

// ListEntries implements journalv1.JournalServiceServer.
func (s *Server) ListEntries(ctx context.Context, req *journalv1.ListEntriesRequest) (*journalv1.ListEntriesResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, next, err := s.j.ListEntries(ctx, c, req.GetClientId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &journalv1.ListEntriesResponse{NextPageToken: next}
	for _, e := range list {
		out.Entries = append(out.Entries, entryProto(e))
	}
	return out, nil
}

// GetEntry implements journalv1.JournalServiceServer.
func (s *Server) GetEntry(ctx context.Context, req *journalv1.GetEntryRequest) (*journalv1.GetEntryResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.j.GetEntry(ctx, c, req.GetClientId(), req.GetEntryId())
	if err != nil {
		return nil, err
	}
	return &journalv1.GetEntryResponse{Entry: entryProto(e)}, nil
}

// ShareEntry implements journalv1.JournalServiceServer.
func (s *Server) ShareEntry(ctx context.Context, req *journalv1.ShareEntryRequest) (*journalv1.ShareEntryResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.j.SetShared(ctx, c, req.GetClientId(), req.GetEntryId(), true)
	if err != nil {
		return nil, err
	}
	return &journalv1.ShareEntryResponse{Entry: entryProto(e)}, nil
}

// UnshareEntry implements journalv1.JournalServiceServer.
func (s *Server) UnshareEntry(ctx context.Context, req *journalv1.UnshareEntryRequest) (*journalv1.UnshareEntryResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.j.SetShared(ctx, c, req.GetClientId(), req.GetEntryId(), false)
	if err != nil {
		return nil, err
	}
	return &journalv1.UnshareEntryResponse{Entry: entryProto(e)}, nil
}

// LogUrge implements journalv1.JournalServiceServer.
func (s *Server) LogUrge(ctx context.Context, req *journalv1.LogUrgeRequest) (*journalv1.LogUrgeResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetUrge()
	key, err := idempotency.KeyOf(req)
	if err != nil {
		return nil, err
	}
	ans, err := s.j.LogUrge(ctx, c, req.GetClientId(), journal.Urge{Intensity: int(in.GetIntensity()), Trigger: in.GetTrigger(), Note: in.GetNote(), TimeZone: in.GetTimeZone()}, req.GetCountryCode(), key)
	if err != nil {
		return nil, err
	}
	out := &journalv1.LogUrgeResponse{
		Urge:              urgeProto(ans.Urge),
		Reasons:           ans.Support.Reasons,
		CopingStep:        &journalv1.CopingStep{Id: ans.Step.ID, Title: ans.Step.Title, Text: ans.Step.Text, Minutes: int32(ans.Step.Minutes)},
		CrisisResources:   resourcesProto(ans.Screen.Resources),
		PlanUnavailable:   ans.PlanUnavailable,
		CurrentStreakDays: int32(ans.Support.StreakDays),
	}
	for _, sc := range ans.Support.Contacts {
		out.SupportContacts = append(out.SupportContacts, &plansv1.SupportContact{Id: sc.ID, Name: sc.Name, Relationship: sc.Relationship, Contact: sc.Contact})
	}
	return out, nil
}

// ResolveUrge implements journalv1.JournalServiceServer.
func (s *Server) ResolveUrge(ctx context.Context, req *journalv1.ResolveUrgeRequest) (*journalv1.ResolveUrgeResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.j.ResolveUrge(ctx, c, req.GetClientId(), req.GetUrgeId(), app.OutcomeFromProto(req.GetOutcome()))
	if err != nil {
		return nil, err
	}
	return &journalv1.ResolveUrgeResponse{Urge: urgeProto(u)}, nil
}

// GetInsights implements journalv1.JournalServiceServer.
func (s *Server) GetInsights(ctx context.Context, req *journalv1.GetInsightsRequest) (*journalv1.GetInsightsResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	sum, err := s.j.Insights(ctx, c, req.GetClientId(), int(req.GetDays()))
	if err != nil {
		return nil, err
	}
	out := &journalv1.GetInsightsResponse{
		FromDate: sum.FromDate, ToDate: sum.ToDate, MoodAverage: sum.MoodAverage, UrgeAverage: sum.UrgeAverage,
		JournalingStreakDays: int32(sum.JournalingStreakDays),
	}
	for _, d := range sum.Days {
		out.Days = append(out.Days, &journalv1.DayInsight{
			LocalDate: d.LocalDate, MoodAverage: d.MoodAverage, CheckInCount: int32(d.CheckInCount),
			UrgeAverage: d.UrgeAverage, UrgeCount: int32(d.UrgeCount), EntryCount: int32(d.EntryCount),
		})
	}
	for _, tc := range sum.TopTriggers {
		out.TopTriggers = append(out.TopTriggers, &journalv1.TriggerCount{Trigger: tc.Trigger, Count: int32(tc.Count)})
	}
	for _, e := range sum.HelpfulSelfCare {
		out.HelpfulSelfCare = append(out.HelpfulSelfCare, &journalv1.SelfCareEffect{SelfCare: e.SelfCare, DaysWith: int32(e.DaysWith), MoodWith: e.MoodWith, MoodWithout: e.MoodWithout})
	}
	return out, nil
}

// ListPrompts implements journalv1.JournalServiceServer.
func (s *Server) ListPrompts(_ context.Context, req *journalv1.ListPromptsRequest) (*journalv1.ListPromptsResponse, error) {
	list := prompts.All()
	if req.GetTheme() != "" {
		list = prompts.ByTheme(req.GetTheme())
	}
	out := &journalv1.ListPromptsResponse{}
	for _, p := range list {
		out.Prompts = append(out.Prompts, promptProto(p))
	}
	return out, nil
}

// GetPromptOfTheDay implements journalv1.JournalServiceServer.
func (s *Server) GetPromptOfTheDay(ctx context.Context, req *journalv1.GetPromptOfTheDayRequest) (*journalv1.GetPromptOfTheDayResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	p, day, err := s.j.PromptOfTheDay(ctx, c, req.GetClientId())
	if err != nil {
		return nil, err
	}
	return &journalv1.GetPromptOfTheDayResponse{Prompt: promptProto(p), Day: int32(day)}, nil
}

// ListRiskFlags implements journalv1.JournalServiceServer.
func (s *Server) ListRiskFlags(ctx context.Context, req *journalv1.ListRiskFlagsRequest) (*journalv1.ListRiskFlagsResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.j.ListRiskFlags(ctx, c, req.GetClientId(), req.GetOpenOnly())
	if err != nil {
		return nil, err
	}
	out := &journalv1.ListRiskFlagsResponse{}
	for _, f := range list {
		out.RiskFlags = append(out.RiskFlags, flagProto(f))
	}
	return out, nil
}

// AcknowledgeRiskFlag implements journalv1.JournalServiceServer.
func (s *Server) AcknowledgeRiskFlag(ctx context.Context, req *journalv1.AcknowledgeRiskFlagRequest) (*journalv1.AcknowledgeRiskFlagResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.j.ChangeFlag(ctx, c, req.GetClientId(), req.GetFlagId(), false, false)
	if err != nil {
		return nil, err
	}
	return &journalv1.AcknowledgeRiskFlagResponse{RiskFlag: flagProto(f)}, nil
}

// ResolveRiskFlag implements journalv1.JournalServiceServer.
func (s *Server) ResolveRiskFlag(ctx context.Context, req *journalv1.ResolveRiskFlagRequest) (*journalv1.ResolveRiskFlagResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.j.ChangeFlag(ctx, c, req.GetClientId(), req.GetFlagId(), true, req.GetDismiss())
	if err != nil {
		return nil, err
	}
	return &journalv1.ResolveRiskFlagResponse{RiskFlag: flagProto(f)}, nil
}

func checkInProto(ci journal.CheckIn, owner bool) *journalv1.CheckIn {
	out := &journalv1.CheckIn{
		Id: ci.ID, ClientId: ci.ClientID, Kind: journalv1.CheckInKind_DAILY, OccurredAt: timestamppb.New(ci.OccurredAt),
		TimeZone: ci.TimeZone, LocalDate: ci.LocalDate, Mood: int32(ci.Mood), Difficulty: int32(ci.Difficulty),
		SelfCare: ci.SelfCare, Triggers: ci.Triggers, CreateTime: timestamppb.New(ci.CreateTime),
	}
	if ci.Kind == "momentary" {
		out.Kind = journalv1.CheckInKind_MOMENTARY
	}
	if ci.SleepHours != nil {
		out.SleepHours = proto.Float32(float32(*ci.SleepHours))
	}
	for _, e := range ci.Emotions {
		out.Emotions = append(out.Emotions, &journalv1.EmotionRating{Emotion: e.Emotion, Intensity: int32(e.Intensity)})
	}
	if owner {
		out.Note = ci.Note
	}
	return out
}

func entryProto(e journal.Entry) *journalv1.Entry {
	out := &journalv1.Entry{
		Id: e.ID, ClientId: e.ClientID, Kind: app.EntryKindProto(e.Kind), PromptId: e.PromptID, Title: e.Title, Body: e.Body,
		Shared: e.Shared, TimeZone: e.TimeZone, LocalDate: e.LocalDate, CreateTime: timestamppb.New(e.CreateTime), ShareTime: optionalTime(e.ShareTime),
	}
	if e.MoodBefore != nil {
		out.MoodBefore = proto.Int32(int32(*e.MoodBefore))
	}
	if e.MoodAfter != nil {
		out.MoodAfter = proto.Int32(int32(*e.MoodAfter))
	}
	return out
}

func urgeProto(u journal.Urge) *journalv1.Urge {
	return &journalv1.Urge{
		Id: u.ID, ClientId: u.ClientID, Intensity: int32(u.Intensity), Trigger: u.Trigger, Note: u.Note, TimeZone: u.TimeZone,
		LocalDate: u.LocalDate, CreateTime: timestamppb.New(u.CreateTime), Outcome: app.OutcomeProto(u.Outcome), ResolveTime: optionalTime(u.ResolveTime),
	}
}

func flagProto(f journal.RiskFlag) *journalv1.RiskFlag {
	return &journalv1.RiskFlag{
		Id: f.ID, ClientId: f.ClientID, Reason: app.FlagReasonProto(f.Reason), Status: app.FlagStatusProto(f.Status),
		SourceKind: f.SourceKind, SourceId: f.SourceID, RaiseTime: timestamppb.New(f.RaiseTime), EscalateTime: optionalTime(f.EscalateTime),
		AcknowledgeTime: optionalTime(f.AckTime), AcknowledgedBy: f.AcknowledgedBy, CloseTime: optionalTime(f.CloseTime),
		Category: app.CategoryProto(f.Category), Severity: app.FlagSeverityProto(f),
	}
}

func promptProto(p prompts.Prompt) *journalv1.Prompt {
	return &journalv1.Prompt{Id: p.ID, Theme: p.Theme, Text: p.Text}
}

func resourcesProto(rs []resources.Resource) []*journalv1.CrisisResource {
	out := make([]*journalv1.CrisisResource, 0, len(rs))
	for _, r := range rs {
		out = append(out, &journalv1.CrisisResource{
			CountryCode: r.CountryCode, Name: r.Name, Description: r.Description, Phone: r.Phone, Text: r.Text,
			Url: r.URL, Hours: r.Hours, LastVerified: r.LastVerified,
		})
	}
	return out
}

func optionalTime(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}
