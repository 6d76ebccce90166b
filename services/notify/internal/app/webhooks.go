package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
	"github.com/nocontact/backend/services/notify/internal/webhook"
)

// Webhook is a registered endpoint. The secret signs deliveries; it is
// never returned. (Production should encrypt it at rest with a KMS key.)
type Webhook struct {
	ID         string    `bson:"_id"`
	UserID     string    `bson:"user_id"`
	URL        string    `bson:"url"`
	Secret     string    `bson:"secret"`
	CreateTime time.Time `bson:"create_time"`
	// Slot is "<user id>/<k>", k one of the user's MaxWebhooks places,
	// under a unique index: two replicas creating at once cannot both take
	// the last one. (Webhooks from before slots have none.)
	Slot string `bson:"slot,omitempty"`
}

// MaxWebhooks is how many webhooks a user may register.
const MaxWebhooks = 5

// Delivery is one notification sent (or being sent) to one webhook.
type Delivery struct {
	ID             string     `bson:"_id"`
	WebhookID      string     `bson:"webhook_id"`
	UserID         string     `bson:"user_id"`
	NotificationID string     `bson:"notification_id"`
	Payload        []byte     `bson:"payload"`
	Status         string     `bson:"status"` // pending, delivered, failed
	Attempts       int        `bson:"attempts"`
	NextAttemptAt  time.Time  `bson:"next_attempt_at"`
	LastHTTPStatus int        `bson:"last_http_status"`
	LastError      string     `bson:"last_error,omitempty"`
	DeliverTime    *time.Time `bson:"deliver_time,omitempty"`
	CreateTime     time.Time  `bson:"create_time"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Outcomes of one delivery attempt, as Observers.WebhookAttempt reports
// them (platform/metrics uses the same strings). Every attempt has exactly
// one, so each delivery ends in one WebhookDelivered or one WebhookFailed.
const (
	// WebhookDelivered: the receiver answered 2xx.
	WebhookDelivered = "delivered"
	// WebhookRetry: the attempt failed; another one is scheduled.
	WebhookRetry = "retry"
	// WebhookRefused: the SSRF guard refused the address the host now
	// resolves to, nothing was sent; another attempt is scheduled.
	WebhookRefused = "refused"
	// WebhookFailed: the last attempt failed, whatever the reason; the
	// delivery is given up.
	WebhookFailed = "failed"
)

// Webhooks sends notifications to users' signed webhooks, in its own loop:
// a slow or failing receiver never holds up event consumption.
type Webhooks struct {
	hooks      *mongo.Collection
	deliveries *mongo.Collection
	client     *http.Client
	resolver   webhook.Resolver
	devMode    bool
	// lease is how long a claimed attempt is invisible to other replicas.
	lease time.Duration
}

// NewWebhooks builds the webhook sender. devMode allows plain HTTP to
// loopback receivers (a developer's machine); never in production.
func NewWebhooks(hooks, deliveries *mongo.Collection, devMode bool) *Webhooks {
	return &Webhooks{hooks: hooks, deliveries: deliveries, client: webhook.HTTPClient(devMode, 10*time.Second),
		resolver: net.DefaultResolver, devMode: devMode, lease: time.Minute}
}

// WithWebhooks turns webhook deliveries on.
func (n *Notify) WithWebhooks(w *Webhooks) *Notify {
	n.hooks = w
	return n
}

// CreateWebhook registers an endpoint for the caller and turns the webhook
// channel on. The URL must be HTTPS to a public address (server-side
// request forgery guard); the secret 32 to 256 characters.
func (n *Notify) CreateWebhook(ctx context.Context, c Caller, userID, url, secret string) (Webhook, error) {
	if err := n.ownerOnly(ctx, c, userID, "webhooks", "CreateWebhook", apperr.NotFound("user %q not found", userID)); err != nil {
		return Webhook{}, err
	}
	if n.hooks == nil {
		return Webhook{}, apperr.FailedPrecondition("webhooks are not enabled on this server")
	}
	var bad []apperr.FieldViolation
	if err := webhook.CheckURL(ctx, url, n.hooks.devMode, n.hooks.resolver); err != nil {
		bad = append(bad, apperr.FieldViolation{Field: "webhook.url", Description: err.Error()})
	}
	if l := utf8.RuneCountInString(secret); l < 32 || l > 256 {
		bad = append(bad, apperr.FieldViolation{Field: "webhook.secret", Description: "must be 32 to 256 characters"})
	}
	if len(bad) > 0 {
		return Webhook{}, apperr.InvalidArgument(bad...)
	}
	w := Webhook{ID: "wh-" + uuid.NewString(), UserID: userID, URL: url, Secret: secret, CreateTime: n.now()}
	for attempt := 0; ; attempt++ {
		slot, ok, err := n.hooks.freeSlot(ctx, userID)
		if err != nil {
			return Webhook{}, err
		}
		if !ok {
			return Webhook{}, apperr.FailedPrecondition("at most %d webhooks per user", MaxWebhooks)
		}
		n.race.run(n.race.webhookCounted, userID)
		w.Slot = slot
		_, err = n.hooks.hooks.InsertOne(ctx, w)
		if err == nil {
			break
		}
		if !mongo.IsDuplicateKeyError(err) {
			return Webhook{}, fmt.Errorf("store webhook: %w", err)
		}
		// Another replica took the place meanwhile: look again.
		if attempt == MaxWebhooks {
			return Webhook{}, apperr.Aborted("the webhooks changed while this one was being saved, please retry")
		}
	}
	if _, err := n.changePreferences(ctx, userID, "", func(p *inbox.Preferences) error {
		p.Webhook = true
		return nil
	}); err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// freeSlot is the first of the user's MaxWebhooks places no webhook
// holds, or false when every one is taken. Webhooks without a place (from
// before places) count, and hold the lowest ones.
func (w *Webhooks) freeSlot(ctx context.Context, userID string) (string, bool, error) {
	cur, err := w.hooks.Find(ctx, bson.D{{Key: "user_id", Value: userID}}, options.Find().SetProjection(bson.D{{Key: "slot", Value: 1}}))
	if err != nil {
		return "", false, fmt.Errorf("list webhooks: %w", err)
	}
	var held []struct {
		Slot string `bson:"slot"`
	}
	if err := cur.All(ctx, &held); err != nil {
		return "", false, fmt.Errorf("list webhooks: %w", err)
	}
	taken, unplaced := map[string]bool{}, 0
	for _, h := range held {
		if h.Slot == "" {
			unplaced++
		}
		taken[h.Slot] = true
	}
	for k := unplaced; k < MaxWebhooks && len(held) < MaxWebhooks; k++ {
		if slot := fmt.Sprintf("%s/%d", userID, k); !taken[slot] {
			return slot, true, nil
		}
	}
	return "", false, nil
}

// ListWebhooks lists the caller's webhooks.
func (n *Notify) ListWebhooks(ctx context.Context, c Caller, userID string) ([]Webhook, error) {
	if err := n.ownerOnly(ctx, c, userID, "webhooks", "ListWebhooks", apperr.NotFound("user %q not found", userID)); err != nil {
		return nil, err
	}
	if n.hooks == nil {
		return nil, nil
	}
	cur, err := n.hooks.hooks.Find(ctx, bson.D{{Key: "user_id", Value: userID}}, options.Find().SetSort(bson.D{{Key: "create_time", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var out []Webhook
	return out, cur.All(ctx, &out)
}

// ListDeliveries lists a webhook's deliveries, newest first.
func (n *Notify) ListDeliveries(ctx context.Context, c Caller, userID, webhookID string) ([]Delivery, error) {
	notFound := apperr.NotFound("webhook %q not found", webhookID)
	const action = "ListWebhookDeliveries"
	if err := n.ownerOnly(ctx, c, userID, "webhook/"+webhookID, action, notFound); err != nil {
		return nil, err
	}
	if n.hooks == nil {
		return nil, notFound
	}
	var h Webhook
	if err := n.hooks.hooks.FindOne(ctx, bson.D{{Key: "_id", Value: webhookID}}).Decode(&h); errors.Is(err, mongo.ErrNoDocuments) {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	if h.UserID != userID {
		// The caller's own route, another user's webhook: the attempt goes
		// into the webhook owner's access log.
		if err := n.recordDenied(ctx, c, h.UserID, "webhook/"+webhookID, action); err != nil {
			return nil, err
		}
		return nil, notFound
	}
	cur, err := n.hooks.deliveries.Find(ctx, bson.D{{Key: "webhook_id", Value: webhookID}},
		options.Find().SetSort(bson.D{{Key: "create_time", Value: -1}}).SetLimit(100))
	if err != nil {
		return nil, err
	}
	var out []Delivery
	return out, cur.All(ctx, &out)
}

// payload is what a receiver gets: the notification, never more.
type payload struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	Urgent     bool      `json:"urgent"`
	CreateTime time.Time `json:"createTime"`
	PlanID     string    `json:"planId,omitempty"`
	ClientID   string    `json:"clientId,omitempty"`
}

// webhookPayload is what the receiver gets for note. A counsellor's
// notification that shows a client's data (a consented scope) goes out
// thin: its id and kind with neutral text, no client, plan or figures. A
// webhook leaves the platform and is retried for a while, so it cannot be
// called back when the client revokes consent; the receiver reads the
// notification through the API with the counsellor's token, where the
// consent is checked at that moment (care.go).
func webhookPayload(note inbox.Notification) payload {
	if aboutClientData(note) {
		title, body := message.Compose(note.Kind, message.Counsellor, true, message.Data{})
		return payload{ID: note.ID, Kind: string(note.Kind), Title: title, Body: body, Urgent: note.Urgent, CreateTime: note.CreateTime}
	}
	return payload{ID: note.ID, Kind: string(note.Kind), Title: note.Title, Body: note.Body, Urgent: note.Urgent,
		CreateTime: note.CreateTime, PlanID: note.PlanID, ClientID: note.ClientID}
}

// enqueue creates one delivery per webhook of the user, once (its id is
// the pair's), when the user has the webhook channel on.
func (n *Notify) enqueue(ctx context.Context, note inbox.Notification) error {
	if n.hooks == nil {
		return nil
	}
	p, err := n.preferences(ctx, note.UserID, "")
	if err != nil || !p.Webhook {
		return err
	}
	hooks, err := n.ListWebhooks(ctx, Caller{ID: note.UserID}, note.UserID)
	if err != nil || len(hooks) == 0 {
		return err
	}
	body, err := json.Marshal(webhookPayload(note))
	if err != nil {
		return err
	}
	now := n.now()
	for _, h := range hooks {
		sum := sha256.Sum256([]byte(note.ID + "\x00" + h.ID))
		d := Delivery{ID: "dl-" + hex.EncodeToString(sum[:16]), WebhookID: h.ID, UserID: note.UserID, NotificationID: note.ID,
			Payload: body, Status: DeliveryPending, NextAttemptAt: now, CreateTime: now}
		if _, err := n.hooks.deliveries.InsertOne(ctx, d); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("enqueue webhook delivery: %w", err)
		}
	}
	return nil
}

// SendWebhooks makes the due delivery attempts: signed POSTs, retried with
// exponential backoff and jitter up to webhook.MaxAttempts, each outcome
// recorded. An attempt is claimed first (version check on the attempt
// count), so two replicas never send the same attempt.
func (n *Notify) SendWebhooks(ctx context.Context) (int, error) {
	if n.hooks == nil {
		return 0, nil
	}
	now := n.now()
	cur, err := n.hooks.deliveries.Find(ctx, bson.D{{Key: "status", Value: DeliveryPending}, {Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetLimit(50))
	if err != nil {
		return 0, fmt.Errorf("find due deliveries: %w", err)
	}
	var due []Delivery
	if err := cur.All(ctx, &due); err != nil {
		return 0, err
	}
	sent := 0
	for _, d := range due {
		claim, err := n.hooks.deliveries.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: d.ID}, {Key: "status", Value: DeliveryPending}, {Key: "attempts", Value: d.Attempts}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "attempts", Value: d.Attempts + 1}, {Key: "next_attempt_at", Value: now.Add(n.hooks.lease)}}}})
		if err != nil || claim.ModifiedCount != 1 {
			continue
		}
		d.Attempts++
		var h Webhook
		if err := n.hooks.hooks.FindOne(ctx, bson.D{{Key: "_id", Value: d.WebhookID}}).Decode(&h); err != nil {
			if errors.Is(err, mongo.ErrNoDocuments) {
				// The webhook is gone: nothing will ever take this
				// delivery. End it rather than claim it forever.
				if _, err := n.hooks.deliveries.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: DeliveryFailed}, {Key: "last_error", Value: "the webhook no longer exists"}}}}); err != nil {
					return sent, fmt.Errorf("record delivery: %w", err)
				}
				if n.observe.WebhookAttempt != nil {
					n.observe.WebhookAttempt(WebhookFailed, 0)
				}
			}
			// Any other error: the lease runs out and the next pass tries again.
			continue
		}
		started := n.clk.Now()
		status, sendErr := n.hooks.post(ctx, h, d.Payload, now)
		elapsed := n.clk.Now().Sub(started)
		set := bson.D{{Key: "last_http_status", Value: status}}
		var outcome string
		switch {
		case sendErr == nil:
			set = append(set, bson.E{Key: "status", Value: DeliveryDelivered}, bson.E{Key: "deliver_time", Value: n.now()}, bson.E{Key: "last_error", Value: ""})
			sent++
			outcome = WebhookDelivered
		case d.Attempts >= webhook.MaxAttempts:
			set = append(set, bson.E{Key: "status", Value: DeliveryFailed}, bson.E{Key: "last_error", Value: sendErr.Error()})
			outcome = WebhookFailed
		default:
			delay := webhook.Backoff(d.Attempts, func(m int64) int64 { return rand.Int64N(max(m, 1)) })
			set = append(set, bson.E{Key: "next_attempt_at", Value: n.now().Add(delay)}, bson.E{Key: "last_error", Value: sendErr.Error()})
			outcome = WebhookRetry
			if errors.Is(sendErr, webhook.ErrForbiddenAddress) {
				outcome = WebhookRefused
			}
		}
		if n.observe.WebhookAttempt != nil {
			n.observe.WebhookAttempt(outcome, elapsed)
		}
		if _, err := n.hooks.deliveries.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil {
			return sent, fmt.Errorf("record delivery: %w", err)
		}
	}
	return sent, nil
}

// post sends one signed attempt; any non-2xx answer is a failure.
func (w *Webhooks) post(ctx context.Context, h Webhook, body []byte, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("the webhook URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "nocontact-webhooks/1")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign([]byte(h.Secret), now, body))
	resp, err := w.client.Do(req)
	if errors.Is(err, webhook.ErrForbiddenAddress) {
		// The dialer's guard refused the address (DNS may have changed
		// since registration): say so, without the address.
		return 0, webhook.ErrForbiddenAddress
	}
	if err != nil {
		return 0, errors.New("the receiver could not be reached")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the receiver answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
