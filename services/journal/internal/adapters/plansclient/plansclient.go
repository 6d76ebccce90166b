// Package plansclient asks the plans service, over gRPC with the caller's
// token forwarded, for what a client wrote down for hard moments.
package plansclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/services/journal/internal/app"
)

// Client implements app.SupportSource.
type Client struct {
	plans plansv1.PlansServiceClient
}

// New wraps a connection to the plans service (made with
// platform/grpcclient, which forwards the caller's token).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{plans: plansv1.NewPlansServiceClient(conn)}
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
