package app

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/services/notify/internal/inbox"
)

// ExportService names notify's part of an export.
const ExportService = "notify"

// The files of notify's part (the fields of GetNotifyExportPartResponse).
const (
	ExportNotifications = "notifications"
	ExportPreferences   = "preferences"
	ExportWebhooks      = "webhooks"
)

// ExportSink receives notify's part, kind after kind in the order of the
// methods, in pages of at most exportpart.PageSize.
type ExportSink interface {
	Notifications([]inbox.Notification) error
	Preferences([]inbox.Preferences) error
	Webhooks([]Webhook) error
}

// Exports builds and serves notify's part of a client's export.
type Exports struct {
	n     *Notify
	parts *exportpart.Builder
}

// NewExports returns notify's export use cases; parts are kept in parts.
func (n *Notify) NewExports(parts *docstore.Store[exportpart.Part]) *Exports {
	e := &Exports{n: n}
	e.parts = exportpart.NewBuilder(ExportService, parts, n.clk, e.count).WithGuard(func(ctx context.Context, clientID string, create func() error) (bool, error) {
		// An erased client's part is never built (a replayed request).
		return n.erasure.Skip(ctx, clientID, create)
	})
	return e
}

// BuildPart builds the part an ExportRequested asks for (idempotent).
func (e *Exports) BuildPart(ctx context.Context, env *eventsv1.Envelope) error {
	return e.parts.Handle(ctx, env)
}

// Part sends notify's part of a ready export to sink: the client only (a
// counsellor or an admin is refused, the attempt recorded for the client's
// access log).
func (e *Exports) Part(ctx context.Context, c Caller, clientID, exportID string, sink ExportSink) error {
	if err := exportpart.OnlyTheClient(c, clientID); err != nil {
		if rerr := e.n.recordDenied(ctx, c, clientID, "exports", "GetNotifyExportPart"); rerr != nil {
			return rerr
		}
		return err
	}
	if _, err := e.parts.Open(ctx, c, clientID, exportID); err != nil {
		return err
	}
	return e.walk(ctx, clientID, sink)
}

func (e *Exports) count(ctx context.Context, clientID string) (map[string]int32, error) {
	n := notifyCounter{ExportNotifications: 0, ExportPreferences: 0, ExportWebhooks: 0}
	if err := e.walk(ctx, clientID, n); err != nil {
		return nil, err
	}
	return n, nil
}

// walk reads everything notify keeps for the user, kind after kind: every
// notification addressed to them (held ones too), the preferences they
// saved (none when they never changed the defaults) and their webhooks.
func (e *Exports) walk(ctx context.Context, userID string, sink ExportSink) error {
	// One query for every notification (the cursor fetches in batches),
	// passed on a page at a time.
	cur, err := e.n.notes.Find(ctx, bson.D{{Key: "user_id", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(exportpart.PageSize))
	if err != nil {
		return fmt.Errorf("export notifications: %w", err)
	}
	defer cur.Close(ctx)
	page := make([]inbox.Notification, 0, exportpart.PageSize)
	for cur.Next(ctx) {
		var row stored
		if err := cur.Decode(&row); err != nil {
			return fmt.Errorf("export notifications: %w", err)
		}
		if page = append(page, row.Notification); len(page) == exportpart.PageSize {
			if err := sink.Notifications(page); err != nil {
				return err
			}
			page = make([]inbox.Notification, 0, exportpart.PageSize)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("export notifications: %w", err)
	}
	if len(page) > 0 {
		if err := sink.Notifications(page); err != nil {
			return err
		}
	}
	var p inbox.Preferences
	err = e.n.prefs.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&p)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
	case err != nil:
		return fmt.Errorf("export preferences: %w", err)
	default:
		if err := sink.Preferences([]inbox.Preferences{p}); err != nil {
			return err
		}
	}
	hooks, err := e.n.ListWebhooks(ctx, Caller{ID: userID}, userID)
	if err != nil {
		return err
	}
	return exportpart.Pages(hooks, sink.Webhooks)
}

// notifyCounter counts what walk reads.
type notifyCounter map[string]int32

func (n notifyCounter) Notifications(x []inbox.Notification) error {
	n[ExportNotifications] += int32(len(x))
	return nil
}

func (n notifyCounter) Preferences(x []inbox.Preferences) error {
	n[ExportPreferences] += int32(len(x))
	return nil
}

func (n notifyCounter) Webhooks(x []Webhook) error {
	n[ExportWebhooks] += int32(len(x))
	return nil
}
