package plan_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

func TestNewPlan_Validation(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	valid := func() plan.NewPlanParams { return baseParams("Europe/Berlin", now.AddDate(0, 0, -3)) }
	many := make([]string, 21)
	for i := range many {
		many[i] = "reason"
	}
	cases := []struct {
		name   string
		mut    func(p *plan.NewPlanParams)
		fields []string
	}{
		{"target 400", func(p *plan.NewPlanParams) { p.TargetDays = 400 }, []string{"target_days"}},
		{"target -1", func(p *plan.NewPlanParams) { p.TargetDays = -1 }, []string{"target_days"}},
		{"target 366", func(p *plan.NewPlanParams) { p.TargetDays = 366 }, []string{"target_days"}},
		{"unknown time zone", func(p *plan.NewPlanParams) { p.TimeZone = "Mars/Olympus_Mons" }, []string{"time_zone"}},
		{"Local time zone", func(p *plan.NewPlanParams) { p.TimeZone = "Local" }, []string{"time_zone"}},
		{"empty time zone", func(p *plan.NewPlanParams) { p.TimeZone = "" }, []string{"time_zone"}},
		{"start 400 days ago", func(p *plan.NewPlanParams) { p.StartTime = now.AddDate(0, 0, -400) }, []string{"start_time"}},
		{"start 400 days ahead", func(p *plan.NewPlanParams) { p.StartTime = now.AddDate(0, 0, 400) }, []string{"start_time"}},
		{"empty reason", func(p *plan.NewPlanParams) { p.Reasons = []string{"ok", "  "} }, []string{"reasons[1]"}},
		{"too long reason", func(p *plan.NewPlanParams) { p.Reasons = []string{strings.Repeat("é", 501)} }, []string{"reasons[0]"}},
		{"too many reasons", func(p *plan.NewPlanParams) { p.Reasons = many }, []string{"reasons"}},
		{"custom day 0", func(p *plan.NewPlanParams) { p.CustomMilestoneDays = []int{5, 0} }, []string{"custom_milestone_days[1]"}},
		{"custom day 366", func(p *plan.NewPlanParams) { p.CustomMilestoneDays = []int{366} }, []string{"custom_milestone_days[0]"}},
		{"no client", func(p *plan.NewPlanParams) { p.ClientID = "" }, []string{"client_id"}},
		{"unknown mode", func(p *plan.NewPlanParams) { p.Mode = "lenient" }, []string{"mode"}},
		{"exception without kind", func(p *plan.NewPlanParams) { p.Exceptions = []plan.Exception{{ID: "e"}} }, []string{"exceptions[0].kind"}},
		{"two boundaries with one id", func(p *plan.NewPlanParams) {
			p.Boundaries = []plan.Boundary{{ID: "b1", Kind: "block_number"}, {ID: "b2", Kind: "mute_unfollow"}, {ID: "b1", Kind: "mute_unfollow"}}
		}, []string{"boundaries[2].id"}},
		{"two exceptions with one id", func(p *plan.NewPlanParams) {
			p.Exceptions = []plan.Exception{{ID: "e", Kind: "logistics"}, {ID: "e", Kind: "legal"}}
		}, []string{"exceptions[1].id"}},
		{"two support contacts with one id", func(p *plan.NewPlanParams) {
			p.SupportContacts = []plan.SupportContact{{ID: "s", Name: "Sam"}, {ID: "s", Name: "Alex"}}
		}, []string{"support_contacts[1].id"}},
		{"two goals with one id", func(p *plan.NewPlanParams) { p.Goals = []plan.Goal{{ID: "g", Text: "sleep"}, {ID: "g", Text: "run"}} }, []string{"goals[1].id"}},
		{"every violation at once", func(p *plan.NewPlanParams) {
			p.ClientID = ""
			p.TargetDays = 400
			p.TimeZone = "Nowhere/Special"
			p.StartTime = now.AddDate(0, 0, -400)
			p.Reasons = []string{"fine", ""}
			p.CustomMilestoneDays = []int{0, 10, -2}
			p.Mode = "lenient"
		}, []string{"client_id", "target_days", "time_zone", "start_time", "reasons[1]",
			"custom_milestone_days[0]", "custom_milestone_days[2]", "mode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := valid()
			tc.mut(&params)
			p, err := plan.NewPlan(params, seqIDs(), now)
			if p != nil {
				t.Errorf("an invalid plan was returned: %+v", p)
			}
			var ve *plan.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v (%T), want one *ValidationError", err, err)
			}
			wantFields(t, err, tc.fields...)
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error text %q does not name %s", err, f)
				}
			}
		})
	}
}

func TestNewPlan_Defaults(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p, err := plan.NewPlan(plan.NewPlanParams{ID: "p1", ClientID: "c1", TimeZone: "Asia/Kolkata",
		Reasons:             []string{"  my sleep  "},
		CustomMilestoneDays: []int{40, 10, 40},
		Boundaries:          []plan.Boundary{{Kind: "block_number"}},
	}, seqIDs(), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != plan.StatusDraft || p.TargetDays != plan.DefaultTargetDays || p.Mode != plan.ModeStrict || !p.StartTime.Equal(now) {
		t.Errorf("defaults: status %s target %d mode %s start %v", p.Status, p.TargetDays, p.Mode, p.StartTime)
	}
	if len(p.Reasons) != 1 || p.Reasons[0] != "my sleep" {
		t.Errorf("reasons = %q, want trimmed", p.Reasons)
	}
	if len(p.CustomMilestoneDays) != 2 || p.CustomMilestoneDays[0] != 10 || p.CustomMilestoneDays[1] != 40 {
		t.Errorf("custom days = %v, want [10 40]", p.CustomMilestoneDays)
	}
	if len(p.Boundaries) != 1 || p.Boundaries[0].ID == "" || p.Boundaries[0].State != "todo" {
		t.Errorf("boundaries = %+v, want an id and state todo", p.Boundaries)
	}
	if evs := p.PopEvents(); len(evs) != 1 || evs[0].Kind != plan.EventPlanCreated {
		t.Errorf("events = %v, want plan_created", eventKinds(evs))
	}
	if p.Counting() || len(p.Attempts(now.Add(48*time.Hour))) != 0 {
		t.Errorf("a draft counts days")
	}
}

func TestApply_Validation(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, loc)
	now := time.Date(2026, 5, 11, 12, 0, 0, 0, loc) // day 10
	p := newActive(t, baseParams("Europe/Berlin", start), now)
	cases := []struct {
		name   string
		patch  plan.Patch
		fields []string
	}{
		{"no field", plan.Patch{}, []string{"update_mask"}},
		{"unknown field", plan.Patch{Fields: []string{"status"}}, []string{"update_mask"}},
		{"target below the days counted", plan.Patch{Fields: []string{"target_days"}, NewPlanParams: plan.NewPlanParams{TargetDays: 10}}, []string{"target_days"}},
		{"target 0", plan.Patch{Fields: []string{"target_days"}}, []string{"target_days"}},
		{"Local zone", plan.Patch{Fields: []string{"time_zone"}, NewPlanParams: plan.NewPlanParams{TimeZone: "Local"}}, []string{"time_zone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantFields(t, p.Apply(tc.patch, seqIDs(), now), tc.fields...)
		})
	}
	err := p.Apply(plan.Patch{Fields: []string{"start_time"}, NewPlanParams: plan.NewPlanParams{StartTime: start.Add(time.Hour)}}, seqIDs(), now)
	if !errors.Is(err, plan.ErrIllegalTransition) {
		t.Errorf("moving the start of an active plan: err = %v, want ErrIllegalTransition", err)
	}
	if err := p.End("stop", now); err != nil {
		t.Fatal(err)
	}
	err = p.Apply(plan.Patch{Fields: []string{"reasons"}, NewPlanParams: plan.NewPlanParams{Reasons: []string{"x"}}}, seqIDs(), now)
	if !errors.Is(err, plan.ErrIllegalTransition) {
		t.Errorf("changing an ended plan: err = %v, want ErrIllegalTransition", err)
	}
}
