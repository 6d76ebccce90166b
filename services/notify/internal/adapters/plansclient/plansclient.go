// Package plansclient asks the plans service, over gRPC with the caller's
// token forwarded, whether a counsellor may see a client's data now.
package plansclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/services/notify/internal/app"
)

// Client implements app.CareAuthority.
type Client struct {
	care plansv1.CareServiceClient
}

// New wraps a connection to the plans service (made with
// platform/grpcclient, which forwards the caller's token).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{care: plansv1.NewCareServiceClient(conn)}
}

// Allowed implements app.CareAuthority. Plans answers for the subject of
// the forwarded token, which is counsellorID (the verified caller notify is
// deciding for).
func (c *Client) Allowed(ctx context.Context, counsellorID string, queries []app.CareQuery) ([]bool, error) {
	allowed, err := careview.Ask(ctx, c.care, queries)
	if err != nil {
		return nil, fmt.Errorf("care access of %s: %w", counsellorID, err)
	}
	return allowed, nil
}
