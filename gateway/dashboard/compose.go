// Package dashboard is the counsellor's dashboard (DashboardService),
// served by the gateway. It holds no data: every answer is composed from
// one batch call per service, made with the caller's token so that each
// service authorizes and logs the read itself.
//
// Layers: compose.go is the pure composition (a roster row from the three
// services' parts, the need order, recency, "changed since review"); it
// knows no gRPC. service.go makes the calls (plans first, then journal and
// notify at once, each with its own deadline) and decides what a failure
// means (a partial answer, or the caller's own error). grpc.go is the
// DashboardService glue and backends.go the forwarding, counting client
// connections.
package dashboard

import (
	"cmp"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	dashboardv1 "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/clock"
)

// Recency bands, in local calendar days since the last activity.
const (
	recentMaxDays = 2 // 0..2: RECENT
	quietMaxDays  = 6 // 3..6: QUIET; 7 and more: SILENT
)

// allScopes are the consent scopes a row can be missing, in enum order.
var allScopes = []plansv1.ConsentScope{
	plansv1.ConsentScope_PLAN_PROGRESS,
	plansv1.ConsentScope_MOOD_INSIGHTS,
	plansv1.ConsentScope_SHARED_JOURNAL,
	plansv1.ConsentScope_RISK_ALERTS,
}

// Parts is what the services answered about one client; a nil part is a
// service that did not answer (or left the client out).
type Parts struct {
	ClientID string
	// Care is the plans part. Nil when plans did not answer: then no
	// scope is known and the journal and notify parts are shown as those
	// services gated them.
	Care    *plansv1.CareSummary
	Journal *journalv1.JournalCareSummary
	Notify  *notifyv1.NotificationSummary
}

// Row is a composed roster row with what ordering needs besides it.
type Row struct {
	Proto *dashboardv1.RosterRow
	// lastSlip orders the RECENT_SLIP group (latest first).
	lastSlip time.Time
}

// scopes is a set of granted scopes; known is false when plans did not
// answer (nothing is filtered by the gateway then: each service gated its
// own part).
type scopes struct {
	known   bool
	granted map[plansv1.ConsentScope]bool
}

func (s scopes) has(sc plansv1.ConsentScope) bool { return !s.known || s.granted[sc] }

// Compose builds one roster row at now. Every field under a scope is set
// only when the client granted that scope (the services gate their parts
// too; the gateway drops anything outside the granted scopes again, so a
// service answering more than it may never reaches the JSON).
func Compose(p Parts, now time.Time) Row {
	row := &dashboardv1.RosterRow{ClientId: p.ClientID}
	sc := scopes{granted: map[plansv1.ConsentScope]bool{}}
	var plan *plansv1.PlanCareSummary
	if p.Care != nil {
		sc.known = true
		for _, g := range p.Care.GetGrantedScopes() {
			sc.granted[g] = true
		}
		for _, s := range allScopes {
			if sc.granted[s] {
				row.GrantedScopes = append(row.GrantedScopes, s)
			} else {
				row.MissingScopes = append(row.MissingScopes, s)
			}
		}
		row.ReviewTime = p.Care.GetReviewTime()
		plan = p.Care.GetPlan()
	}
	out := Row{Proto: row}

	var lastActivity time.Time
	loc := time.UTC
	if sc.has(plansv1.ConsentScope_PLAN_PROGRESS) {
		if plan != nil {
			row.PlanStatus = ptr(plan.GetStatus())
			row.CurrentStreakDays = ptr(plan.GetCurrentStreakDays())
			if plan.NextMilestoneDay != nil {
				row.NextMilestoneDay = ptr(plan.GetNextMilestoneDay())
			}
			row.NextMilestoneTime = plan.GetNextMilestoneTime()
			row.SlipsLast_14Days = ptr(plan.GetSlipsLast_14Days())
			row.HardDateAhead = plan.GetHardDateAhead()
			if tz := plan.GetTimeZone(); tz != "" {
				row.TimeZone = ptr(tz)
				if l, err := clock.LoadLocation(tz); err == nil {
					loc = l
				}
			}
			lastActivity = latest(lastActivity, plan.GetLastContactTime())
			if plan.GetSlipsLast_14Days() > 0 && plan.GetLastSlipTime() != nil {
				out.lastSlip = plan.GetLastSlipTime().AsTime()
			}
		}
		lastActivity = latest(lastActivity, p.Journal.GetLastActivityTime())
		if !lastActivity.IsZero() {
			days := localDaysBetween(lastActivity, now, loc)
			row.LastActivityTime = timestamppb.New(lastActivity)
			row.DaysSinceActivity = ptr(days)
			row.Recency = band(days)
		}
	}
	var moodTime time.Time
	if m := p.Journal.GetMood(); m != nil && sc.has(plansv1.ConsentScope_MOOD_INSIGHTS) {
		if m.LatestMood != nil {
			row.LatestMood = ptr(m.GetLatestMood())
			moodTime = latest(moodTime, m.GetLatestMoodTime())
		}
		row.MoodTrend = ptr(m.GetTrend())
		row.UrgesLast_7Days = ptr(m.GetUrgesLast_7Days())
		row.MissedCheckinsInARow = ptr(m.GetMissedCheckinsInARow())
	}
	if r := p.Journal.GetRisk(); r != nil && sc.has(plansv1.ConsentScope_RISK_ALERTS) {
		row.OpenRiskFlags = ptr(r.GetOpenFlags())
		row.HighestRiskSeverity = ptr(r.GetHighestSeverity())
		row.UnacknowledgedRiskFlags = ptr(r.GetUnacknowledgedFlags())
	}
	var notified time.Time
	if n := p.Notify; n != nil {
		// The caller's own notifications: no consent scope applies.
		row.UnreadNotifications = ptr(n.GetUnread())
		notified = latest(notified, n.GetLatestTime())
	}

	row.ChangedSinceReview = changedSinceReview(row, out.lastSlip, moodTime, notified)
	row.Need = need(row)
	return out
}

// changedSinceReview: never reviewed, or something visible in the row
// happened after the review mark: an activity (check-in, entry, urge or
// contact, slips included), a slip, a new mood, a notification to the
// caller about the client (a new risk flag, a milestone, a slip notice),
// or an open risk flag nobody has acknowledged (a review does not clear a
// flag: acknowledging it does). Only what the row shows counts, so a
// scope the client did not grant cannot show through this flag.
func changedSinceReview(row *dashboardv1.RosterRow, lastSlip, moodTime, notified time.Time) bool {
	if row.ReviewTime == nil {
		return true
	}
	mark := row.ReviewTime.AsTime()
	times := []time.Time{lastSlip, moodTime, notified}
	if row.LastActivityTime != nil {
		times = append(times, row.LastActivityTime.AsTime())
	}
	for _, t := range times {
		if !t.IsZero() && t.After(mark) {
			return true
		}
	}
	return row.GetUnacknowledgedRiskFlags() > 0
}

// need is the row's place in the order: the first group that applies.
func need(row *dashboardv1.RosterRow) dashboardv1.NeedReason {
	switch {
	case row.GetOpenRiskFlags() > 0:
		return dashboardv1.NeedReason_NEED_REASON_RISK_FLAG
	case row.GetSlipsLast_14Days() > 0:
		return dashboardv1.NeedReason_NEED_REASON_RECENT_SLIP
	case row.GetMoodTrend() == journalv1.MoodTrend_MOOD_TREND_FALLING:
		return dashboardv1.NeedReason_NEED_REASON_FALLING_MOOD
	case row.GetRecency() == dashboardv1.RecencyBand_RECENCY_BAND_SILENT:
		return dashboardv1.NeedReason_NEED_REASON_SILENCE
	default:
		return dashboardv1.NeedReason_NEED_REASON_UNSPECIFIED
	}
}

// groupRank orders the need groups: risk, slip, falling mood, silence,
// then the rest.
var groupRank = map[dashboardv1.NeedReason]int{
	dashboardv1.NeedReason_NEED_REASON_RISK_FLAG:    0,
	dashboardv1.NeedReason_NEED_REASON_RECENT_SLIP:  1,
	dashboardv1.NeedReason_NEED_REASON_FALLING_MOOD: 2,
	dashboardv1.NeedReason_NEED_REASON_SILENCE:      3,
	dashboardv1.NeedReason_NEED_REASON_UNSPECIFIED:  4,
}

// Order sorts rows by need, the fixed priority documented on
// GetRosterResponse.rows:
//  1. open risk flags, highest severity first (IMMINENT, HIGH, MODERATE),
//     then more unacknowledged flags first;
//  2. a slip in the last 14 days, latest slip first;
//  3. mood falling over 7 days;
//  4. silence (7 local days or more without activity), longest first;
//  5. the rest.
//
// Ties within a group, and the rest, go by client id, so the order is the
// same on every call.
func Order(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int {
		ra, rb := a.Proto, b.Proto
		if c := cmp.Compare(groupRank[ra.Need], groupRank[rb.Need]); c != 0 {
			return c
		}
		switch ra.Need {
		case dashboardv1.NeedReason_NEED_REASON_RISK_FLAG:
			if c := cmp.Compare(rb.GetHighestRiskSeverity(), ra.GetHighestRiskSeverity()); c != 0 {
				return c
			}
			if c := cmp.Compare(rb.GetUnacknowledgedRiskFlags(), ra.GetUnacknowledgedRiskFlags()); c != 0 {
				return c
			}
		case dashboardv1.NeedReason_NEED_REASON_RECENT_SLIP:
			if c := b.lastSlip.Compare(a.lastSlip); c != 0 {
				return c
			}
		case dashboardv1.NeedReason_NEED_REASON_SILENCE:
			if c := cmp.Compare(rb.GetDaysSinceActivity(), ra.GetDaysSinceActivity()); c != 0 {
				return c
			}
		}
		return cmp.Compare(ra.ClientId, rb.ClientId)
	})
}

// band is the recency band of a number of days since the last activity.
func band(days int32) dashboardv1.RecencyBand {
	switch {
	case days <= recentMaxDays:
		return dashboardv1.RecencyBand_RECENCY_BAND_RECENT
	case days <= quietMaxDays:
		return dashboardv1.RecencyBand_RECENCY_BAND_QUIET
	default:
		return dashboardv1.RecencyBand_RECENCY_BAND_SILENT
	}
}

// localDaysBetween counts the calendar days from then to now in loc (the
// plan's zone): an activity yesterday evening is 1 day ago this morning,
// across DST changes too. Never negative.
func localDaysBetween(then, now time.Time, loc *time.Location) int32 {
	y1, m1, d1 := then.In(loc).Date()
	y2, m2, d2 := now.In(loc).Date()
	a := time.Date(y1, m1, d1, 12, 0, 0, 0, time.UTC)
	b := time.Date(y2, m2, d2, 12, 0, 0, 0, time.UTC)
	days := int32(b.Sub(a).Hours() / 24)
	return max(days, 0)
}

func latest(t time.Time, ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return t
	}
	if v := ts.AsTime(); v.After(t) {
		return v
	}
	return t
}

func ptr[T any](v T) *T { return &v }
