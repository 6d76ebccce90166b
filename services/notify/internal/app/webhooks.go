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
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/idempotency"
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
	// RequestHash is the fingerprint of the request that created it, when
	// it came with a request_id.
	RequestHash string `bson:"request_hash,omitempty"`
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
	// Lease is the token of the attempt in flight (empty: none). While it
	// is set, NextAttemptAt is when the lease runs out; the attempt's
	// result is written only where the token still matches.
	Lease string `bson:"lease,omitempty"`
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
	// slots holds one token per attempt in flight on this replica.
	slots chan struct{}
	// mu guards busy, the attempts in flight per webhook id, and makes a
	// claim and its count one step.
	mu   sync.Mutex
	busy map[string]int
}

// NewWebhooks builds the webhook sender. devMode allows plain HTTP to
// loopback receivers (a developer's machine); never in production.
func NewWebhooks(hooks, deliveries *mongo.Collection, devMode bool) *Webhooks {
	return &Webhooks{hooks: hooks, deliveries: deliveries, client: webhook.HTTPClient(devMode, webhook.AttemptTimeout),
		resolver: net.DefaultResolver, devMode: devMode, lease: webhook.Lease,
		slots: make(chan struct{}, webhook.MaxInFlight), busy: map[string]int{}}
}

// WithWebhooks turns webhook deliveries on.
func (n *Notify) WithWebhooks(w *Webhooks) *Notify {
	n.hooks = w
	return n
}

// CreateWebhook registers an endpoint for the caller and turns the webhook
// channel on. The URL must be HTTPS to a public address (server-side
// request forgery guard); the secret 32 to 256 characters.
func (n *Notify) CreateWebhook(ctx context.Context, c Caller, userID, url, secret string, key RequestKey) (Webhook, error) {
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
	w := Webhook{ID: "wh-" + uuid.NewString(), UserID: userID, URL: url, Secret: secret, CreateTime: n.now(), RequestHash: key.Hash}
	if key.ID != "" {
		// With a request_id the webhook's id is the key's: a retry, or a
		// replica racing the same request, finds the first one.
		w.ID = idempotency.ID("wh-", userID, key.ID)
		if first, done, err := n.hooks.sameRequest(ctx, w.ID, key); err != nil || done {
			if err == nil {
				err = n.webhookChannelOn(ctx, userID)
			}
			return first, err
		}
	}
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
		if key.ID != "" { // the same request on another replica won
			if first, done, err := n.hooks.sameRequest(ctx, w.ID, key); err != nil || done {
				if err == nil {
					err = n.webhookChannelOn(ctx, userID)
				}
				return first, err
			}
		}
		// Another replica took the place meanwhile: look again.
		if attempt == MaxWebhooks {
			return Webhook{}, apperr.Aborted("the webhooks changed while this one was being saved, please retry")
		}
	}
	if err := n.webhookChannelOn(ctx, userID); err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// webhookChannelOn turns the user's webhook channel on (idempotent).
func (n *Notify) webhookChannelOn(ctx context.Context, userID string) error {
	_, err := n.changePreferences(ctx, userID, "", func(p *inbox.Preferences) error {
		p.Webhook = true
		return nil
	})
	return err
}

// sameRequest looks for the webhook a request_id already made: done is
// true when there is one, with it when the request is the same, or
// idempotency.ErrReused when the request_id was used for another request.
func (w *Webhooks) sameRequest(ctx context.Context, id string, key RequestKey) (Webhook, bool, error) {
	var first Webhook
	err := w.hooks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&first)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Webhook{}, false, nil
	}
	if err != nil {
		return Webhook{}, false, fmt.Errorf("find webhook: %w", err)
	}
	if first.RequestHash == "" || first.RequestHash != key.Hash {
		return Webhook{}, true, idempotency.ErrReused
	}
	return first, true, nil
}

// RequestKey is a create's AIP-155 idempotency key (idempotency.Key).
type RequestKey = idempotency.Key

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
// recorded. It claims one delivery at a time (findOneAndUpdate: another
// replica cannot take the same one) and leases it from the clock of that
// claim; the attempts run concurrently, at most webhook.MaxInFlight on this
// replica and webhook.MaxInFlightPerWebhook to one webhook, so a slow
// receiver holds up nobody else. It goes on claiming while anything is due
// and returns when its own attempts have ended, with the number delivered.
// Passes may overlap (server.go starts one per tick): the bounds are the
// sender's, shared by all of them.
func (n *Notify) SendWebhooks(ctx context.Context) (int, error) {
	if n.hooks == nil {
		return 0, nil
	}
	w := n.hooks
	// Each attempt holds one of w.slots, so at most cap(w.slots) are ever
	// in flight and the sends below never block.
	results := make(chan attemptResult, cap(w.slots))
	inflight, sent := 0, 0
	var failed error
	for {
		for failed == nil && ctx.Err() == nil && w.takeAttemptSlot() {
			d, ok, err := n.claim(ctx)
			if err != nil || !ok {
				w.freeAttemptSlot()
				failed = err
				break
			}
			inflight++
			go func() { results <- n.attempt(ctx, d) }()
		}
		if inflight == 0 {
			return sent, failed
		}
		r := <-results
		inflight--
		if r.delivered {
			sent++
		}
		if r.err != nil && failed == nil {
			failed = r.err
		}
	}
}

type attemptResult struct {
	delivered bool
	err       error
}

func (w *Webhooks) takeAttemptSlot() bool {
	select {
	case w.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (w *Webhooks) freeAttemptSlot() { <-w.slots }

// claim takes the oldest due delivery whose webhook has room, leases it
// from the clock's now under a fresh token, and counts it against its
// webhook. The mutex makes the room check and the count one step for all
// the passes of this replica.
func (n *Notify) claim(ctx context.Context) (Delivery, bool, error) {
	w := n.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	now := n.now()
	filter := bson.D{{Key: "status", Value: DeliveryPending}, {Key: "next_attempt_at", Value: bson.D{{Key: "$lte", Value: now}}}}
	var full []string
	for id, c := range w.busy {
		if c >= webhook.MaxInFlightPerWebhook {
			full = append(full, id)
		}
	}
	if len(full) > 0 {
		filter = append(filter, bson.E{Key: "webhook_id", Value: bson.D{{Key: "$nin", Value: full}}})
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "next_attempt_at", Value: now.Add(w.lease)}, {Key: "lease", Value: uuid.NewString()}}},
		{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
	}
	var d Delivery
	err := w.deliveries.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().
		SetSort(bson.D{{Key: "next_attempt_at", Value: 1}}).SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Delivery{}, false, nil
	}
	if err != nil {
		return Delivery{}, false, fmt.Errorf("claim due delivery: %w", err)
	}
	w.busy[d.WebhookID]++
	return d, true, nil
}

// done gives back what claim took.
func (w *Webhooks) done(webhookID string) {
	w.mu.Lock()
	if w.busy[webhookID]--; w.busy[webhookID] <= 0 {
		delete(w.busy, webhookID)
	}
	w.mu.Unlock()
	w.freeAttemptSlot()
}

// attempt makes one claimed attempt and records its outcome, if the lease
// is still this attempt's (the write matches the claim's token): a result
// that comes back after another replica took the delivery over is dropped.
func (n *Notify) attempt(ctx context.Context, d Delivery) attemptResult {
	w := n.hooks
	defer w.done(d.WebhookID)
	leased := bson.D{{Key: "_id", Value: d.ID}, {Key: "lease", Value: d.Lease}}
	// The outcome is recorded even when shutdown cancels the pass: a POST
	// that went out must not be sent again for want of its record.
	record := func(set bson.D) (bool, error) {
		res, err := w.deliveries.UpdateOne(context.WithoutCancel(ctx), leased,
			bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "lease", Value: ""}}}})
		if err != nil {
			return false, fmt.Errorf("record delivery: %w", err)
		}
		if res.MatchedCount == 0 {
			n.log.WarnContext(ctx, "a webhook attempt ended after its lease was taken over; its result is dropped", "delivery", d.ID)
		}
		return res.MatchedCount == 1, nil
	}
	var h Webhook
	if err := w.hooks.FindOne(ctx, bson.D{{Key: "_id", Value: d.WebhookID}}).Decode(&h); err != nil {
		if !errors.Is(err, mongo.ErrNoDocuments) {
			// The lease runs out and a later pass tries again.
			return attemptResult{}
		}
		// The webhook is gone: nothing will ever take this delivery. End
		// it rather than claim it forever.
		ok, err := record(bson.D{{Key: "status", Value: DeliveryFailed}, {Key: "last_error", Value: "the webhook no longer exists"}})
		if ok && n.observe.WebhookAttempt != nil {
			n.observe.WebhookAttempt(WebhookFailed, 0)
		}
		return attemptResult{err: err}
	}
	// The signature carries the time of this attempt, and the POST starts
	// only with enough lease left to end within it.
	now := n.now()
	if d.NextAttemptAt.Sub(now) < webhook.MinLeaseLeft {
		return attemptResult{}
	}
	started := n.clk.Now()
	status, sendErr := w.post(ctx, h, d.Payload, now)
	elapsed := n.clk.Now().Sub(started)
	set := bson.D{{Key: "last_http_status", Value: status}}
	var outcome string
	switch {
	case sendErr == nil:
		set = append(set, bson.E{Key: "status", Value: DeliveryDelivered}, bson.E{Key: "deliver_time", Value: n.now()}, bson.E{Key: "last_error", Value: ""})
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
	ok, err := record(set)
	if !ok {
		return attemptResult{err: err}
	}
	// Counted only when recorded, so each delivery ends in exactly one
	// delivered or failed whatever the replicas did.
	if n.observe.WebhookAttempt != nil {
		n.observe.WebhookAttempt(outcome, elapsed)
	}
	return attemptResult{delivered: sendErr == nil}
}

// post sends one signed attempt; any non-2xx answer is a failure.
func (w *Webhooks) post(ctx context.Context, h Webhook, body []byte, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, webhook.AttemptTimeout)
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
