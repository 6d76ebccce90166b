// Package plansclient asks the plans service, over gRPC with the caller's
// token forwarded, for what a client wrote down for hard moments, and
// whether a counsellor may see a client's data now.
package plansclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/services/journal/internal/app"
)

// Client implements app.SupportSource and app.CareAuthority.
type Client struct {
	plans plansv1.PlansServiceClient
	care  plansv1.CareServiceClient
}

// New wraps a connection to the plans service (made with
// platform/grpcclient, which forwards the caller's token).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{plans: plansv1.NewPlansServiceClient(conn), care: plansv1.NewCareServiceClient(conn)}
}

// Support implements app.SupportSource.
func (c *Client) Support(ctx context.Context, clientID string) (app.SupportInfo, error) {
	resp, err := c.plans.GetSupportInfo(ctx, &plansv1.GetSupportInfoRequest{ClientId: clientID})
	if err != nil {
		return app.SupportInfo{}, fmt.Errorf("plans support info: %w", err)
	}
	info := app.SupportInfo{HasPlan: resp.GetPlanId() != "", Reasons: resp.GetReasons(), StreakDays: int(resp.GetCurrentStreakDays())}
	for _, sc := range resp.GetSupportContacts() {
		info.Contacts = append(info.Contacts, app.SupportContact{ID: sc.GetId(), Name: sc.GetName(), Relationship: sc.GetRelationship(), Contact: sc.GetContact()})
	}
	return info, nil
}

// Allowed implements app.CareAuthority: plans answers, from its own records at
// this moment, whether the caller may see scope of clientID. The question
// goes with the caller's token (forwarded by platform/grpcclient), so plans
// answers for the token's subject, which is counsellorID (the verified
// caller the journal is deciding for).
func (c *Client) Allowed(ctx context.Context, clientID, counsellorID, scope string) (bool, error) {
	allowed, err := careview.Ask(ctx, c.care, []careview.Query{{ClientID: clientID, Scope: scope}})
	if err != nil {
		return false, fmt.Errorf("care access of %s: %w", counsellorID, err)
	}
	return allowed[0], nil
}

// MaxQueries is the most CheckCareAccess answers in one call.
const MaxQueries = 2000

// AllowedAll implements app.CareAuthority: every query in one
// CheckCareAccess call (with the caller's token forwarded, so plans
// answers for callerID), as_care_team passed on.
func (c *Client) AllowedAll(ctx context.Context, callerID string, queries []app.CareQuery, asCareTeam bool) ([]bool, error) {
	if len(queries) > MaxQueries {
		return nil, fmt.Errorf("care access of %s: %d questions, at most %d in one call", callerID, len(queries), MaxQueries)
	}
	req := &plansv1.CheckCareAccessRequest{AsCareTeam: asCareTeam}
	for _, q := range queries {
		s, ok := plansv1.ConsentScope_value[q.Scope]
		if !ok || s == 0 {
			return nil, fmt.Errorf("unknown consent scope %q", q.Scope)
		}
		req.Queries = append(req.Queries, &plansv1.CareAccessQuery{ClientId: q.ClientID, Scope: plansv1.ConsentScope(s)})
	}
	resp, err := c.care.CheckCareAccess(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("care access of %s: %w", callerID, err)
	}
	if len(resp.GetAllowed()) != len(queries) {
		return nil, fmt.Errorf("care access of %s: %d answers to %d questions", callerID, len(resp.GetAllowed()), len(queries))
	}
	return resp.GetAllowed(), nil
}
