package grpcapi

import (
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"

	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
)

// ExportServer implements notifyv1.NotifyExportServiceServer.
type ExportServer struct {
	notifyv1.UnimplementedNotifyExportServiceServer
	exports *app.Exports
}

// NewExportServer builds the NotifyExportService handlers.
func NewExportServer(e *app.Exports) *ExportServer { return &ExportServer{exports: e} }

// GetNotifyExportPart implements notifyv1.NotifyExportServiceServer.
func (s *ExportServer) GetNotifyExportPart(req *notifyv1.GetNotifyExportPartRequest, stream notifyv1.NotifyExportService_GetNotifyExportPartServer) error {
	ctx := stream.Context()
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return err
	}
	return s.exports.Part(ctx, c, req.GetClientId(), req.GetExportId(), exportStream{send: stream.Send})
}

// exportStream sends each page of the part as one message.
type exportStream struct {
	send func(*notifyv1.GetNotifyExportPartResponse) error
}

func (s exportStream) Notifications(xs []inbox.Notification) error {
	out := &notifyv1.GetNotifyExportPartResponse{}
	for _, x := range xs {
		out.Notifications = append(out.Notifications, notificationProto(x))
	}
	return s.send(out)
}

func (s exportStream) Preferences(xs []inbox.Preferences) error {
	out := &notifyv1.GetNotifyExportPartResponse{}
	for _, x := range xs {
		out.Preferences = append(out.Preferences, prefsProto(x))
	}
	return s.send(out)
}

// Webhooks are sent without their secrets: a secret is shown once, when
// made, and an archive is not the place to keep one.
func (s exportStream) Webhooks(xs []app.Webhook) error {
	out := &notifyv1.GetNotifyExportPartResponse{}
	for _, x := range xs {
		out.Webhooks = append(out.Webhooks, webhookProto(x, false))
	}
	return s.send(out)
}
