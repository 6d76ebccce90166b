// Package grpcapi is the notify service's gRPC port.
package grpcapi

import (
	"context"
	"slices"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"

	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/idempotency"

	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// Server implements notifyv1.NotifyServiceServer.
type Server struct {
	notifyv1.UnimplementedNotifyServiceServer
	n *app.Notify
}

// New builds the NotifyService handlers.
func New(n *app.Notify) *Server { return &Server{n: n} }

// ListNotifications implements notifyv1.NotifyServiceServer.
func (s *Server) ListNotifications(ctx context.Context, req *notifyv1.ListNotificationsRequest) (*notifyv1.ListNotificationsResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.n.List(ctx, c, req.GetUnreadOnly(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &notifyv1.ListNotificationsResponse{NextPageToken: page.Next, UnreadCount: int32(page.Unread), Notifications: []*notifyv1.Notification{}}
	for _, n := range page.Notifications {
		out.Notifications = append(out.Notifications, notificationProto(n))
	}
	return out, nil
}

// MarkNotificationRead implements notifyv1.NotifyServiceServer.
func (s *Server) MarkNotificationRead(ctx context.Context, req *notifyv1.MarkNotificationReadRequest) (*notifyv1.MarkNotificationReadResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.n.MarkRead(ctx, c, req.GetNotificationId())
	if err != nil {
		return nil, err
	}
	return &notifyv1.MarkNotificationReadResponse{Notification: notificationProto(n)}, nil
}

// MarkAllNotificationsRead implements notifyv1.NotifyServiceServer.
func (s *Server) MarkAllNotificationsRead(ctx context.Context, _ *notifyv1.MarkAllNotificationsReadRequest) (*notifyv1.MarkAllNotificationsReadResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.n.MarkAllRead(ctx, c)
	if err != nil {
		return nil, err
	}
	return &notifyv1.MarkAllNotificationsReadResponse{Marked: int32(n)}, nil
}

// StreamNotifications implements notifyv1.NotifyServiceServer.
func (s *Server) StreamNotifications(req *notifyv1.StreamNotificationsRequest, stream notifyv1.NotifyService_StreamNotificationsServer) error {
	ctx := stream.Context()
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return err
	}
	ready := func() error { return stream.SendHeader(metadata.Pairs(grpcserver.StreamOpenHeader, "1")) }
	return s.n.Stream(ctx, c, req.GetAfterId(), ready, func(n inbox.Notification) error {
		return stream.Send(&notifyv1.StreamNotificationsResponse{Notification: notificationProto(n)})
	})
}

// GetNotificationPreferences implements notifyv1.NotifyServiceServer.
func (s *Server) GetNotificationPreferences(ctx context.Context, req *notifyv1.GetNotificationPreferencesRequest) (*notifyv1.GetNotificationPreferencesResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.n.Preferences(ctx, c, req.GetUserId())
	if err != nil {
		return nil, err
	}
	return &notifyv1.GetNotificationPreferencesResponse{Preferences: prefsProto(p)}, nil
}

// UpdateNotificationPreferences implements notifyv1.NotifyServiceServer.
func (s *Server) UpdateNotificationPreferences(ctx context.Context, req *notifyv1.UpdateNotificationPreferencesRequest) (*notifyv1.UpdateNotificationPreferencesResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetPreferences()
	p := inbox.Preferences{
		TimeZone: in.GetTimeZone(), QuietStart: in.GetQuietStart(), QuietEnd: in.GetQuietEnd(),
		CheckInReminderTime: in.GetCheckInReminderTime(), PromptOfTheDayTime: in.GetPromptOfTheDayTime(),
		DailyCap: int(in.GetDailyCap()), Discreet: in.GetDiscreet(),
		Webhook: slices.Contains(in.GetChannels(), notifyv1.Channel_CHANNEL_WEBHOOK),
	}
	out, err := s.n.UpdatePreferences(ctx, c, req.GetUserId(), p, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &notifyv1.UpdateNotificationPreferencesResponse{Preferences: prefsProto(out)}, nil
}

// CreateWebhook implements notifyv1.NotifyServiceServer.
func (s *Server) CreateWebhook(ctx context.Context, req *notifyv1.CreateWebhookRequest) (*notifyv1.CreateWebhookResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	key, err := idempotency.KeyOf(req)
	if err != nil {
		return nil, err
	}
	w, err := s.n.CreateWebhook(ctx, c, req.GetUserId(), req.GetWebhook().GetUrl(), req.GetWebhook().GetSecret(), key)
	if err != nil {
		return nil, err
	}
	return &notifyv1.CreateWebhookResponse{Webhook: webhookProto(w, true)}, nil
}

// GetNotification implements notifyv1.NotifyServiceServer.
func (s *Server) GetNotification(ctx context.Context, req *notifyv1.GetNotificationRequest) (*notifyv1.GetNotificationResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.n.Get(ctx, c, req.GetNotificationId())
	if err != nil {
		return nil, err
	}
	return &notifyv1.GetNotificationResponse{Notification: notificationProto(n)}, nil
}

// DeleteWebhook implements notifyv1.NotifyServiceServer.
func (s *Server) DeleteWebhook(ctx context.Context, req *notifyv1.DeleteWebhookRequest) (*notifyv1.DeleteWebhookResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.n.DeleteWebhook(ctx, c, req.GetUserId(), req.GetWebhookId()); err != nil {
		return nil, err
	}
	return &notifyv1.DeleteWebhookResponse{}, nil
}

// DisableWebhook implements notifyv1.NotifyServiceServer.
func (s *Server) DisableWebhook(ctx context.Context, req *notifyv1.DisableWebhookRequest) (*notifyv1.DisableWebhookResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.n.DisableWebhook(ctx, c, req.GetUserId(), req.GetWebhookId())
	if err != nil {
		return nil, err
	}
	return &notifyv1.DisableWebhookResponse{Webhook: webhookProto(w, false)}, nil
}

// EnableWebhook implements notifyv1.NotifyServiceServer.
func (s *Server) EnableWebhook(ctx context.Context, req *notifyv1.EnableWebhookRequest) (*notifyv1.EnableWebhookResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.n.EnableWebhook(ctx, c, req.GetUserId(), req.GetWebhookId())
	if err != nil {
		return nil, err
	}
	return &notifyv1.EnableWebhookResponse{Webhook: webhookProto(w, false)}, nil
}

// RotateWebhookSecret implements notifyv1.NotifyServiceServer.
func (s *Server) RotateWebhookSecret(ctx context.Context, req *notifyv1.RotateWebhookSecretRequest) (*notifyv1.RotateWebhookSecretResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.n.RotateWebhookSecret(ctx, c, req.GetUserId(), req.GetWebhookId())
	if err != nil {
		return nil, err
	}
	return &notifyv1.RotateWebhookSecretResponse{Webhook: webhookProto(w, true)}, nil
}

// ListWebhooks implements notifyv1.NotifyServiceServer.
func (s *Server) ListWebhooks(ctx context.Context, req *notifyv1.ListWebhooksRequest) (*notifyv1.ListWebhooksResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.n.ListWebhooks(ctx, c, req.GetUserId())
	if err != nil {
		return nil, err
	}
	out := &notifyv1.ListWebhooksResponse{Webhooks: []*notifyv1.Webhook{}}
	for _, w := range list {
		out.Webhooks = append(out.Webhooks, webhookProto(w, false))
	}
	return out, nil
}

// ListWebhookDeliveries implements notifyv1.NotifyServiceServer.
func (s *Server) ListWebhookDeliveries(ctx context.Context, req *notifyv1.ListWebhookDeliveriesRequest) (*notifyv1.ListWebhookDeliveriesResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.n.ListDeliveries(ctx, c, req.GetUserId(), req.GetWebhookId())
	if err != nil {
		return nil, err
	}
	out := &notifyv1.ListWebhookDeliveriesResponse{Deliveries: []*notifyv1.WebhookDelivery{}}
	for _, d := range list {
		wd := &notifyv1.WebhookDelivery{
			Id: d.ID, WebhookId: d.WebhookID, NotificationId: d.NotificationID, Attempts: int32(d.Attempts),
			LastHttpStatus: int32(d.LastHTTPStatus), LastError: d.LastError, CreateTime: timestamppb.New(d.CreateTime),
		}
		switch d.Status {
		case app.DeliveryPending:
			wd.Status = notifyv1.DeliveryStatus_DELIVERY_STATUS_PENDING
			wd.NextAttemptTime = timestamppb.New(d.NextAttemptAt)
		case app.DeliveryDelivered:
			wd.Status = notifyv1.DeliveryStatus_DELIVERY_STATUS_DELIVERED
		case app.DeliveryFailed:
			wd.Status = notifyv1.DeliveryStatus_DELIVERY_STATUS_FAILED
		}
		if d.DeliverTime != nil {
			wd.DeliverTime = timestamppb.New(*d.DeliverTime)
		}
		out.Deliveries = append(out.Deliveries, wd)
	}
	return out, nil
}

// webhookProto is w for its owner; withSecret only in the answers that
// show the secret once (create, rotate).
func webhookProto(w app.Webhook, withSecret bool) *notifyv1.Webhook {
	out := &notifyv1.Webhook{Id: w.ID, UserId: w.UserID, Url: w.URL, CreateTime: timestamppb.New(w.CreateTime),
		State: notifyv1.WebhookState_WEBHOOK_STATE_ACTIVE}
	if withSecret {
		out.Secret = w.Secret
	}
	if w.Disabled {
		out.State = notifyv1.WebhookState_WEBHOOK_STATE_DISABLED
		out.DisableReason = disableReasons[w.DisableReason]
		if w.DisableTime != nil {
			out.DisableTime = timestamppb.New(*w.DisableTime)
		}
	}
	// prev_secret_until is set with prev_secret, and only with it; reads
	// that do not sign leave the (sealed) secrets out, so it alone tells.
	if w.PrevSecretUntil != nil {
		out.PreviousSecretExpireTime = timestamppb.New(*w.PrevSecretUntil)
	}
	return out
}

var disableReasons = map[string]notifyv1.WebhookDisableReason{
	app.DisabledByOwner: notifyv1.WebhookDisableReason_WEBHOOK_DISABLE_REASON_OWNER,
	app.DisabledGone:    notifyv1.WebhookDisableReason_WEBHOOK_DISABLE_REASON_GONE,
	app.DisabledFailing: notifyv1.WebhookDisableReason_WEBHOOK_DISABLE_REASON_FAILING,
}

var kinds = map[message.Kind]notifyv1.NotificationKind{
	message.MilestoneReached:      notifyv1.NotificationKind_NOTIFICATION_KIND_MILESTONE_REACHED,
	message.PlanCompleted:         notifyv1.NotificationKind_NOTIFICATION_KIND_PLAN_COMPLETED,
	message.SlipRecorded:          notifyv1.NotificationKind_NOTIFICATION_KIND_SLIP_RECORDED,
	message.ExContacted:           notifyv1.NotificationKind_NOTIFICATION_KIND_EX_CONTACTED,
	message.HighUrge:              notifyv1.NotificationKind_NOTIFICATION_KIND_HIGH_URGE,
	message.RiskFlagRaised:        notifyv1.NotificationKind_NOTIFICATION_KIND_RISK_FLAG_RAISED,
	message.RiskFlagEscalated:     notifyv1.NotificationKind_NOTIFICATION_KIND_RISK_FLAG_ESCALATED,
	message.ConsentChanged:        notifyv1.NotificationKind_NOTIFICATION_KIND_CONSENT_CHANGED,
	message.CareAssignmentChanged: notifyv1.NotificationKind_NOTIFICATION_KIND_CARE_ASSIGNMENT_CHANGED,
	message.CheckInReminder:       notifyv1.NotificationKind_NOTIFICATION_KIND_CHECK_IN_REMINDER,
	message.PromptOfTheDay:        notifyv1.NotificationKind_NOTIFICATION_KIND_PROMPT_OF_THE_DAY,
	message.HardDateAhead:         notifyv1.NotificationKind_NOTIFICATION_KIND_HARD_DATE_AHEAD,
	message.WebhookDisabled:       notifyv1.NotificationKind_NOTIFICATION_KIND_WEBHOOK_DISABLED,
}

func notificationProto(n inbox.Notification) *notifyv1.Notification {
	out := &notifyv1.Notification{
		Id: n.ID, UserId: n.UserID, Kind: kinds[n.Kind], Title: n.Title, Body: n.Body, Urgent: n.Urgent,
		CreateTime: timestamppb.New(n.CreateTime), DeliverTime: timestamppb.New(n.DeliverAt), ClientId: n.ClientID,
		PlanId: n.PlanID, MilestoneDay: int32(n.MilestoneDay), RiskFlagId: n.RiskFlagID, EventId: n.EventID,
	}
	if n.ReadTime != nil {
		out.ReadTime = timestamppb.New(*n.ReadTime)
	}
	return out
}

func prefsProto(p inbox.Preferences) *notifyv1.Preferences {
	out := &notifyv1.Preferences{
		UserId: p.UserID, TimeZone: p.TimeZone, QuietStart: p.QuietStart, QuietEnd: p.QuietEnd,
		CheckInReminderTime: p.CheckInReminderTime, PromptOfTheDayTime: p.PromptOfTheDayTime,
		DailyCap: int32(p.DailyCap), Discreet: p.Discreet, Channels: []notifyv1.Channel{notifyv1.Channel_CHANNEL_IN_APP},
	}
	if p.Webhook {
		out.Channels = append(out.Channels, notifyv1.Channel_CHANNEL_WEBHOOK)
	}
	if !p.UpdateTime.IsZero() {
		out.UpdateTime = timestamppb.New(p.UpdateTime)
	}
	return out
}

// BatchGetNotificationSummaries implements notifyv1.NotifyServiceServer.
func (s *Server) BatchGetNotificationSummaries(ctx context.Context, req *notifyv1.BatchGetNotificationSummariesRequest) (*notifyv1.BatchGetNotificationSummariesResponse, error) {
	c, err := app.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	sums, err := s.n.Summaries(ctx, c, req.GetClientIds())
	if err != nil {
		return nil, err
	}
	out := &notifyv1.BatchGetNotificationSummariesResponse{Summaries: []*notifyv1.NotificationSummary{}}
	for _, sum := range sums {
		p := &notifyv1.NotificationSummary{ClientId: sum.ClientID, Unread: int32(sum.Unread), UrgentUnread: sum.UrgentUnread}
		if sum.LatestTime != nil {
			p.LatestTime = timestamppb.New(*sum.LatestTime)
			p.LatestKind = kinds[sum.LatestKind]
		}
		out.Summaries = append(out.Summaries, p)
	}
	return out, nil
}
