package app

import (
	"context"
	"slices"
	"time"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/services/journal/internal/insights"
	"github.com/nocontact/backend/services/journal/internal/journal"
	"github.com/nocontact/backend/services/journal/internal/screening"
)

// ClientActivity is what the care views need of a client's whole history.
type ClientActivity struct {
	// LatestCheckIn is the latest check-in (without its note); nil if none.
	LatestCheckIn *journal.CheckIn
	// LastEntry and LastUrge are the latest entry's and urge's times.
	LastEntry, LastUrge time.Time
	// FirstCheckInDate is the first check-in's local date ("" if none).
	FirstCheckInDate string
	// DailyDates are the local dates with a daily check-in, sorted.
	DailyDates []string
}

// CareStore reads what the care team's views need, for many clients in a
// constant number of queries (adapters/mongodb.CareStore). Nothing it
// returns holds a note; entries are shared ones only.
type CareStore interface {
	// Activity is each client's history summary; entries and urges only
	// when asked.
	Activity(ctx context.Context, clientIDs []string, withEntriesAndUrges bool) (map[string]*ClientActivity, error)
	// CheckInsFrom and UrgesFrom are the clients' records of local dates
	// from fromDate on.
	CheckInsFrom(ctx context.Context, clientIDs []string, fromDate string) ([]journal.CheckIn, error)
	UrgesFrom(ctx context.Context, clientIDs []string, fromDate string) ([]journal.Urge, error)
	// OpenFlags are the clients' open risk flags.
	OpenFlags(ctx context.Context, clientIDs []string) ([]journal.RiskFlag, error)
	// Flags are one client's flags: open first, newest first, then the
	// latest closed, limit in all.
	Flags(ctx context.Context, clientID string, limit int) ([]journal.RiskFlag, error)
	// SharedEntries are one client's shared entries, newest first.
	SharedEntries(ctx context.Context, clientID string, limit int) ([]journal.Entry, error)
	// NearSlips are one client's check-ins and urges within window of a slip.
	NearSlips(ctx context.Context, clientID string, slips []time.Time, window time.Duration) ([]journal.CheckIn, []journal.Urge, error)
}

// Care-view limits.
const (
	careSharedEntries = 20
	careFlags         = 50
)

// MoodCare is the MOOD_INSIGHTS part of a roster row.
type MoodCare struct {
	LatestMood     *int
	LatestMoodTime *time.Time
	Trend          insights.Trend
	Average7d      *float64
	Urges7d        int
	MissedInARow   int
}

// RiskCare is the RISK_ALERTS part of a roster row.
type RiskCare struct {
	Open, Unacknowledged int
	// Highest is the highest severity among the open flags (none if none).
	Highest screening.Severity
}

// CareSummary is one client's journal part of the roster; each part is
// set only under its scope.
type CareSummary struct {
	ClientID     string
	LastActivity *time.Time // PLAN_PROGRESS
	Mood         *MoodCare  // MOOD_INSIGHTS
	Risk         *RiskCare  // RISK_ALERTS
}

// CareDetail is the journal part of a client's detail page.
type CareDetail struct {
	Summary       CareSummary
	TimeZone      string
	Days          []insights.CareDay      // MOOD_INSIGHTS
	SlipTriggers  []insights.TriggerCount // MOOD_INSIGHTS
	SharedEntries []journal.Entry         // SHARED_JOURNAL
	Flags         []journal.RiskFlag      // RISK_ALERTS
}

var (
	summaryScopes = []string{ScopePlanProgress, ScopeMoodInsights, ScopeRiskAlerts}
	detailScopes  = []string{ScopePlanProgress, ScopeMoodInsights, ScopeSharedJournal, ScopeRiskAlerts}
)

// BatchSummaries is the journal part of the counsellor's roster for many
// clients: one question to plans for every (client, scope), a constant
// number of queries, one write for the access records (ALLOWED for each
// client answered, DENIED for each named client left out). Ordered by
// client id.
func (j *Journal) BatchSummaries(ctx context.Context, c Caller, clientIDs []string, asCareTeam bool) ([]CareSummary, error) {
	ids := slices.Clone(clientIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	g, err := j.access.DecideAll(ctx, c, ids, summaryScopes, asCareTeam)
	if err != nil {
		return nil, err
	}
	if err := j.access.RecordAll(ctx, c, g, ids, "care-summary", "BatchGetJournalSummaries"); err != nil {
		return nil, err
	}
	var visible []string
	for _, id := range ids {
		if g.Any(id) {
			visible = append(visible, id)
		}
	}
	sums, _, err := j.summaries(ctx, g, visible)
	if err != nil {
		return nil, err
	}
	out := make([]CareSummary, 0, len(visible))
	for _, id := range visible {
		out = append(out, sums[id])
	}
	return out, nil
}

// summaries computes the rows of visible clients and each client's zone.
func (j *Journal) summaries(ctx context.Context, g Granted, visible []string) (map[string]CareSummary, map[string]*time.Location, error) {
	var plan, mood, risk []string
	for _, id := range visible {
		if g.Has(id, ScopePlanProgress) {
			plan = append(plan, id)
		}
		if g.Has(id, ScopeMoodInsights) {
			mood = append(mood, id)
		}
		if g.Has(id, ScopeRiskAlerts) {
			risk = append(risk, id)
		}
	}
	out := map[string]CareSummary{}
	zones := map[string]*time.Location{}
	for _, id := range visible {
		out[id] = CareSummary{ClientID: id}
		zones[id] = time.UTC
	}
	if len(visible) == 0 {
		return out, zones, nil
	}
	now := j.clk.Now()
	// The zone is needed for any local-day answer: read the activity of
	// every visible client, entries and urges only when someone's
	// engagement is asked.
	act, err := j.st.Care.Activity(ctx, visible, len(plan) > 0)
	if err != nil {
		return nil, nil, err
	}
	for id, a := range act {
		if a.LatestCheckIn != nil {
			if loc, err := clock.LoadLocation(a.LatestCheckIn.TimeZone); err == nil {
				zones[id] = loc
			}
		}
	}
	for _, id := range plan {
		s := out[id]
		if a := act[id]; a != nil {
			var last time.Time
			if a.LatestCheckIn != nil {
				last = a.LatestCheckIn.OccurredAt
			}
			for _, t := range []time.Time{a.LastEntry, a.LastUrge} {
				if t.After(last) {
					last = t
				}
			}
			if !last.IsZero() {
				s.LastActivity = &last
			}
		}
		out[id] = s
	}
	if len(mood) > 0 {
		// Every client's window starts at most a day before UTC's.
		from := insights.AddDays(now.UTC().Format(time.DateOnly), -insights.CareWindowDays)
		cis, err := j.st.Care.CheckInsFrom(ctx, mood, from)
		if err != nil {
			return nil, nil, err
		}
		urges, err := j.st.Care.UrgesFrom(ctx, mood, from)
		if err != nil {
			return nil, nil, err
		}
		byClientCI := map[string][]insights.CheckIn{}
		for _, ci := range cis {
			byClientCI[ci.ClientID] = append(byClientCI[ci.ClientID], insights.CheckIn{LocalDate: ci.LocalDate, Mood: ci.Mood})
		}
		byClientUrge := map[string][]insights.Urge{}
		for _, u := range urges {
			byClientUrge[u.ClientID] = append(byClientUrge[u.ClientID], insights.Urge{LocalDate: u.LocalDate, Intensity: u.Intensity})
		}
		for _, id := range mood {
			today := now.In(zones[id]).Format(time.DateOnly)
			m := &MoodCare{
				Trend:   insights.MoodTrend(byClientCI[id], today),
				Urges7d: insights.UrgesInWindow(byClientUrge[id], today),
			}
			if avg, ok := insights.MoodAverage(byClientCI[id], today); ok {
				m.Average7d = &avg
			}
			if a := act[id]; a != nil {
				if a.LatestCheckIn != nil {
					mv, t := a.LatestCheckIn.Mood, a.LatestCheckIn.OccurredAt
					m.LatestMood, m.LatestMoodTime = &mv, &t
				}
				latestDaily := ""
				for _, d := range a.DailyDates {
					if d < today {
						latestDaily = d
					}
				}
				m.MissedInARow = insights.MissedInARow(a.FirstCheckInDate, latestDaily, today)
			}
			s := out[id]
			s.Mood = m
			out[id] = s
		}
	}
	if len(risk) > 0 {
		flags, err := j.st.Care.OpenFlags(ctx, risk)
		if err != nil {
			return nil, nil, err
		}
		rc := map[string]*RiskCare{}
		for _, id := range risk {
			rc[id] = &RiskCare{}
		}
		for _, f := range flags {
			r := rc[f.ClientID]
			if r == nil || !f.Open() {
				continue
			}
			r.Open++
			if f.Status != journal.FlagAcknowledged {
				r.Unacknowledged++
			}
			if sev := flagSeverity(f); sev > r.Highest {
				r.Highest = sev
			}
		}
		for _, id := range risk {
			s := out[id]
			s.Risk = rc[id]
			out[id] = s
		}
	}
	return out, zones, nil
}

// CareDetailOf is the journal part of a client's detail page, each part
// under its scope: 30 local days ending today in the client's zone (the
// latest check-in's, else UTC), the triggers named within a day of each
// slip, the shared entries and the risk flags, and the roster row. Logged
// like a read; a caller who may see nothing of the client gets NotFound.
func (j *Journal) CareDetailOf(ctx context.Context, c Caller, clientID string, slips []time.Time, asCareTeam bool) (CareDetail, error) {
	ids := []string{clientID}
	g, err := j.access.DecideAll(ctx, c, ids, detailScopes, asCareTeam)
	if err != nil {
		return CareDetail{}, err
	}
	if err := j.access.RecordAll(ctx, c, g, ids, "care-detail", "GetJournalCareDetail"); err != nil {
		return CareDetail{}, err
	}
	if !g.Any(clientID) {
		return CareDetail{}, notFoundClient(clientID)
	}
	sums, zones, err := j.summaries(ctx, g, ids)
	if err != nil {
		return CareDetail{}, err
	}
	loc := zones[clientID]
	d := CareDetail{Summary: sums[clientID], TimeZone: loc.String()}
	if g.Has(clientID, ScopeMoodInsights) {
		today := j.clk.Now().In(loc).Format(time.DateOnly)
		from := insights.AddDays(today, -(insights.CareDetailDays - 1))
		cis, err := j.st.Care.CheckInsFrom(ctx, ids, from)
		if err != nil {
			return CareDetail{}, err
		}
		urges, err := j.st.Care.UrgesFrom(ctx, ids, from)
		if err != nil {
			return CareDetail{}, err
		}
		var ic []insights.CheckIn
		for _, ci := range cis {
			ic = append(ic, insights.CheckIn{LocalDate: ci.LocalDate, Mood: ci.Mood})
		}
		var iu []insights.Urge
		for _, u := range urges {
			iu = append(iu, insights.Urge{LocalDate: u.LocalDate, Intensity: u.Intensity})
		}
		d.Days = insights.CareDays(ic, iu, today)
		if len(slips) > 0 {
			cis, urges, err := j.st.Care.NearSlips(ctx, clientID, slips, insights.SlipWindow)
			if err != nil {
				return CareDetail{}, err
			}
			var recs []insights.Timed
			for _, ci := range cis {
				recs = append(recs, insights.Timed{At: ci.OccurredAt, Triggers: ci.Triggers})
			}
			for _, u := range urges {
				recs = append(recs, insights.Timed{At: u.CreateTime, Triggers: []string{u.Trigger}})
			}
			d.SlipTriggers = insights.SlipTriggers(recs, slips)
		}
	}
	if g.Has(clientID, ScopeSharedJournal) {
		if d.SharedEntries, err = j.st.Care.SharedEntries(ctx, clientID, careSharedEntries); err != nil {
			return CareDetail{}, err
		}
		// The store reads shared entries only; hold the rule here too.
		d.SharedEntries = slices.DeleteFunc(d.SharedEntries, func(e journal.Entry) bool { return !e.Shared || e.ClientID != clientID })
	}
	if g.Has(clientID, ScopeRiskAlerts) {
		if d.Flags, err = j.st.Care.Flags(ctx, clientID, careFlags); err != nil {
			return CareDetail{}, err
		}
	}
	return d, nil
}
