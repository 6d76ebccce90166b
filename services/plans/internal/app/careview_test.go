package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

func isNotFound(err error) bool {
	k, ok := apperr.KindOf(err)
	return ok && k == apperr.KindNotFound
}

// invalidField reports whether err is InvalidArgument naming field.
func invalidField(err error, field string) bool {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Kind() != apperr.KindInvalidArgument {
		return false
	}
	for _, v := range e.Violations() {
		if v.Field == field {
			return true
		}
	}
	return false
}

var (
	counsellorA = app.Caller{ID: "counsellor-a", Role: auth.RoleCounsellor, RequestID: "req-ca"}
	counsellorB = app.Caller{ID: "counsellor-b", Role: auth.RoleCounsellor, RequestID: "req-cb"}
	adminCaller = app.Caller{ID: "admin-1", Role: auth.RoleAdmin, RequestID: "req-ad"}
)

func clientCaller(id string) app.Caller {
	return app.Caller{ID: id, Role: auth.RoleClient, RequestID: "req-" + id}
}

// careClient gives a client an active plan (started days ago), an active
// assignment to counsellor and the scopes.
func careClient(t *testing.T, r *replica, f *fixture, id string, counsellor app.Caller, days int, scopes ...care.Scope) string {
	t.Helper()
	ctx := context.Background()
	c := clientCaller(id)
	v, err := r.plans.Create(ctx, c, plan.NewPlanParams{TimeZone: "Europe/Berlin", StartTime: f.clk.Now().Add(-time.Duration(days) * 24 * time.Hour),
		TargetDays: 30, Reasons: []string{"peace"}, HardDates: []plan.HardDate{{Label: "her birthday", Month: int(f.clk.Now().AddDate(0, 0, 3).Month()), Day: f.clk.Now().AddDate(0, 0, 3).Day()}}}, app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.plans.Move(ctx, c, v.Plan.ID, app.Activate, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.care.CreateAssignment(ctx, adminCaller, id, counsellor.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range scopes {
		if _, err := r.care.SetConsent(ctx, c, id, s, true); err != nil {
			t.Fatal(err)
		}
	}
	return v.Plan.ID
}

func accessEntries(t *testing.T, f *fixture, clientID, action string) []care.AccessEntry {
	t.Helper()
	cur, err := f.db.Collection(mongodb.CollAccessLog).Find(context.Background(), bson.D{{Key: "client_id", Value: clientID}, {Key: "action", Value: action}})
	if err != nil {
		t.Fatal(err)
	}
	var out []care.AccessEntry
	if err := cur.All(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCareSummariesFollowAssignmentAndConsentAtOnce(t *testing.T) {
	f := newFixture(t, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	ctx := context.Background()
	planOnly := careClient(t, r, f, "client-plan", counsellorA, 7, care.ScopePlanProgress)
	careClient(t, r, f, "client-mood", counsellorA, 3, care.ScopeMoodInsights)
	careClient(t, r, f, "client-other", counsellorB, 5, care.ScopePlanProgress)
	// A slip yesterday for the plan-only client.
	if _, _, err := r.plans.RecordContact(ctx, clientCaller("client-plan"), planOnly, plan.ContactParams{
		Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: f.clk.Now().Add(-24 * time.Hour)}, app.RequestKey{}); err != nil {
		t.Fatal(err)
	}

	// Empty ids: exactly the counsellor's ACTIVE clients.
	got, err := r.view.Summaries(ctx, counsellorA, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ClientID != "client-mood" || got[1].ClientID != "client-plan" {
		t.Fatalf("summaries = %+v, want client-mood and client-plan", got)
	}
	mood, pl := got[0], got[1]
	if mood.Plan != nil {
		t.Errorf("a client who did not grant PLAN_PROGRESS shows a plan: %+v", mood.Plan)
	}
	if pl.Plan == nil || pl.Plan.Slips14Days != 1 || pl.Plan.LastContactTime == nil || pl.Plan.HardDate == nil || pl.Plan.HardDate.DaysUntil != 3 {
		t.Fatalf("plan-only client's plan = %+v, want one slip, a last contact and the hard date in 3 days", pl.Plan)
	}

	// Another counsellor's client, named: left out, and logged DENIED.
	got, err = r.view.Summaries(ctx, counsellorA, []string{"client-other", "client-plan"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ClientID != "client-plan" {
		t.Fatalf("summaries = %+v, want only client-plan", got)
	}
	denied := accessEntries(t, f, "client-other", "BatchGetCareSummaries")
	if len(denied) != 1 || denied[0].Outcome != care.OutcomeDenied || denied[0].ActorID != counsellorA.ID {
		t.Errorf("access log of the other counsellor's client = %+v, want one DENIED by counsellor-a", denied)
	}
	if allowed := accessEntries(t, f, "client-plan", "BatchGetCareSummaries"); len(allowed) != 2 || allowed[0].Outcome != care.OutcomeAllowed {
		t.Errorf("access log of client-plan = %+v, want two ALLOWED reads", allowed)
	}

	// A revocation holds from the next call.
	if _, err := r.care.SetConsent(ctx, clientCaller("client-plan"), "client-plan", care.ScopePlanProgress, false); err != nil {
		t.Fatal(err)
	}
	got, err = r.view.Summaries(ctx, counsellorA, []string{"client-plan"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Plan != nil || len(got[0].Granted) != 0 {
		t.Errorf("after the revocation: %+v, want no plan and no scope", got)
	}
	// An ended assignment: the client is gone at once.
	if _, err := r.care.EndAssignment(ctx, adminCaller, care.AssignmentID("client-mood", counsellorA.ID)); err != nil {
		t.Fatal(err)
	}
	if got, err = r.view.Summaries(ctx, counsellorA, nil, false); err != nil || len(got) != 1 || got[0].ClientID != "client-plan" {
		t.Errorf("after ending client-mood's assignment: %+v, %v", got, err)
	}
}

func TestCareTeamViewIsTheClientsOwnOnly(t *testing.T) {
	f := newFixture(t, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	ctx := context.Background()
	careClient(t, r, f, "client-plan", counsellorA, 7, care.ScopePlanProgress)

	got, err := r.view.Summaries(ctx, clientCaller("client-plan"), []string{"client-plan"}, true)
	if err != nil || len(got) != 1 || got[0].Plan == nil || got[0].Plan.StreakDays != 7 {
		t.Fatalf("care-team view = %+v, %v; want the plan with a 7-day streak", got, err)
	}
	if _, err := r.view.Summaries(ctx, counsellorA, []string{"client-plan"}, true); !invalidField(err, "as_care_team") {
		t.Errorf("a counsellor asking as the care team: %v, want InvalidArgument naming as_care_team", err)
	}
	if got, err := r.view.Summaries(ctx, clientCaller("client-x"), []string{"client-plan"}, true); err != nil || len(got) != 0 {
		t.Errorf("another client asking: %+v, %v; want nothing", got, err)
	}
	allowed, err := r.access(ctx, clientCaller("client-plan"), true, care.ScopePlanProgress, care.ScopeMoodInsights)
	if err != nil || !allowed[0] || allowed[1] {
		t.Errorf("CheckCareAccess as the care team = %v, %v; want PLAN_PROGRESS only", allowed, err)
	}
}

// access asks CheckCareAccess for the caller's own id.
func (r *replica) access(ctx context.Context, c app.Caller, asCareTeam bool, scopes ...care.Scope) ([]bool, error) {
	var qs []app.AccessQuery
	for _, s := range scopes {
		qs = append(qs, app.AccessQuery{ClientID: c.ID, Scope: s})
	}
	return r.accessApp.Allowed(ctx, c, qs, asCareTeam)
}

// A roster of 50 costs the store as many round trips as a roster of 5.
func TestCareSummariesCostTheSameWhateverTheRosterSize(t *testing.T) {
	f := newFixture(t, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	ctx := context.Background()
	cost := func(n int, counsellor app.Caller) int64 {
		for i := range n {
			careClient(t, r, f, fmt.Sprintf("client-%s-%02d", counsellor.ID, i), counsellor, 4, care.ScopePlanProgress)
		}
		count := testenv.Commands(f.db)
		got, err := r.view.Summaries(ctx, counsellor, nil, false)
		if err != nil || len(got) != n {
			t.Fatalf("summaries for %d clients: %d, %v", n, len(got), err)
		}
		return count()
	}
	small, large := cost(5, counsellorA), cost(50, counsellorB)
	if small != large {
		t.Errorf("store round trips: %d for 5 clients, %d for 50; want the same", small, large)
	}
	t.Logf("store round trips per roster: %d", small)

	count := testenv.Commands(f.db)
	var qs []app.AccessQuery
	for i := range 50 {
		for _, s := range care.AllScopes {
			qs = append(qs, app.AccessQuery{ClientID: fmt.Sprintf("client-%s-%02d", counsellorB.ID, i), Scope: s})
		}
	}
	if _, err := r.accessApp.Allowed(ctx, counsellorB, qs, false); err != nil {
		t.Fatal(err)
	}
	if n := count(); n > 2 {
		t.Errorf("CheckCareAccess of 200 questions took %d round trips, want 2", n)
	}
}

// Two replicas mark the same client reviewed at once, the later mark's
// write landing first: the stored time is the later one.
func TestReviewMarksKeepTheLatest(t *testing.T) {
	f := newFixture(t, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	ctx := context.Background()
	careClient(t, r, f, "client-plan", counsellorA, 7, care.ScopePlanProgress)
	if _, err := r.view.MarkReviewed(ctx, counsellorB, "client-plan"); !isNotFound(err) {
		t.Errorf("a counsellor without an assignment marks: %v, want NotFound", err)
	}
	if d := accessEntries(t, f, "client-plan", "MarkClientReviewed"); len(d) != 1 || d[0].Outcome != care.OutcomeDenied {
		t.Errorf("the refused mark is not logged DENIED: %+v", d)
	}

	early := f.clk.Now()
	late := early.Add(time.Minute)
	// Replica 1 decided at `early`; before it writes, replica 2's mark at
	// `late` lands.
	var once bool
	r.reviews.BeforeMark = func() {
		if once {
			return
		}
		once = true
		if _, err := mongodb.NewReviewStore(f.db.Collection(mongodb.CollReviews)).Mark(ctx, counsellorA.ID, "client-plan", late); err != nil {
			t.Error(err)
		}
	}
	got, err := r.view.MarkReviewed(ctx, counsellorA, "client-plan")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(late) {
		t.Errorf("stored review time = %v, want the later mark %v", got, late)
	}
	list, err := r.view.Summaries(ctx, counsellorA, nil, false)
	if err != nil || len(list) != 1 || list[0].ReviewTime == nil || !list[0].ReviewTime.Equal(late) {
		t.Errorf("roster review time = %+v, %v; want %v", list, err, late)
	}
}

func TestCareTimeline(t *testing.T) {
	f := newFixture(t, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	ctx := context.Background()
	id := careClient(t, r, f, "client-plan", counsellorA, 10, care.ScopePlanProgress)
	slipAt := time.Date(2026, 3, 5, 21, 30, 0, 0, time.UTC) // 22:30 in Berlin
	if _, _, err := r.plans.RecordContact(ctx, clientCaller("client-plan"), id, plan.ContactParams{
		Direction: plan.Outbound, Channel: plan.ChannelCall, OccurredAt: slipAt, Note: "a private note"}, app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	tl, err := r.view.Timeline(ctx, counsellorA, "client-plan", false)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[app.TimelineKind]int{}
	for i, it := range tl.Items {
		kinds[it.Kind]++
		if i > 0 && it.Time.Before(tl.Items[i-1].Time) {
			t.Errorf("timeline not oldest first at %d", i)
		}
	}
	if kinds[app.TimelineAttemptStarted] != 2 || kinds[app.TimelineAttemptEnded] != 1 || kinds[app.TimelineSlip] != 1 {
		t.Errorf("timeline kinds = %v, want 2 attempts started, 1 ended, 1 slip", kinds)
	}
	if tl.Slips == nil || tl.Slips.Total != 1 || tl.Slips.ByHour[22] != 1 || tl.Slips.ByChannel[plan.ChannelCall] != 1 {
		t.Errorf("slip breakdown = %+v, want one call at 22h local", tl.Slips)
	}
	if len(tl.OwnReads) == 0 || tl.OwnReads[0].Action != "GetCareTimeline" {
		t.Errorf("own reads = %+v, want this read first", tl.OwnReads)
	}
	if _, err := r.view.Timeline(ctx, counsellorB, "client-plan", false); !isNotFound(err) {
		t.Errorf("another counsellor's timeline: %v, want NotFound", err)
	}
}
