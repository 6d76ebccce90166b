package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/erasure"
)

// ErasureServer is the gRPC face of the erasure use cases.
type ErasureServer struct {
	plansv1.UnimplementedErasureServiceServer
	erasure *app.Erasure
}

// NewErasureServer builds the server.
func NewErasureServer(e *app.Erasure) *ErasureServer { return &ErasureServer{erasure: e} }

// RequestErasure implements plansv1.ErasureServiceServer.
func (s *ErasureServer) RequestErasure(ctx context.Context, req *plansv1.RequestErasureRequest) (*plansv1.RequestErasureResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.erasure.Request(ctx, caller, req.GetClientId(), req.GetSupportTicket())
	if err != nil {
		return nil, err
	}
	return &plansv1.RequestErasureResponse{Erasure: erasureProto(r)}, nil
}

// GetErasure implements plansv1.ErasureServiceServer.
func (s *ErasureServer) GetErasure(ctx context.Context, req *plansv1.GetErasureRequest) (*plansv1.GetErasureResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.erasure.Get(ctx, caller, req.GetClientId())
	if err != nil {
		return nil, err
	}
	return &plansv1.GetErasureResponse{Erasure: erasureProto(r)}, nil
}

func erasureProto(r erasure.Request) *plansv1.Erasure {
	out := &plansv1.Erasure{
		Id: r.ID, ClientId: r.ClientID, RequestedBy: r.RequestedBy, RequesterRole: string(r.RequesterRole),
		SupportTicket: r.SupportTicket, RequestTime: timestamppb.New(r.RequestTime),
		State: plansv1.ErasureState_ERASURE_STATE_IN_PROGRESS,
	}
	for _, svc := range erasure.Services {
		p := &plansv1.ErasureProgress{Service: svc}
		if at, ok := r.Confirmed[svc]; ok {
			p.Confirmed, p.ConfirmTime = true, timestamppb.New(at)
		}
		out.Services = append(out.Services, p)
	}
	if r.Complete() {
		out.State, out.CompleteTime = plansv1.ErasureState_ERASURE_STATE_COMPLETED, timestamppb.New(r.CompleteTime())
	}
	return out
}
