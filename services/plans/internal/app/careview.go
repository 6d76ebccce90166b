package app

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// ReviewStore keeps the counsellors' review marks (mongodb.ReviewStore).
type ReviewStore interface {
	// Mark stores a mark at t and answers the stored (latest) time.
	Mark(ctx context.Context, counsellorID, clientID string, t time.Time) (time.Time, error)
	// Latest answers the counsellor's marks for the clients.
	Latest(ctx context.Context, counsellorID string, clientIDs []string) (map[string]time.Time, error)
}

// Windows of the care summaries.
const (
	// SlipWindow is how far back a roster row counts slips.
	SlipWindow = 14 * 24 * time.Hour
	// ContactWindow is how far back the last contact is looked for: a
	// client silent for longer shows no last contact (silence is plain by
	// then), and the query stays bounded whatever the log's length.
	ContactWindow = 60 * 24 * time.Hour
	// HardDateDays is how many local days ahead a hard date is flagged.
	HardDateDays = 7
	// TimelineContacts bounds the contacts on a client's timeline.
	TimelineContacts = 500
	// OwnReads bounds the counsellor's own reads listed on a client's page.
	OwnReads = 50
)

// CareView is the plans service's part of the counsellor's dashboard: the
// roster's plan summaries, a client's timeline and the review marks.
type CareView struct {
	plans       PlanRepository
	assignments *docstore.Store[care.Assignment]
	access      *Access
	reviews     ReviewStore
	clk         clock.Clock
}

// NewCareView builds the dashboard use cases.
func NewCareView(plans PlanRepository, assignments *docstore.Store[care.Assignment], access *Access, reviews ReviewStore, clk clock.Clock) *CareView {
	return &CareView{plans: plans, assignments: assignments, access: access, reviews: reviews, clk: clk}
}

// PlanSummary is the PLAN_PROGRESS part of a roster row.
type PlanSummary struct {
	PlanID          string
	Status          plan.Status
	StreakDays      int
	NextMilestone   *plan.Milestone
	Slips14Days     int
	LastSlipTime    *time.Time
	LastContactTime *time.Time
	HardDate        *UpcomingHardDate
	TimeZone        string
	LocalDate       string
}

// UpcomingHardDate is a hard date within HardDateDays.
type UpcomingHardDate struct {
	ID, Label, Date string
	DaysUntil       int
}

// CareSummary is one client's plans-side roster data, as the care team
// may see it now.
type CareSummary struct {
	ClientID     string
	AssignmentID string
	Granted      []care.Scope
	Plan         *PlanSummary // nil without PLAN_PROGRESS or without a plan
	ReviewTime   *time.Time
}

// visible is the set of clients a batch answers for, with their consents.
type visible struct {
	ids         []string
	assignments map[string]care.Assignment
	consents    map[string]care.Consents
	denied      []string
}

// resolve decides which of the named clients the caller may see: a
// counsellor their ACTIVE assignments (all of them when none is named), a
// client themself (asCareTeam: as their care team would). Admins see
// none.
func (v *CareView) resolve(ctx context.Context, c Caller, clientIDs []string, asCareTeam bool) (visible, error) {
	out := visible{assignments: map[string]care.Assignment{}, consents: map[string]care.Consents{}}
	switch c.Role {
	case auth.RoleCounsellor:
		if asCareTeam {
			return out, apperr.InvalidArgument(apperr.FieldViolation{Field: "as_care_team", Description: "only a client may ask what their care team sees"})
		}
		if len(clientIDs) == 0 {
			list, err := v.assignments.Find(ctx, bson.D{{Key: "counsellor_id", Value: c.ID}, {Key: "status", Value: string(care.StatusActive)}})
			if err != nil {
				return out, err
			}
			for _, a := range list {
				clientIDs = append(clientIDs, a.ClientID)
			}
		}
		assignments, consents, err := v.access.careStates(ctx, c, clientIDs)
		if err != nil {
			return out, err
		}
		for _, id := range clientIDs {
			if a, ok := assignments[id]; ok && a.Status == care.StatusActive {
				out.ids = append(out.ids, id)
				out.assignments[id] = a
				out.consents[id] = consents[id]
				continue
			}
			out.denied = append(out.denied, id)
		}
	case auth.RoleClient:
		for _, id := range clientIDs {
			if id != c.ID {
				out.denied = append(out.denied, id)
				continue
			}
			cs, err := v.access.loadConsents(ctx, []string{id})
			if err != nil {
				return out, err
			}
			out.ids = append(out.ids, id)
			out.consents[id] = cs[id]
		}
		if len(clientIDs) == 0 {
			return out, apperr.InvalidArgument(apperr.FieldViolation{Field: "client_ids", Description: "a client names their own id"})
		}
	default:
		// An admin manages the care team and sees no client's health
		// data: every named client is left out, each attempt logged.
		if asCareTeam {
			return out, apperr.InvalidArgument(apperr.FieldViolation{Field: "as_care_team", Description: "only a client may ask what their care team sees"})
		}
		out.denied = append(out.denied, clientIDs...)
	}
	sort.Strings(out.ids)
	return out, nil
}

// Summaries answers the roster's plans part for the clients (see
// BatchGetCareSummaries): a constant number of queries whatever their
// number, and one access-log write for all of them.
func (v *CareView) Summaries(ctx context.Context, c Caller, clientIDs []string, asCareTeam bool) ([]CareSummary, error) {
	vis, err := v.resolve(ctx, c, clientIDs, asCareTeam)
	if err != nil {
		return nil, err
	}
	attempts := make([]Attempt, 0, len(vis.ids)+len(vis.denied))
	for _, id := range vis.ids {
		attempts = append(attempts, Attempt{ClientID: id, Outcome: care.OutcomeAllowed})
	}
	for _, id := range vis.denied {
		attempts = append(attempts, Attempt{ClientID: id, Outcome: care.OutcomeDenied})
	}
	// Logged before anything is read: health data is not shown unaudited.
	if err := v.access.RecordMany(ctx, c, "care-summary", "BatchGetCareSummaries", attempts); err != nil {
		return nil, err
	}
	now := v.clk.Now()
	var progressIDs []string
	for _, id := range vis.ids {
		cs := vis.consents[id]
		if cs.Has(care.ScopePlanProgress) {
			progressIDs = append(progressIDs, id)
		}
	}
	current, err := v.currentPlans(ctx, progressIDs)
	if err != nil {
		return nil, err
	}
	var planIDs []string
	for _, p := range current {
		planIDs = append(planIDs, p.ID)
	}
	contacts, err := v.plans.ContactsSince(ctx, planIDs, now.Add(-ContactWindow))
	if err != nil {
		return nil, err
	}
	lastContact := map[string]time.Time{}
	for _, pc := range contacts {
		if pc.OccurredAt.After(lastContact[pc.PlanID]) {
			lastContact[pc.PlanID] = pc.OccurredAt
		}
	}
	var marks map[string]time.Time
	if c.Role == auth.RoleCounsellor {
		if marks, err = v.reviews.Latest(ctx, c.ID, vis.ids); err != nil {
			return nil, err
		}
	}
	out := make([]CareSummary, 0, len(vis.ids))
	for _, id := range vis.ids {
		cs := vis.consents[id]
		s := CareSummary{ClientID: id, AssignmentID: vis.assignments[id].ID, Granted: cs.Granted()}
		if t, ok := marks[id]; ok {
			s.ReviewTime = &t
		}
		if p, ok := current[id]; ok {
			var lc *time.Time
			if t, ok := lastContact[p.ID]; ok {
				lc = &t
			}
			s.Plan = summarize(&p, now, lc)
		}
		out = append(out, s)
	}
	return out, nil
}

// currentPlans picks each client's current plan (active or paused; else
// the newest), in one query.
func (v *CareView) currentPlans(ctx context.Context, clientIDs []string) (map[string]plan.Plan, error) {
	out := map[string]plan.Plan{}
	if len(clientIDs) == 0 {
		return out, nil
	}
	list, err := v.plans.ListByClients(ctx, clientIDs)
	if err != nil {
		return nil, err
	}
	live := func(p plan.Plan) bool { return p.Status == plan.StatusActive || p.Status == plan.StatusPaused }
	for _, p := range list { // each client's newest first
		cur, ok := out[p.ClientID]
		if !ok || (!live(cur) && live(p)) {
			out[p.ClientID] = p
		}
	}
	return out, nil
}

func summarize(p *plan.Plan, now time.Time, lastContact *time.Time) *PlanSummary {
	s := &PlanSummary{
		PlanID: p.ID, Status: p.Status, StreakDays: p.CurrentStreakDays(now),
		LastContactTime: lastContact, TimeZone: p.TimeZone, LocalDate: p.LocalDate(now).String(),
	}
	if m, ok := p.NextMilestone(now); ok {
		s.NextMilestone = &m
	}
	for _, sl := range p.Slips {
		if !sl.OccurredAt.Before(now.Add(-SlipWindow)) && !sl.OccurredAt.After(now) {
			s.Slips14Days++
		}
		if s.LastSlipTime == nil || sl.OccurredAt.After(*s.LastSlipTime) {
			t := sl.OccurredAt
			s.LastSlipTime = &t
		}
	}
	if h, d, in, ok := plan.UpcomingHardDate(p, now, HardDateDays); ok {
		s.HardDate = &UpcomingHardDate{ID: h.ID, Label: h.Label, Date: d.String(), DaysUntil: in}
	}
	return s
}

// TimelineKind is what a timeline item is.
type TimelineKind int

// Timeline kinds.
const (
	TimelineAttemptStarted TimelineKind = iota + 1
	TimelineAttemptEnded
	TimelineSlip
	TimelineMilestone
	TimelineContact
)

// TimelineItem is one thing on a client's timeline.
type TimelineItem struct {
	Kind      TimelineKind
	Time      time.Time
	LocalDate string
	PlanID    string
	Attempt   int
	Milestone int
	Direction plan.Direction
	Channel   plan.Channel
	EndReason plan.EndReason
	Days      int
	ContactID string
}

// SlipBreakdown counts a client's slips.
type SlipBreakdown struct {
	Total       int
	ByDirection map[plan.Direction]int
	ByChannel   map[plan.Channel]int
	ByHour      [24]int
	Times       []time.Time
}

// Timeline is the plans part of a client's page.
type Timeline struct {
	Summary  CareSummary
	Items    []TimelineItem
	Slips    *SlipBreakdown
	OwnReads []care.AccessEntry
}

// Timeline answers a client's page (see GetCareTimeline). A client the
// caller may not see is NotFound, logged DENIED.
func (v *CareView) Timeline(ctx context.Context, c Caller, clientID string, asCareTeam bool) (Timeline, error) {
	vis, err := v.resolve(ctx, c, []string{clientID}, asCareTeam)
	if err != nil {
		return Timeline{}, err
	}
	visibleNow := len(vis.ids) == 1
	if err := v.access.Record(ctx, c, clientID, "care-timeline", "GetCareTimeline", OutcomeOf(visibleNow)); err != nil {
		return Timeline{}, err
	}
	if !visibleNow {
		return Timeline{}, apperr.NotFound("client %q not found", clientID)
	}
	now := v.clk.Now()
	cs := vis.consents[clientID]
	t := Timeline{Summary: CareSummary{ClientID: clientID, AssignmentID: vis.assignments[clientID].ID, Granted: cs.Granted()}}
	if c.Role == auth.RoleCounsellor {
		marks, err := v.reviews.Latest(ctx, c.ID, []string{clientID})
		if err != nil {
			return Timeline{}, err
		}
		if m, ok := marks[clientID]; ok {
			t.Summary.ReviewTime = &m
		}
		if t.OwnReads, err = v.access.ByActor(ctx, clientID, c.ID, OwnReads); err != nil {
			return Timeline{}, err
		}
	}
	if !cs.Has(care.ScopePlanProgress) {
		return t, nil
	}
	current, err := v.currentPlans(ctx, []string{clientID})
	if err != nil {
		return Timeline{}, err
	}
	p, ok := current[clientID]
	if !ok {
		return t, nil
	}
	contacts, err := v.plans.ListContacts(ctx, p.ID, 0, TimelineContacts)
	if err != nil {
		return Timeline{}, err
	}
	var lastContact *time.Time
	for _, ct := range contacts {
		if !ct.Voided && (lastContact == nil || ct.OccurredAt.After(*lastContact)) {
			tm := ct.OccurredAt
			lastContact = &tm
		}
	}
	t.Summary.Plan = summarize(&p, now, lastContact)
	t.Items, t.Slips = timeline(&p, contacts, now)
	return t, nil
}

// timeline merges the plan's attempts, milestones reached and contacts,
// oldest first, and counts the slips.
func timeline(p *plan.Plan, contacts []plan.Contact, now time.Time) ([]TimelineItem, *SlipBreakdown) {
	var items []TimelineItem
	local := func(t time.Time) string { return p.LocalDate(t).String() }
	for _, a := range p.Attempts(now) {
		items = append(items, TimelineItem{Kind: TimelineAttemptStarted, Time: a.Start, LocalDate: local(a.Start), PlanID: p.ID, Attempt: a.Number})
		if a.End != nil {
			items = append(items, TimelineItem{Kind: TimelineAttemptEnded, Time: *a.End, LocalDate: local(*a.End), PlanID: p.ID,
				Attempt: a.Number, EndReason: a.EndReason, Days: a.Days, ContactID: a.SlipContactID})
		}
	}
	for _, m := range p.MilestoneHistory(now) {
		if m.ReachTime != nil {
			items = append(items, TimelineItem{Kind: TimelineMilestone, Time: *m.ReachTime, LocalDate: local(*m.ReachTime), PlanID: p.ID,
				Attempt: m.AttemptNumber, Milestone: m.Day})
		}
	}
	counted := map[string]bool{}
	for _, s := range p.Slips {
		counted[s.ContactID] = true
	}
	slips := &SlipBreakdown{ByDirection: map[plan.Direction]int{}, ByChannel: map[plan.Channel]int{}}
	loc := p.Location()
	for _, ct := range contacts {
		if ct.Voided {
			continue
		}
		kind := TimelineContact
		if counted[ct.ID] {
			kind = TimelineSlip
			slips.Total++
			slips.ByDirection[ct.Direction]++
			slips.ByChannel[ct.Channel]++
			slips.ByHour[ct.OccurredAt.In(loc).Hour()]++
			slips.Times = append(slips.Times, ct.OccurredAt)
		}
		items = append(items, TimelineItem{Kind: kind, Time: ct.OccurredAt, LocalDate: ct.LocalDate, PlanID: p.ID,
			Direction: ct.Direction, Channel: ct.Channel, ContactID: ct.ID})
	}
	slices.SortStableFunc(items, func(a, b TimelineItem) int { return a.Time.Compare(b.Time) })
	slices.SortFunc(slips.Times, func(a, b time.Time) int { return a.Compare(b) })
	return items, slips
}

// MarkReviewed stores that the calling counsellor reviewed the client now;
// only under an ACTIVE assignment (else NotFound, logged DENIED).
func (v *CareView) MarkReviewed(ctx context.Context, c Caller, clientID string) (time.Time, error) {
	allowed := false
	if c.Role == auth.RoleCounsellor {
		a, _, err := v.assignments.Get(ctx, care.AssignmentID(clientID, c.ID))
		if err != nil && !errors.Is(err, docstore.ErrNotFound) {
			return time.Time{}, err
		}
		allowed = err == nil && a.Status == care.StatusActive
	}
	if err := v.access.Record(ctx, c, clientID, "review", "MarkClientReviewed", OutcomeOf(allowed)); err != nil {
		return time.Time{}, err
	}
	if !allowed {
		return time.Time{}, apperr.NotFound("client %q not found", clientID)
	}
	return v.reviews.Mark(ctx, c.ID, clientID, storedNow(v.clk))
}
