package grpcapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/insights"
)

// BatchGetJournalSummaries implements journalv1.JournalServiceServer.
func (s *Server) BatchGetJournalSummaries(ctx context.Context, req *journalv1.BatchGetJournalSummariesRequest) (*journalv1.BatchGetJournalSummariesResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.j.BatchSummaries(ctx, c, req.GetClientIds(), req.GetAsCareTeam())
	if err != nil {
		return nil, err
	}
	out := &journalv1.BatchGetJournalSummariesResponse{}
	for _, sum := range list {
		out.Summaries = append(out.Summaries, careSummaryProto(sum))
	}
	return out, nil
}

// GetJournalCareDetail implements journalv1.JournalServiceServer.
func (s *Server) GetJournalCareDetail(ctx context.Context, req *journalv1.GetJournalCareDetailRequest) (*journalv1.GetJournalCareDetailResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	slips := make([]time.Time, 0, len(req.GetSlipTimes()))
	for _, t := range req.GetSlipTimes() {
		slips = append(slips, t.AsTime())
	}
	d, err := s.j.CareDetailOf(ctx, c, req.GetClientId(), slips, req.GetAsCareTeam())
	if err != nil {
		return nil, err
	}
	out := &journalv1.GetJournalCareDetailResponse{ClientId: req.GetClientId(), Summary: careSummaryProto(d.Summary), TimeZone: d.TimeZone}
	for _, day := range d.Days {
		cd := &journalv1.CareDay{LocalDate: day.LocalDate, MoodAverage: day.MoodAverage, Checkins: int32(day.CheckIns), Urges: int32(day.Urges)}
		if day.MaxUrge != nil {
			cd.MaxUrgeIntensity = proto.Int32(int32(*day.MaxUrge))
		}
		out.Days = append(out.Days, cd)
	}
	for _, t := range d.SlipTriggers {
		out.SlipTriggers = append(out.SlipTriggers, &journalv1.TriggerCount{Trigger: t.Trigger, Count: int32(t.Count)})
	}
	for _, e := range d.SharedEntries {
		out.SharedEntries = append(out.SharedEntries, entryProto(e))
	}
	for _, f := range d.Flags {
		out.RiskFlags = append(out.RiskFlags, flagProto(f))
	}
	return out, nil
}

var trends = map[insights.Trend]journalv1.MoodTrend{
	insights.TrendRising:  journalv1.MoodTrend_MOOD_TREND_RISING,
	insights.TrendSteady:  journalv1.MoodTrend_MOOD_TREND_STEADY,
	insights.TrendFalling: journalv1.MoodTrend_MOOD_TREND_FALLING,
}

func careSummaryProto(s app.CareSummary) *journalv1.JournalCareSummary {
	out := &journalv1.JournalCareSummary{ClientId: s.ClientID, LastActivityTime: optionalTime(s.LastActivity)}
	if m := s.Mood; m != nil {
		out.Mood = &journalv1.MoodCareSummary{
			Trend: trends[m.Trend], MoodAverage_7D: m.Average7d, UrgesLast_7Days: int32(m.Urges7d),
			MissedCheckinsInARow: int32(m.MissedInARow), LatestMoodTime: optionalTime(m.LatestMoodTime),
		}
		if m.LatestMood != nil {
			out.Mood.LatestMood = proto.Int32(int32(*m.LatestMood))
		}
	}
	if r := s.Risk; r != nil {
		out.Risk = &journalv1.RiskCareSummary{OpenFlags: int32(r.Open), UnacknowledgedFlags: int32(r.Unacknowledged)}
		if r.Open > 0 {
			out.Risk.HighestSeverity = app.SeverityProto(r.Highest.String())
		}
	}
	return out
}
