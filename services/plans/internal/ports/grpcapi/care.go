package grpcapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
)

// CareServer implements plansv1.CareServiceServer over the app layer.
type CareServer struct {
	plansv1.UnimplementedCareServiceServer
	care   *app.Care
	access *app.Access
	view   *app.CareView
}

// NewCareServer builds the CareService handlers.
func NewCareServer(c *app.Care, a *app.Access, v *app.CareView) *CareServer {
	return &CareServer{care: c, access: a, view: v}
}

// CreateCareAssignment implements plansv1.CareServiceServer.
func (s *CareServer) CreateCareAssignment(ctx context.Context, req *plansv1.CreateCareAssignmentRequest) (*plansv1.CreateCareAssignmentResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetCareAssignment()
	a, err := s.care.CreateAssignment(ctx, caller, in.GetClientId(), in.GetCounsellorId())
	if err != nil {
		return nil, err
	}
	return &plansv1.CreateCareAssignmentResponse{CareAssignment: assignmentProto(a)}, nil
}

// AcceptCareAssignment implements plansv1.CareServiceServer.
func (s *CareServer) AcceptCareAssignment(ctx context.Context, req *plansv1.AcceptCareAssignmentRequest) (*plansv1.AcceptCareAssignmentResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.care.AcceptAssignment(ctx, caller, req.GetAssignmentId())
	if err != nil {
		return nil, err
	}
	return &plansv1.AcceptCareAssignmentResponse{CareAssignment: assignmentProto(a)}, nil
}

// EndCareAssignment implements plansv1.CareServiceServer.
func (s *CareServer) EndCareAssignment(ctx context.Context, req *plansv1.EndCareAssignmentRequest) (*plansv1.EndCareAssignmentResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.care.EndAssignment(ctx, caller, req.GetAssignmentId())
	if err != nil {
		return nil, err
	}
	return &plansv1.EndCareAssignmentResponse{CareAssignment: assignmentProto(a)}, nil
}

// ListCareAssignments implements plansv1.CareServiceServer.
func (s *CareServer) ListCareAssignments(ctx context.Context, req *plansv1.ListCareAssignmentsRequest) (*plansv1.ListCareAssignmentsResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, next, err := s.care.ListAssignments(ctx, caller, req.GetClientId(), req.GetCounsellorId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &plansv1.ListCareAssignmentsResponse{NextPageToken: next}
	for _, a := range list {
		out.CareAssignments = append(out.CareAssignments, assignmentProto(a))
	}
	return out, nil
}

// GrantConsent implements plansv1.CareServiceServer.
func (s *CareServer) GrantConsent(ctx context.Context, req *plansv1.GrantConsentRequest) (*plansv1.GrantConsentResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := s.care.SetConsent(ctx, caller, req.GetClientId(), app.ScopeFromProto(req.GetScope()), true)
	if err != nil {
		return nil, err
	}
	return &plansv1.GrantConsentResponse{Consents: consentsProto(cs)}, nil
}

// RevokeConsent implements plansv1.CareServiceServer.
func (s *CareServer) RevokeConsent(ctx context.Context, req *plansv1.RevokeConsentRequest) (*plansv1.RevokeConsentResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := s.care.SetConsent(ctx, caller, req.GetClientId(), app.ScopeFromProto(req.GetScope()), false)
	if err != nil {
		return nil, err
	}
	return &plansv1.RevokeConsentResponse{Consents: consentsProto(cs)}, nil
}

// ListConsents implements plansv1.CareServiceServer.
func (s *CareServer) ListConsents(ctx context.Context, req *plansv1.ListConsentsRequest) (*plansv1.ListConsentsResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := s.care.Consents(ctx, caller, req.GetClientId())
	if err != nil {
		return nil, err
	}
	return &plansv1.ListConsentsResponse{Consents: consentsProto(cs)}, nil
}

// ListAccessLog implements plansv1.CareServiceServer.
func (s *CareServer) ListAccessLog(ctx context.Context, req *plansv1.ListAccessLogRequest) (*plansv1.ListAccessLogResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.access.ListAccessLog(ctx, caller, req.GetClientId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &plansv1.ListAccessLogResponse{NextPageToken: page.NextPageToken}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, accessEntryProto(e))
	}
	return out, nil
}

func accessEntryProto(e care.AccessEntry) *plansv1.AccessLogEntry {
	outcome := plansv1.AccessOutcome_ACCESS_OUTCOME_ALLOWED
	if e.Outcome == care.OutcomeDenied {
		outcome = plansv1.AccessOutcome_ACCESS_OUTCOME_DENIED
	}
	return &plansv1.AccessLogEntry{
		Id:        e.ID,
		ActorId:   e.ActorID,
		ActorRole: string(e.ActorRole),
		ClientId:  e.ClientID,
		Resource:  e.Resource,
		Action:    e.Action,
		Outcome:   outcome,
		Time:      timestamppb.New(e.Time),
		RequestId: e.RequestID,
	}
}

func assignmentProto(a care.Assignment) *plansv1.CareAssignment {
	return &plansv1.CareAssignment{
		Id:           a.ID,
		ClientId:     a.ClientID,
		CounsellorId: a.CounsellorID,
		Status:       app.AssignmentStatusProto(a.Status),
		CreatedBy:    a.CreatedBy,
		CreateTime:   timestamppb.New(a.CreateTime),
		AcceptTime:   optionalTime(a.AcceptTime),
		EndTime:      optionalTime(a.EndTime),
	}
}

func consentsProto(cs care.Consents) []*plansv1.Consent {
	out := make([]*plansv1.Consent, 0, len(care.AllScopes))
	for _, s := range care.AllScopes {
		st := cs.Scopes[s.Key()]
		out = append(out, &plansv1.Consent{
			Scope:      app.ScopeProto(s),
			Granted:    st.Granted,
			GrantTime:  optionalTime(st.GrantTime),
			RevokeTime: optionalTime(st.RevokeTime),
		})
	}
	return out
}

func optionalTime(t *time.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(*t)
}

// CheckCareAccess implements plansv1.CareServiceServer.
func (s *CareServer) CheckCareAccess(ctx context.Context, req *plansv1.CheckCareAccessRequest) (*plansv1.CheckCareAccessResponse, error) {
	caller, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	queries := make([]app.AccessQuery, 0, len(req.GetQueries()))
	for _, q := range req.GetQueries() {
		queries = append(queries, app.AccessQuery{ClientID: q.GetClientId(), Scope: app.ScopeFromProto(q.GetScope())})
	}
	allowed, err := s.access.Allowed(ctx, caller, queries, req.GetAsCareTeam())
	if err != nil {
		return nil, err
	}
	return &plansv1.CheckCareAccessResponse{Allowed: allowed}, nil
}
