package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// SummaryAction is the access-log action of the batch summary read.
const SummaryAction = "BatchGetNotificationSummaries"

// careScopes are the scopes asked of the care authority per client in a
// batch summary: a counsellor sees a client while plans allows any of them
// (an ACTIVE assignment with at least one scope granted; CheckCareAccess
// cannot be asked about the assignment alone), and within it the
// notifications of the kinds whose scope is allowed. Four per client keeps
// the 500 clients of one request within CheckCareAccess's 2000 queries, so
// one request asks the authority once.
var careScopes = []string{careview.ScopePlanProgress, careview.ScopeMoodInsights, careview.ScopeRiskAlerts, careview.ScopeSharedJournal}

// NotificationSummary is the caller's own notifications about one client.
type NotificationSummary struct {
	ClientID     string
	Unread       int
	LatestTime   *time.Time
	LatestKind   message.Kind
	UrgentUnread bool
}

// AccessOutcome is one client's outcome in a batch access record.
type AccessOutcome struct {
	UserID  string `bson:"user_id"`
	Allowed bool   `bson:"allowed"`
}

// Summaries answers, for each named client the caller may see, the
// caller's own delivered notifications about that client: a counsellor
// under an ACTIVE assignment (plans is asked once for the whole batch), a
// client about themself; an admin sees none. A client the caller may not
// see is left out and recorded DENIED in that client's access log; each
// client answered by someone other than themself is recorded ALLOWED. All
// outcomes go in one write, before the answer; the store is read with one
// query whatever the number of clients. Ordered by client id.
func (n *Notify) Summaries(ctx context.Context, c Caller, clientIDs []string) ([]NotificationSummary, error) {
	ids := slices.Clone(clientIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	visible := map[string]bool{}
	scopes := map[string]map[string]bool{} // client -> allowed scopes (counsellors)
	switch c.Role {
	case auth.RoleCounsellor:
		queries := make([]CareQuery, 0, len(ids)*len(careScopes))
		for _, id := range ids {
			for _, s := range careScopes {
				queries = append(queries, CareQuery{ClientID: id, Scope: s})
			}
		}
		allowed, err := n.allowed(ctx, c, queries)
		if err != nil {
			return nil, err
		}
		for i, q := range queries {
			if !allowed[i] {
				continue
			}
			visible[q.ClientID] = true
			if scopes[q.ClientID] == nil {
				scopes[q.ClientID] = map[string]bool{}
			}
			scopes[q.ClientID][q.Scope] = true
		}
	case auth.RoleClient:
		for _, id := range ids {
			if id == c.ID {
				visible[id] = true
			}
		}
	}
	var shown []string
	for _, id := range ids {
		if visible[id] {
			shown = append(shown, id)
		}
	}
	out := make([]NotificationSummary, 0, len(shown))
	if len(shown) > 0 {
		filter := append(delivered(c.ID), bson.E{Key: "client_id", Value: bson.D{{Key: "$in", Value: shown}}})
		cur, err := n.notes.Find(ctx, filter, options.Find().
			SetProjection(bson.D{{Key: "client_id", Value: 1}, {Key: "kind", Value: 1}, {Key: "urgent", Value: 1}, {Key: "deliver_at", Value: 1}, {Key: "read_time", Value: 1}}).
			SetSort(bson.D{{Key: "deliver_at", Value: -1}, {Key: "_id", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("summarize notifications: %w", err)
		}
		var rows []stored
		if err := cur.All(ctx, &rows); err != nil {
			return nil, fmt.Errorf("summarize notifications: %w", err)
		}
		byClient := map[string]*NotificationSummary{}
		for _, id := range shown {
			out = append(out, NotificationSummary{ClientID: id})
			byClient[id] = &out[len(out)-1]
		}
		for _, r := range rows { // newest first
			s := byClient[r.ClientID]
			if s == nil {
				continue
			}
			if c.Role == auth.RoleCounsellor && c.ID != r.ClientID {
				if scope := ScopeOf(r.Kind); scope != "" && !scopes[r.ClientID][scope] {
					continue
				}
			}
			if s.LatestTime == nil {
				at := r.DeliverAt
				s.LatestTime, s.LatestKind = &at, r.Kind
			}
			if r.ReadTime == nil {
				s.Unread++
				s.UrgentUnread = s.UrgentUnread || r.Urgent
			}
		}
	}
	if err := n.recordBatch(ctx, c, ids, visible); err != nil {
		return nil, err
	}
	return out, nil
}

// recordBatch stores the outcome of one batch read for every named client
// other than the caller, with one event per client, in one write: one
// access record document carrying all the events, which the outbox relay
// publishes to the plans service's access log.
func (n *Notify) recordBatch(ctx context.Context, c Caller, ids []string, visible map[string]bool) error {
	if n.access == nil {
		return nil
	}
	now := n.now()
	var outcomes []AccessOutcome
	var msgs []outbox.Message
	for _, id := range ids {
		if id == c.ID {
			continue
		}
		msg, err := events.New(events.Meta{
			Subject: AccessSubject, Producer: "notify", ClientID: id, CorrelationID: c.RequestID, OccurredAt: now,
		}, &eventsv1.Envelope{Payload: &eventsv1.Envelope_AccessRecorded{AccessRecorded: &eventsv1.AccessRecorded{
			ActorId: c.ID, ActorRole: string(c.Role), Resource: "notification-summary", Action: SummaryAction, Allowed: visible[id], RequestId: c.RequestID,
		}}})
		if err != nil {
			return err
		}
		outcomes = append(outcomes, AccessOutcome{UserID: id, Allowed: visible[id]})
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return nil
	}
	rec := AccessRecord{ActorID: c.ID, Action: SummaryAction, Time: now, Batch: outcomes}
	if err := n.access.Create(ctx, uuid.NewString(), rec, msgs...); err != nil {
		return apperr.Wrap(apperr.KindUnavailable, fmt.Errorf("record access: %w", err), "the attempt could not be recorded; try again")
	}
	return nil
}
