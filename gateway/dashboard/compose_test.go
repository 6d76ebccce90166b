package dashboard

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	dashboardv1 "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"
)

// Days since the last activity are local calendar days in the plan's zone,
// and the bands are RECENT 0-2, QUIET 3-6, SILENT 7 and more.
func TestRecencyBandsCountLocalDays(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 20, 8, 0, 0, 0, berlin)
	for _, c := range []struct {
		last time.Time
		days int32
		band dashboardv1.RecencyBand
	}{
		{time.Date(2026, 3, 20, 0, 30, 0, 0, berlin), 0, dashboardv1.RecencyBand_RECENCY_BAND_RECENT},
		// 23:30 yesterday in Berlin is 22:30 UTC, under 24 hours ago: one local day.
		{time.Date(2026, 3, 19, 23, 30, 0, 0, berlin), 1, dashboardv1.RecencyBand_RECENCY_BAND_RECENT},
		{time.Date(2026, 3, 18, 9, 0, 0, 0, berlin), 2, dashboardv1.RecencyBand_RECENCY_BAND_RECENT},
		{time.Date(2026, 3, 17, 23, 59, 0, 0, berlin), 3, dashboardv1.RecencyBand_RECENCY_BAND_QUIET},
		{time.Date(2026, 3, 14, 12, 0, 0, 0, berlin), 6, dashboardv1.RecencyBand_RECENCY_BAND_QUIET},
		{time.Date(2026, 3, 13, 12, 0, 0, 0, berlin), 7, dashboardv1.RecencyBand_RECENCY_BAND_SILENT},
		{time.Date(2026, 2, 1, 12, 0, 0, 0, berlin), 47, dashboardv1.RecencyBand_RECENCY_BAND_SILENT},
	} {
		row := Compose(Parts{ClientID: "c", Care: &plansv1.CareSummary{
			ClientId: "c", GrantedScopes: []plansv1.ConsentScope{plansv1.ConsentScope_PLAN_PROGRESS},
			Plan: &plansv1.PlanCareSummary{TimeZone: "Europe/Berlin"},
		}, Journal: &journalv1.JournalCareSummary{ClientId: "c", LastActivityTime: timestamppb.New(c.last)}}, now).Proto
		if row.GetDaysSinceActivity() != c.days || row.GetRecency() != c.band {
			t.Errorf("last %v: %d days %v, want %d %v", c.last, row.GetDaysSinceActivity(), row.GetRecency(), c.days, c.band)
		}
	}
}

// The latest of the journal's activity and the plan's last contact counts.
func TestLastActivityIsTheLatestOfJournalAndPlans(t *testing.T) {
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	contact := now.Add(-24 * time.Hour)
	row := Compose(Parts{ClientID: "c", Care: &plansv1.CareSummary{
		ClientId: "c", GrantedScopes: []plansv1.ConsentScope{plansv1.ConsentScope_PLAN_PROGRESS},
		Plan: &plansv1.PlanCareSummary{LastContactTime: timestamppb.New(contact)},
	}, Journal: &journalv1.JournalCareSummary{ClientId: "c", LastActivityTime: timestamppb.New(now.Add(-10 * 24 * time.Hour))}}, now).Proto
	if !row.GetLastActivityTime().AsTime().Equal(contact) || row.GetDaysSinceActivity() != 1 {
		t.Errorf("last activity %v (%d days), want the contact %v", row.GetLastActivityTime().AsTime(), row.GetDaysSinceActivity(), contact)
	}
}
