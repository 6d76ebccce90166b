package app

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/services/journal/internal/insights"
)

// Insight windows, in local days.
const (
	minInsightDays     = 7
	defaultInsightDays = 30
	maxInsightDays     = 90
	// windowCap bounds what one insight request reads from each collection;
	// 90 days of even a very active client stays far below it.
	windowCap = 5000
)

// Insights summarises the last days local days (7 to 90; 30 when 0): for
// the client, or their counsellor under the mood scope. FerretDB cannot
// average or do date arithmetic, so the window is read with bounded
// queries and computed here.
func (j *Journal) Insights(ctx context.Context, c Caller, clientID string, days int) (insights.Summary, error) {
	d, err := j.access.Check(ctx, c, clientID, ScopeMoodInsights, "insights", "GetInsights", false)
	if err != nil {
		return insights.Summary{}, err
	}
	if d == Deny {
		return insights.Summary{}, notFoundClient(clientID)
	}
	switch {
	case days == 0:
		days = defaultInsightDays
	case days < minInsightDays:
		days = minInsightDays
	case days > maxInsightDays:
		days = maxInsightDays
	}
	loc, err := j.clientLocation(ctx, clientID)
	if err != nil {
		return insights.Summary{}, err
	}
	today := j.clk.Now().In(loc).Format(time.DateOnly)
	from := shiftDate(today, -(days - 1))
	window := bson.D{{Key: "client_id", Value: clientID}, {Key: "local_date", Value: bson.D{{Key: "$gte", Value: from}}}}
	// Insights count and rate; they read no text, so the sealed text
	// fields are left in the database (nothing to open per record).
	limit := options.Find().SetLimit(windowCap).SetProjection(noText)

	checkIns, err := j.st.CheckIns.Find(ctx, window, limit)
	if err != nil {
		return insights.Summary{}, err
	}
	urges, err := j.st.Urges.Find(ctx, window, limit)
	if err != nil {
		return insights.Summary{}, err
	}
	entries, err := j.st.Entries.Find(ctx, window, limit)
	if err != nil {
		return insights.Summary{}, err
	}
	in := insights.Input{Today: today, Days: days}
	for _, ci := range checkIns {
		in.CheckIns = append(in.CheckIns, insights.CheckIn{LocalDate: ci.LocalDate, Mood: ci.Mood, SelfCare: ci.SelfCare, Triggers: ci.Triggers})
	}
	for _, u := range urges {
		in.Urges = append(in.Urges, insights.Urge{LocalDate: u.LocalDate, Intensity: u.Intensity, Trigger: u.Trigger})
	}
	for _, e := range entries {
		in.Entries = append(in.Entries, insights.Entry{LocalDate: e.LocalDate})
	}
	return insights.Compute(in)
}

// noText leaves out the free-text fields (sealed at rest) of a read that
// needs none of them.
var noText = bson.D{{Key: "note", Value: 0}, {Key: "title", Value: 0}, {Key: "body", Value: 0}}

// clientLocation is the time zone of the client's latest check-in: their
// "today" for insights. UTC when they have none yet.
func (j *Journal) clientLocation(ctx context.Context, clientID string) (*time.Location, error) {
	latest, err := j.st.CheckIns.Find(ctx, bson.D{{Key: "client_id", Value: clientID}},
		options.Find().SetSort(bson.D{{Key: "occurred_at", Value: -1}}).SetLimit(1).SetProjection(noText))
	if err != nil {
		return nil, err
	}
	if len(latest) == 0 {
		return time.UTC, nil
	}
	loc, err := clock.LoadLocation(latest[0].TimeZone)
	if err != nil {
		return time.UTC, nil
	}
	return loc, nil
}
