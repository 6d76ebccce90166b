package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	dashboardv1 "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/clock"
)

// MaxBatch is the most clients one batch call names (the services' own
// limit, max_items on client_ids). A roster up to MaxBatch clients makes
// exactly one call per service; a larger one makes ceil(n/MaxBatch) calls
// to journal and to notify, all at once (plans is always one call: its
// empty client_ids means every active client).
const MaxBatch = 500

// maxSlipTimes is the most slip times GetJournalCareDetail takes: a client
// with more is asked about the latest ones.
const maxSlipTimes = 500

// Default deadlines, used when Deadlines leaves one at zero. Plans comes
// first and the others wait for it, so plans plus the slower of the two
// must fit in the gateway's BACKEND_TIMEOUT (10s by default).
const (
	DefaultPlansTimeout   = 3 * time.Second
	DefaultJournalTimeout = 3 * time.Second
	DefaultNotifyTimeout  = 2 * time.Second
)

// Deadlines bound each service's call on its own: a service that has not
// answered by its deadline is left out of the answer (named in
// unavailable), the rest still comes.
type Deadlines struct {
	Plans, Journal, Notify time.Duration
}

// Backends are the three services, reached with the caller's token.
type Backends struct {
	Care    plansv1.CareServiceClient
	Journal journalv1.JournalServiceClient
	Notify  notifyv1.NotifyServiceClient
}

// Service composes the dashboard's answers. It keeps no data.
type Service struct {
	b   Backends
	d   Deadlines
	clk clock.Clock
	log *slog.Logger
}

// NewService returns the composition over b.
func NewService(b Backends, d Deadlines, clk clock.Clock, log *slog.Logger) *Service {
	if d.Plans <= 0 {
		d.Plans = DefaultPlansTimeout
	}
	if d.Journal <= 0 {
		d.Journal = DefaultJournalTimeout
	}
	if d.Notify <= 0 {
		d.Notify = DefaultNotifyTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{b: b, d: d, clk: clk, log: log}
}

// Roster is the calling counsellor's roster, ordered by need; with
// changedOnly, only the rows changed since the caller's review mark.
func (s *Service) Roster(ctx context.Context, changedOnly bool) (*dashboardv1.GetRosterResponse, error) {
	resp := &dashboardv1.GetRosterResponse{Rows: []*dashboardv1.RosterRow{}, Unavailable: []dashboardv1.Service{}}
	var down unavailable

	care, err := within(ctx, s.d.Plans, func(ctx context.Context) (*plansv1.BatchGetCareSummariesResponse, error) {
		return s.b.Care.BatchGetCareSummaries(ctx, &plansv1.BatchGetCareSummariesRequest{})
	})
	if err != nil {
		// Without plans nobody knows who the clients are: an empty
		// roster that says so, unless the caller is the problem.
		if err := s.failed(ctx, dashboardv1.Service_SERVICE_PLANS, err, &down); err != nil {
			return nil, err
		}
		resp.Unavailable = down.list()
		resp.ComposeTime = timestamppb.New(s.clk.Now())
		resp.Caseload = Caseload(nil)
		return resp, nil
	}
	ids := make([]string, 0, len(care.GetSummaries()))
	for _, c := range care.GetSummaries() {
		ids = append(ids, c.GetClientId())
	}

	var journal []*journalv1.JournalCareSummary
	var notify []*notifyv1.NotificationSummary
	if len(ids) > 0 {
		err := s.concurrently(ctx, &down,
			step{dashboardv1.Service_SERVICE_JOURNAL, func(ctx context.Context) error {
				var err error
				journal, err = batched(ctx, ids, s.d.Journal, func(ctx context.Context, chunk []string) ([]*journalv1.JournalCareSummary, error) {
					r, err := s.b.Journal.BatchGetJournalSummaries(ctx, &journalv1.BatchGetJournalSummariesRequest{ClientIds: chunk})
					return r.GetSummaries(), err
				})
				return err
			}},
			step{dashboardv1.Service_SERVICE_NOTIFY, func(ctx context.Context) error {
				var err error
				notify, err = batched(ctx, ids, s.d.Notify, func(ctx context.Context, chunk []string) ([]*notifyv1.NotificationSummary, error) {
					r, err := s.b.Notify.BatchGetNotificationSummaries(ctx, &notifyv1.BatchGetNotificationSummariesRequest{ClientIds: chunk})
					return r.GetSummaries(), err
				})
				return err
			}},
		)
		if err != nil {
			return nil, err
		}
	}

	byJournal := index(journal, (*journalv1.JournalCareSummary).GetClientId)
	byNotify := index(notify, (*notifyv1.NotificationSummary).GetClientId)
	now := s.clk.Now()
	rows := make([]Row, 0, len(ids))
	all := make([]Row, 0, len(ids))
	for _, c := range care.GetSummaries() {
		id := c.GetClientId()
		row := Compose(Parts{ClientID: id, Care: c, Journal: byJournal[id], Notify: byNotify[id]}, now)
		all = append(all, row)
		if changedOnly && !row.Proto.ChangedSinceReview {
			continue
		}
		rows = append(rows, row)
	}
	resp.Caseload = Caseload(all)
	Order(rows)
	for _, r := range rows {
		resp.Rows = append(resp.Rows, r.Proto)
	}
	resp.Unavailable = down.list()
	resp.ComposeTime = timestamppb.New(now)
	return resp, nil
}

// Detail is one client's page. asCareTeam asks every service for what the
// client's care team sees (the caller is the client): the access log and
// the caller's notifications (a counsellor's own) are then left out.
func (s *Service) Detail(ctx context.Context, clientID string, asCareTeam bool) (*dashboardv1.ClientDetail, []dashboardv1.Service, time.Time, error) {
	var down unavailable
	tl, err := within(ctx, s.d.Plans, func(ctx context.Context) (*plansv1.GetCareTimelineResponse, error) {
		return s.b.Care.GetCareTimeline(ctx, &plansv1.GetCareTimelineRequest{ClientId: clientID, AsCareTeam: asCareTeam})
	})
	if err != nil {
		// NotFound (a client the caller may not see) is the caller's.
		if err := s.failed(ctx, dashboardv1.Service_SERVICE_PLANS, err, &down); err != nil {
			return nil, nil, time.Time{}, err
		}
		tl = nil
	}
	slipTimes := tl.GetSlips().GetSlipTimes()
	if len(slipTimes) > maxSlipTimes {
		slipTimes = latestTimes(slipTimes, maxSlipTimes)
	}

	var jd *journalv1.GetJournalCareDetailResponse
	var ns []*notifyv1.NotificationSummary
	steps := []step{{dashboardv1.Service_SERVICE_JOURNAL, func(ctx context.Context) error {
		var err error
		jd, err = within(ctx, s.d.Journal, func(ctx context.Context) (*journalv1.GetJournalCareDetailResponse, error) {
			return s.b.Journal.GetJournalCareDetail(ctx, &journalv1.GetJournalCareDetailRequest{
				ClientId: clientID, SlipTimes: slipTimes, AsCareTeam: asCareTeam})
		})
		return err
	}}}
	if !asCareTeam {
		steps = append(steps, step{dashboardv1.Service_SERVICE_NOTIFY, func(ctx context.Context) error {
			var err error
			ns, err = within(ctx, s.d.Notify, func(ctx context.Context) ([]*notifyv1.NotificationSummary, error) {
				r, err := s.b.Notify.BatchGetNotificationSummaries(ctx, &notifyv1.BatchGetNotificationSummariesRequest{ClientIds: []string{clientID}})
				return r.GetSummaries(), err
			})
			return err
		}})
	}
	if err := s.concurrently(ctx, &down, steps...); err != nil {
		return nil, nil, time.Time{}, err
	}

	parts := Parts{ClientID: clientID, Journal: jd.GetSummary(), Notify: index(ns, (*notifyv1.NotificationSummary).GetClientId)[clientID]}
	sc := scopes{}
	if tl != nil {
		parts.Care = &plansv1.CareSummary{ClientId: clientID, GrantedScopes: tl.GetGrantedScopes(), Plan: tl.Plan, ReviewTime: tl.GetReviewTime()}
		sc.known = true
		sc.granted = map[plansv1.ConsentScope]bool{}
		for _, g := range tl.GetGrantedScopes() {
			sc.granted[g] = true
		}
	}
	now := s.clk.Now()
	d := &dashboardv1.ClientDetail{
		Row:           Compose(parts, now).Proto,
		Timeline:      []*plansv1.CareTimelineItem{},
		SlipTriggers:  []*journalv1.TriggerCount{},
		Days:          []*journalv1.CareDay{},
		SharedEntries: []*journalv1.Entry{},
		RiskFlags:     []*journalv1.RiskFlag{},
		AccessLog:     []*plansv1.AccessLogEntry{},
	}
	if sc.has(plansv1.ConsentScope_PLAN_PROGRESS) && tl != nil {
		d.Timeline = append(d.Timeline, tl.GetTimeline()...)
		d.Slips = tl.GetSlips()
	}
	if !asCareTeam && tl != nil {
		d.AccessLog = append(d.AccessLog, tl.GetAccessLog()...)
	}
	if jd != nil {
		if sc.has(plansv1.ConsentScope_MOOD_INSIGHTS) {
			d.Days = append(d.Days, jd.GetDays()...)
			d.SlipTriggers = append(d.SlipTriggers, jd.GetSlipTriggers()...)
		}
		if sc.has(plansv1.ConsentScope_SHARED_JOURNAL) {
			d.SharedEntries = append(d.SharedEntries, jd.GetSharedEntries()...)
		}
		if sc.has(plansv1.ConsentScope_RISK_ALERTS) {
			d.RiskFlags = append(d.RiskFlags, jd.GetRiskFlags()...)
		}
	}
	return d, down.list(), now, nil
}

// step is one service's part of a composition.
type step struct {
	svc dashboardv1.Service
	run func(ctx context.Context) error
}

// concurrently runs the steps at once. A step that fails for the service's
// own reasons marks it unavailable; a caller error (or the caller's request
// ending) cancels the others and is returned.
func (s *Service) concurrently(ctx context.Context, down *unavailable, steps ...step) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, st := range steps {
		wg.Go(func() {
			if err := st.run(ctx); err != nil {
				errs[i] = err
				if isCallerError(err) {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	// A caller error wins over a service's failure, whichever came first.
	for _, err := range errs {
		if err != nil && isCallerError(err) {
			return err
		}
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		if err := s.failed(ctx, steps[i].svc, err, down); err != nil {
			return err
		}
	}
	return nil
}

// failed decides what a failed call means: nil after marking svc
// unavailable (the service is down, slow or broken), or the error to
// answer with (the caller's own: a bad token, a wrong role, bad input, a
// client they may not see; or their request itself ended).
func (s *Service) failed(ctx context.Context, svc dashboardv1.Service, err error, down *unavailable) error {
	if ctxErr := context.Cause(ctx); ctxErr != nil && !isCallerError(err) {
		// The request's own deadline (the gateway's BACKEND_TIMEOUT) or
		// the caller went away: not a service's fault.
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return status.Error(codes.DeadlineExceeded, "the request took too long")
		}
		return status.FromContextError(ctxErr).Err()
	}
	if isCallerError(err) {
		return status.Convert(err).Err()
	}
	s.log.WarnContext(ctx, "dashboard: service unavailable, answering without it",
		"service", svc.String(), "code", status.Code(err).String())
	down.add(svc)
	return nil
}

// isCallerError reports whether a service refused the caller (the answer
// keeps that status) rather than failed to answer.
func isCallerError(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument,
		codes.NotFound, codes.FailedPrecondition, codes.OutOfRange, codes.AlreadyExists:
		return true
	}
	return false
}

// within makes one call with its own deadline.
func within[T any](ctx context.Context, d time.Duration, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return call(ctx)
}

// batched calls fn once per MaxBatch ids (once for a roster up to
// MaxBatch), all at once, each with deadline d; a caller error wins over
// any other.
func batched[T any](ctx context.Context, ids []string, d time.Duration, fn func(context.Context, []string) ([]T, error)) ([]T, error) {
	chunks := slices.Collect(slices.Chunk(ids, MaxBatch))
	if len(chunks) == 1 {
		return within(ctx, d, func(ctx context.Context) ([]T, error) { return fn(ctx, chunks[0]) })
	}
	out := make([][]T, len(chunks))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() {
			out[i], errs[i] = within(ctx, d, func(ctx context.Context) ([]T, error) { return fn(ctx, c) })
		})
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || isCallerError(err)) {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return slices.Concat(out...), nil
}

func index[T any](items []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[key(it)] = it
	}
	return m
}

// latestTimes keeps the n latest of ts.
func latestTimes(ts []*timestamppb.Timestamp, n int) []*timestamppb.Timestamp {
	sorted := slices.Clone(ts)
	slices.SortFunc(sorted, func(a, b *timestamppb.Timestamp) int { return b.AsTime().Compare(a.AsTime()) })
	return sorted[:n]
}

// unavailable collects the services left out of an answer.
type unavailable struct {
	mu  sync.Mutex
	set map[dashboardv1.Service]bool
}

func (u *unavailable) add(s dashboardv1.Service) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.set == nil {
		u.set = map[dashboardv1.Service]bool{}
	}
	u.set[s] = true
}

// list is the services in enum order (never nil, so the JSON has []).
func (u *unavailable) list() []dashboardv1.Service {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := []dashboardv1.Service{}
	for s := range u.set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
