package app

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// CareQuery is one question to the care authority: may the counsellor see
// this scope of this client now?
type CareQuery = careview.Query

// CareAuthority answers, for the calling counsellor, whether they may see
// each scope of each client at this moment. In production it is the plans
// service, which owns the care team and consent (adapters/plansclient,
// asking CheckCareAccess with the caller's token): a revocation or an ended
// assignment that plans has answered OK hides that client's notifications
// of that scope from the next read on, on every replica, whatever the
// projection that chose the recipients has seen. An error is no answer:
// the read is refused as Unavailable.
type CareAuthority interface {
	Allowed(ctx context.Context, counsellorID string, queries []CareQuery) ([]bool, error)
}

// WithCareAuthority sets who answers the care team's access on every
// counsellor read. Without one (unit tests), the care projection answers.
func (n *Notify) WithCareAuthority(a CareAuthority) *Notify {
	n.care = a
	return n
}

// maxCareQueries bounds one question to the authority (CheckCareAccess
// takes up to 2000).
const maxCareQueries = 2000

// ScopeOf is the consent scope a counsellor's notification of kind k shows
// data of ("" for the kinds about the care relationship itself, which a
// counsellor sees whatever the consent: an assignment or consent change).
func ScopeOf(k message.Kind) string {
	switch k {
	case message.MilestoneReached, message.PlanCompleted, message.SlipRecorded:
		return careview.ScopePlanProgress
	case message.HighUrge:
		return careview.ScopeMoodInsights
	case message.RiskFlagRaised, message.RiskFlagEscalated:
		return careview.ScopeRiskAlerts
	}
	return ""
}

// aboutClientData reports whether note shows a client's data to someone on
// their care team (a counsellor's notification of a consented scope).
func aboutClientData(note inbox.Notification) bool {
	return note.ClientID != "" && note.ClientID != note.UserID && ScopeOf(note.Kind) != ""
}

// visible keeps the notifications the caller may see now: all of a
// client's own; of a counsellor's, those about a client only while the
// authority allows that client's scope.
func (n *Notify) visible(ctx context.Context, c Caller, notes []inbox.Notification) ([]inbox.Notification, error) {
	if c.Role != auth.RoleCounsellor {
		return notes, nil
	}
	var queries []CareQuery
	index := map[CareQuery]int{}
	for _, note := range notes {
		if !aboutClientData(note) {
			continue
		}
		q := CareQuery{ClientID: note.ClientID, Scope: ScopeOf(note.Kind)}
		if _, ok := index[q]; !ok {
			index[q] = len(queries)
			queries = append(queries, q)
		}
	}
	if len(queries) == 0 {
		return notes, nil
	}
	allowed, err := n.allowed(ctx, c, queries)
	if err != nil {
		return nil, err
	}
	out := notes[:0:0]
	for _, note := range notes {
		if aboutClientData(note) && !allowed[index[CareQuery{ClientID: note.ClientID, Scope: ScopeOf(note.Kind)}]] {
			continue
		}
		out = append(out, note)
	}
	return out, nil
}

// allowed asks the authority (or, without one, the projection), in chunks
// it accepts, and answers in the order of queries.
func (n *Notify) allowed(ctx context.Context, c Caller, queries []CareQuery) ([]bool, error) {
	out := make([]bool, 0, len(queries))
	for start := 0; start < len(queries); start += maxCareQueries {
		chunk := queries[start:min(start+maxCareQueries, len(queries))]
		var answers []bool
		var err error
		if n.care != nil {
			answers, err = n.care.Allowed(ctx, c.ID, chunk)
		} else {
			answers, err = n.projectionAllowed(ctx, c.ID, chunk)
		}
		if err == nil && len(answers) != len(chunk) {
			err = fmt.Errorf("%d answers to %d questions", len(answers), len(chunk))
		}
		if err != nil {
			return nil, apperr.Wrap(apperr.KindUnavailable, err, "the care team's access could not be checked; try again")
		}
		out = append(out, answers...)
	}
	return out, nil
}

func (n *Notify) projectionAllowed(ctx context.Context, counsellorID string, queries []CareQuery) ([]bool, error) {
	out := make([]bool, len(queries))
	for i, q := range queries {
		ok, err := n.view.Allowed(ctx, q.ClientID, counsellorID, q.Scope)
		if err != nil {
			return nil, err
		}
		out[i] = ok
	}
	return out, nil
}

// visibleSend wraps a live feed's send so that it skips what the caller may
// not see at the moment of sending.
func (n *Notify) visibleSend(ctx context.Context, c Caller, send func(inbox.Notification) error) func(inbox.Notification) error {
	if c.Role != auth.RoleCounsellor {
		return send
	}
	return func(note inbox.Notification) error {
		keep, err := n.visible(ctx, c, []inbox.Notification{note})
		if err != nil {
			return err
		}
		if len(keep) == 0 {
			return nil
		}
		return send(note)
	}
}

// unread counts the caller's unread notifications that they may see now:
// for a counsellor, grouped by (client, kind) and asked of the authority
// once per group.
func (n *Notify) unread(ctx context.Context, c Caller) (int, error) {
	filter := append(delivered(c.ID), bson.E{Key: "read_time", Value: bson.D{{Key: "$exists", Value: false}}})
	if c.Role != auth.RoleCounsellor {
		count, err := n.notes.CountDocuments(ctx, filter)
		return int(count), err
	}
	cur, err := n.notes.Aggregate(ctx, bson.A{
		bson.D{{Key: "$match", Value: filter}},
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "client_id", Value: "$client_id"}, {Key: "kind", Value: "$kind"}}},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	})
	if err != nil {
		return 0, fmt.Errorf("count unread: %w", err)
	}
	var groups []struct {
		ID struct {
			ClientID string       `bson:"client_id"`
			Kind     message.Kind `bson:"kind"`
		} `bson:"_id"`
		N int `bson:"n"`
	}
	if err := cur.All(ctx, &groups); err != nil {
		return 0, fmt.Errorf("count unread: %w", err)
	}
	notes := make([]inbox.Notification, 0, len(groups))
	counts := map[[2]string]int{}
	for _, g := range groups {
		notes = append(notes, inbox.Notification{UserID: c.ID, ClientID: g.ID.ClientID, Kind: g.ID.Kind})
		counts[[2]string{g.ID.ClientID, string(g.ID.Kind)}] += g.N
	}
	keep, err := n.visible(ctx, c, notes)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, note := range keep {
		total += counts[[2]string{note.ClientID, string(note.Kind)}]
		counts[[2]string{note.ClientID, string(note.Kind)}] = 0
	}
	return total, nil
}
