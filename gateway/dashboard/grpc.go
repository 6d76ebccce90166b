package dashboard

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	dashboardv1 "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
)

// Server is the DashboardService over gRPC, served by the gateway on an
// in-process connection behind the platform's interceptors (token
// verification, request validation, request id, logging, error mapping).
type Server struct {
	dashboardv1.UnimplementedDashboardServiceServer
	svc *Service
}

// NewServer serves svc.
func NewServer(svc *Service) *Server { return &Server{svc: svc} }

// GetRoster answers the calling counsellor's roster.
func (s *Server) GetRoster(ctx context.Context, req *dashboardv1.GetRosterRequest) (*dashboardv1.GetRosterResponse, error) {
	return s.svc.Roster(ctx, req.GetChangedSinceReview())
}

// GetClientDetail answers one client's page.
func (s *Server) GetClientDetail(ctx context.Context, req *dashboardv1.GetClientDetailRequest) (*dashboardv1.GetClientDetailResponse, error) {
	d, down, at, err := s.svc.Detail(ctx, req.GetClientId(), false)
	if err != nil {
		return nil, err
	}
	return &dashboardv1.GetClientDetailResponse{Detail: d, Unavailable: down, ComposeTime: timestamppb.New(at)}, nil
}

// GetCareTeamView answers a client with what their care team sees. Only
// the client may ask, about themselves: anyone else gets NotFound, as for
// the client's access log (the services are not called, so nothing is
// read; no service logs the refusal).
func (s *Server) GetCareTeamView(ctx context.Context, req *dashboardv1.GetCareTeamViewRequest) (*dashboardv1.GetCareTeamViewResponse, error) {
	caller, err := auth.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if caller.Role != auth.RoleClient || caller.ID != req.GetClientId() {
		return nil, apperr.NotFound("client %q not found", req.GetClientId())
	}
	d, down, _, err := s.svc.Detail(ctx, req.GetClientId(), true)
	if err != nil {
		return nil, err
	}
	return &dashboardv1.GetCareTeamViewResponse{Detail: d, Unavailable: down}, nil
}
