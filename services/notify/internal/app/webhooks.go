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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/platform/sealcodec"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/localtime"
	"github.com/nocontact/backend/services/notify/internal/message"
	"github.com/nocontact/backend/services/notify/internal/webhook"
)

// Webhook is a registered endpoint. The secret signs deliveries; it is
// never returned after its creation or rotation. Secret and PrevSecret are
// sealed at rest with the owner's keyset (SealedSpec).
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
	// PrevSecret still signs deliveries, next to Secret, until
	// PrevSecretUntil (a rotation's overlap).
	PrevSecret      string     `bson:"prev_secret,omitempty"`
	PrevSecretUntil *time.Time `bson:"prev_secret_until,omitempty"`
	// Disabled stops deliveries; DisableReason is one of the Disabled*
	// reasons.
	Disabled      bool       `bson:"disabled,omitempty"`
	DisableReason string     `bson:"disable_reason,omitempty"`
	DisableTime   *time.Time `bson:"disable_time,omitempty"`
	// FailingSince is the first failed attempt since the last delivered
	// one (unset: none failed since).
	FailingSince *time.Time `bson:"failing_since,omitempty"`
	// AutoDisables counts the server's disables; the owner's notice of the
	// k-th has an id of its own, so it is made once whatever the replicas.
	AutoDisables int `bson:"auto_disables,omitempty"`
	// NoticeDue is set by the server's disable, in the same write, and
	// cleared once the owner's notification is stored: a crash between
	// the two loses nothing (noticeOwners).
	NoticeDue bool `bson:"notice_due,omitempty"`

	// stored is the secret as stored (its ciphertext), for a write
	// conditioned on it.
	stored bson.RawValue
}

// SealedSpec names the webhook fields sealed at rest (issue 13): the
// secrets, with the keyset of the webhook's owner (user_id: a counsellor,
// an admin or a client, whoever registered it), bound to the webhook's id
// and the field. Nothing filters on them but RotateWebhookSecret's
// condition, which compares the stored ciphertext as read.
var SealedSpec = sealcodec.Spec{Collection: "webhooks", ClientField: "user_id", Paths: []string{"secret", "prev_secret"},
	Erased: "this user's data was erased: their webhooks can no longer be read or written"}

// Why a webhook is disabled.
const (
	DisabledByOwner = "owner"
	DisabledGone    = "gone"
	DisabledFailing = "failing"
)

// SecretOverlap is how long a rotated-out secret keeps signing deliveries.
const SecretOverlap = 24 * time.Hour

// secrets are the secrets that sign an attempt at now: the current one,
// and the previous one during its overlap.
func (h Webhook) secrets(now time.Time) []string {
	if h.PrevSecret != "" && h.PrevSecretUntil != nil && now.Before(*h.PrevSecretUntil) {
		return []string{h.Secret, h.PrevSecret}
	}
	return []string{h.Secret}
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
	hooks *mongo.Collection
	// sealed seals and opens the webhooks' secrets.
	sealed     *sealcodec.Codec
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

// NewWebhooks builds the webhook sender; keys seal the secrets at rest.
// devMode allows plain HTTP to loopback receivers (a developer's machine);
// never in production.
func NewWebhooks(hooks, deliveries *mongo.Collection, keys *fieldcrypt.Keyring, devMode bool) *Webhooks {
	spec := SealedSpec
	spec.Collection = hooks.Name()
	return &Webhooks{hooks: hooks, sealed: sealcodec.New(keys, spec), deliveries: deliveries, client: webhook.HTTPClient(devMode, webhook.AttemptTimeout),
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
// request forgery guard). The server generates the secret (webhook.NewSecret);
// the answer is the one place it is shown (and a retry of the same
// request_id). A secret in the request is refused: secrets chosen by hand
// are weak and get reused.
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
	if secret != "" {
		bad = append(bad, apperr.FieldViolation{Field: "webhook.secret",
			Description: "must be empty: the server generates the secret and returns it once, in this answer"})
	}
	if len(bad) > 0 {
		return Webhook{}, apperr.InvalidArgument(bad...)
	}
	w := Webhook{ID: "wh-" + uuid.NewString(), UserID: userID, URL: url, Secret: webhook.NewSecret(), CreateTime: n.now(), RequestHash: key.Hash}
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
		doc, err := n.hooks.sealed.Encode(ctx, w.ID, w)
		if err != nil {
			return Webhook{}, err
		}
		_, err = n.hooks.hooks.InsertOne(ctx, doc)
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
	first, err := w.findOne(ctx, id, true)
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
	cur, err := n.hooks.hooks.Find(ctx, bson.D{{Key: "user_id", Value: userID}}, options.Find().SetSort(bson.D{{Key: "create_time", Value: 1}}).SetProjection(noSecrets))
	if err != nil {
		return nil, err
	}
	var out []Webhook
	return out, cur.All(ctx, &out)
}

// noSecrets leaves the sealed secrets out of a read that does not sign:
// nothing is decrypted, and a webhook whose secret is damaged can still be
// listed, disabled or deleted by its owner.
var noSecrets = bson.D{{Key: "secret", Value: 0}, {Key: "prev_secret", Value: 0}}

// findOne reads the webhook id; withSecrets opens its secrets (the whole
// webhook, or DataLoss when one does not decrypt), otherwise they are not
// read. mongo.ErrNoDocuments when there is none.
func (w *Webhooks) findOne(ctx context.Context, id string, withSecrets bool) (Webhook, error) {
	if !withSecrets {
		var h Webhook
		err := w.hooks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(noSecrets)).Decode(&h)
		return h, err
	}
	raw, err := w.hooks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		return Webhook{}, err
	}
	return w.decode(ctx, raw)
}

func (w *Webhooks) decode(ctx context.Context, raw bson.Raw) (Webhook, error) {
	var h Webhook
	if err := w.sealed.Decode(ctx, raw, &h); err != nil {
		return Webhook{}, err
	}
	h.stored = raw.Lookup("secret")
	return h, nil
}

// Reseal re-encrypts, under each owner's current key, every webhook whose
// secrets are not all under it (after a RotateDEK; docstore.Reseal:
// idempotent, resumable, and a rotation or any other write in between is
// never lost: the re-seal's write is conditioned on the values it read).
func (w *Webhooks) Reseal(ctx context.Context, opts docstore.ResealOptions) (docstore.ResealResult, error) {
	return docstore.Reseal(ctx, w.hooks, w.sealed, opts)
}

// sealSecret is plain sealed as field of the webhook h (ids only).
func (w *Webhooks) sealSecret(ctx context.Context, h Webhook, field, plain string) (bson.Binary, error) {
	return w.sealed.SealValue(ctx, h.UserID, h.ID, field, plain)
}

// ListDeliveries lists a webhook's deliveries, newest first.
func (n *Notify) ListDeliveries(ctx context.Context, c Caller, userID, webhookID string) ([]Delivery, error) {
	if _, err := n.ownedWebhook(ctx, c, userID, webhookID, "ListWebhookDeliveries"); err != nil {
		return nil, err
	}
	cur, err := n.hooks.deliveries.Find(ctx, bson.D{{Key: "webhook_id", Value: webhookID}},
		options.Find().SetSort(bson.D{{Key: "create_time", Value: -1}}).SetLimit(100))
	if err != nil {
		return nil, err
	}
	var out []Delivery
	return out, cur.All(ctx, &out)
}

// ownedWebhook is the user's webhook webhookID, for the user only: anyone
// else's attempt, and the user's with another user's webhook id, is
// recorded as denied (in the webhook owner's log for the latter) and
// answered NotFound.
func (n *Notify) ownedWebhook(ctx context.Context, c Caller, userID, webhookID, action string) (Webhook, error) {
	notFound := apperr.NotFound("webhook %q not found", webhookID)
	if err := n.ownerOnly(ctx, c, userID, "webhook/"+webhookID, action, notFound); err != nil {
		return Webhook{}, err
	}
	if n.hooks == nil {
		return Webhook{}, notFound
	}
	h, err := n.hooks.findOne(ctx, webhookID, false)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Webhook{}, notFound
	} else if err != nil {
		return Webhook{}, fmt.Errorf("load webhook: %w", err)
	}
	if h.UserID != userID {
		// The caller's own route, another user's webhook: the attempt goes
		// into the webhook owner's access log.
		if err := n.recordDenied(ctx, c, h.UserID, "webhook/"+webhookID, action); err != nil {
			return Webhook{}, err
		}
		return Webhook{}, notFound
	}
	return h, nil
}

// DeleteWebhook deletes the user's webhook and its deliveries. An attempt
// in flight on a replica ends unrecorded; one enqueued meanwhile finds the
// webhook gone and is given up unsent (attempt).
func (n *Notify) DeleteWebhook(ctx context.Context, c Caller, userID, webhookID string) error {
	if _, err := n.ownedWebhook(ctx, c, userID, webhookID, "DeleteWebhook"); err != nil {
		return err
	}
	if _, err := n.hooks.hooks.DeleteOne(ctx, bson.D{{Key: "_id", Value: webhookID}, {Key: "user_id", Value: userID}}); err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if _, err := n.hooks.deliveries.DeleteMany(ctx, bson.D{{Key: "webhook_id", Value: webhookID}}); err != nil {
		return fmt.Errorf("delete webhook deliveries: %w", err)
	}
	return nil
}

// DisableWebhook stops deliveries to the user's webhook; its pending
// deliveries are given up when next due. Disabling a disabled webhook
// changes nothing (it keeps its reason).
func (n *Notify) DisableWebhook(ctx context.Context, c Caller, userID, webhookID string) (Webhook, error) {
	if _, err := n.ownedWebhook(ctx, c, userID, webhookID, "DisableWebhook"); err != nil {
		return Webhook{}, err
	}
	if _, err := n.hooks.hooks.UpdateOne(ctx, bson.D{{Key: "_id", Value: webhookID}, {Key: "disabled", Value: bson.D{{Key: "$ne", Value: true}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "disabled", Value: true}, {Key: "disable_reason", Value: DisabledByOwner}, {Key: "disable_time", Value: n.now()}}}}); err != nil {
		return Webhook{}, fmt.Errorf("disable webhook: %w", err)
	}
	if err := n.hooks.giveUpPending(ctx, webhookID); err != nil {
		return Webhook{}, err
	}
	return n.hooks.load(ctx, webhookID)
}

// giveUpPending ends a disabled webhook's waiting deliveries; one in
// flight ends at its next turn (attempt finds the webhook disabled).
func (w *Webhooks) giveUpPending(ctx context.Context, webhookID string) error {
	if _, err := w.deliveries.UpdateMany(ctx, bson.D{{Key: "webhook_id", Value: webhookID}, {Key: "status", Value: DeliveryPending},
		{Key: "lease", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: DeliveryFailed}, {Key: "last_error", Value: "the webhook is disabled"}}}}); err != nil {
		return fmt.Errorf("give up a disabled webhook's deliveries: %w", err)
	}
	return nil
}

// EnableWebhook resumes deliveries to the user's webhook, for
// notifications from now on, with a clean failure record.
func (n *Notify) EnableWebhook(ctx context.Context, c Caller, userID, webhookID string) (Webhook, error) {
	if _, err := n.ownedWebhook(ctx, c, userID, webhookID, "EnableWebhook"); err != nil {
		return Webhook{}, err
	}
	if _, err := n.hooks.hooks.UpdateOne(ctx, bson.D{{Key: "_id", Value: webhookID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "disabled", Value: false}}},
			{Key: "$unset", Value: bson.D{{Key: "disable_reason", Value: ""}, {Key: "disable_time", Value: ""}, {Key: "failing_since", Value: ""}}}}); err != nil {
		return Webhook{}, fmt.Errorf("enable webhook: %w", err)
	}
	return n.hooks.load(ctx, webhookID)
}

// RotateWebhookSecret gives the user's webhook a new secret, returned
// this once; the current one keeps signing deliveries, as a second
// signature, for SecretOverlap. The write is conditioned on the secret it
// replaces, so of two rotations at once each keeps the secret the other
// returned as the previous one, or tries again: none is lost unseen.
func (n *Notify) RotateWebhookSecret(ctx context.Context, c Caller, userID, webhookID string) (Webhook, error) {
	h, err := n.ownedSecrets(ctx, c, userID, webhookID)
	if err != nil {
		return Webhook{}, err
	}
	for range 5 {
		n.race.run(n.race.secretRead, webhookID)
		fresh, until := webhook.NewSecret(), n.now().Add(SecretOverlap)
		sealedFresh, err := n.hooks.sealSecret(ctx, h, "secret", fresh)
		if err != nil {
			return Webhook{}, err
		}
		sealedPrev, err := n.hooks.sealSecret(ctx, h, "prev_secret", h.Secret)
		if err != nil {
			return Webhook{}, err
		}
		// Conditioned on the secret's ciphertext as read: a rotation in
		// between wrote another one.
		res, err := n.hooks.hooks.UpdateOne(ctx, bson.D{{Key: "_id", Value: webhookID}, {Key: "secret", Value: h.stored}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "secret", Value: sealedFresh}, {Key: "prev_secret", Value: sealedPrev}, {Key: "prev_secret_until", Value: until}}}})
		if err != nil {
			return Webhook{}, fmt.Errorf("rotate webhook secret: %w", err)
		}
		if res.MatchedCount == 1 {
			h.Secret, h.PrevSecret, h.PrevSecretUntil = fresh, h.Secret, &until
			return h, nil
		}
		// Rotated meanwhile (or deleted): read again.
		if h, err = n.ownedSecrets(ctx, c, userID, webhookID); err != nil {
			return Webhook{}, err
		}
	}
	return Webhook{}, apperr.Aborted("the webhook's secret changed while it was being rotated, please retry")
}

// ownedSecrets is ownedWebhook for a rotation, with the secrets opened: a
// secret that does not decrypt fails it with DataLoss (ids only).
func (n *Notify) ownedSecrets(ctx context.Context, c Caller, userID, webhookID string) (Webhook, error) {
	if _, err := n.ownedWebhook(ctx, c, userID, webhookID, "RotateWebhookSecret"); err != nil {
		return Webhook{}, err
	}
	h, err := n.hooks.findOne(ctx, webhookID, true)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Webhook{}, apperr.NotFound("webhook %q not found", webhookID)
	}
	return h, err
}

// load reads one webhook (without its secrets).
func (w *Webhooks) load(ctx context.Context, id string) (Webhook, error) {
	h, err := w.findOne(ctx, id, false)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Webhook{}, apperr.NotFound("webhook %q not found", id)
	} else if err != nil {
		return Webhook{}, fmt.Errorf("load webhook: %w", err)
	}
	return h, nil
}

// undecryptable reports an error of a webhook whose secrets will never
// open: damaged or moved ciphertext, a lost keyset, an erased owner.
func undecryptable(err error) bool {
	return errors.Is(err, fieldcrypt.ErrOpen) || errors.Is(err, fieldcrypt.ErrUnwrap) || errors.Is(err, fieldcrypt.ErrDestroyed)
}

// EventNotificationCreated is the type of every delivery's payload.
const EventNotificationCreated = "notification.created"

// payload is what a receiver gets, in the Standard Webhooks shape (type,
// timestamp, data): ids, the kind as the API spells it, times, and where
// to read the notification. Never its text: a webhook leaves the platform
// and is retried for days, so it cannot be called back when a client
// revokes consent, and its text may name health data. The receiver reads
// the notification through the API (GetNotification) with the user's
// token, where consent is checked at that moment (care.go).
type payload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      payloadData `json:"data"`
}

type payloadData struct {
	NotificationID string    `json:"notificationId"`
	UserID         string    `json:"userId"`
	Kind           string    `json:"kind"`
	Urgent         bool      `json:"urgent"`
	CreateTime     time.Time `json:"createTime"`
	// URL is the notification's API path, relative to the API's base URL.
	URL string `json:"url"`
}

// KindName is how the API spells a kind: "consent_changed" is
// NOTIFICATION_KIND_CONSENT_CHANGED.
func KindName(k message.Kind) string { return "NOTIFICATION_KIND_" + strings.ToUpper(string(k)) }

// webhookPayload is what the receiver gets for note.
func webhookPayload(note inbox.Notification) payload {
	return payload{Type: EventNotificationCreated, Timestamp: note.CreateTime, Data: payloadData{
		NotificationID: note.ID, UserID: note.UserID, Kind: KindName(note.Kind), Urgent: note.Urgent,
		CreateTime: note.CreateTime, URL: "/v1/notifications/" + note.ID,
	}}
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
		if h.Disabled {
			continue
		}
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
	// Notices a replica did not finish (it stopped between a disable and
	// the owner's notification).
	if err := n.noticeOwners(ctx, bson.D{}); err != nil {
		return 0, err
	}
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
//
// What the receiver answers decides what follows: 2xx, delivered; 410 Gone,
// the delivery is given up and the webhook disabled; 429, 502, 503 and 504
// slow the webhook down (this delivery and its others wait at least the
// receiver's Retry-After, within bounds); anything else waits its turn on
// webhook.Schedule. A webhook whose every attempt has failed for
// webhook.FailingFor is disabled. The server's disables tell the owner.
func (n *Notify) attempt(ctx context.Context, d Delivery) attemptResult {
	w := n.hooks
	defer w.done(d.WebhookID)
	leased := bson.D{{Key: "_id", Value: d.ID}, {Key: "lease", Value: d.Lease}}
	// The outcome is recorded even when shutdown cancels the pass: a POST
	// that went out must not be sent again for want of its record.
	bg := context.WithoutCancel(ctx)
	record := func(set bson.D) (bool, error) {
		res, err := w.deliveries.UpdateOne(bg, leased,
			bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "lease", Value: ""}}}})
		if err != nil {
			return false, fmt.Errorf("record delivery: %w", err)
		}
		if res.MatchedCount == 0 {
			n.log.WarnContext(ctx, "a webhook attempt ended after its lease was taken over; its result is dropped", "delivery", d.ID)
		}
		return res.MatchedCount == 1, nil
	}
	giveUp := func(reason string) attemptResult {
		ok, err := record(bson.D{{Key: "status", Value: DeliveryFailed}, {Key: "last_error", Value: reason}})
		if ok && n.observe.WebhookAttempt != nil {
			n.observe.WebhookAttempt(WebhookFailed, 0)
		}
		return attemptResult{err: err}
	}
	h, err := w.findOne(ctx, d.WebhookID, true)
	if err != nil {
		if undecryptable(err) {
			// Its secret will never open (damaged, or its owner erased):
			// nothing can sign this delivery.
			return giveUp("the webhook's secret cannot be read")
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			// The lease runs out and a later pass tries again.
			return attemptResult{}
		}
		// The webhook is gone: nothing will ever take this delivery. End
		// it rather than claim it forever.
		return giveUp("the webhook no longer exists")
	}
	if h.Disabled {
		return giveUp("the webhook is disabled")
	}
	// The signature carries the time of this attempt, and the POST starts
	// only with enough lease left to end within it.
	now := n.now()
	if d.NextAttemptAt.Sub(now) < webhook.MinLeaseLeft {
		return attemptResult{}
	}
	started := n.clk.Now()
	status, retryAfter, sendErr := w.post(ctx, h, d, now)
	elapsed := n.clk.Now().Sub(started)
	set := bson.D{{Key: "last_http_status", Value: status}}
	var (
		outcome string
		disable string        // the server disables the webhook, for this reason
		slow    time.Duration // the webhook's other deliveries wait this long too
	)
	switch {
	case sendErr == nil:
		set = append(set, bson.E{Key: "status", Value: DeliveryDelivered}, bson.E{Key: "deliver_time", Value: n.now()}, bson.E{Key: "last_error", Value: ""})
		outcome = WebhookDelivered
	case status == http.StatusGone:
		set = append(set, bson.E{Key: "status", Value: DeliveryFailed},
			bson.E{Key: "last_error", Value: "the receiver answered HTTP 410 Gone; the webhook was disabled"})
		outcome, disable = WebhookFailed, DisabledGone
	case d.Attempts >= webhook.MaxAttempts:
		set = append(set, bson.E{Key: "status", Value: DeliveryFailed}, bson.E{Key: "last_error", Value: sendErr.Error()})
		outcome = WebhookFailed
	default:
		delay := webhook.Backoff(d.Attempts, func(m int64) int64 { return rand.Int64N(max(m, 1)) })
		if webhook.SlowDown(status) {
			if ra, ok := webhook.RetryAfter(retryAfter, n.now()); ok && ra > delay {
				delay = ra
			}
			slow = delay
		}
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
	if err := n.afterAttempt(bg, h, sendErr == nil, disable, slow); err != nil {
		return attemptResult{delivered: sendErr == nil, err: err}
	}
	return attemptResult{delivered: sendErr == nil}
}

// afterAttempt brings the webhook up to date with a recorded attempt: a
// success clears its failure record; a failure starts it (the first since
// a success) and disables the webhook once it has failed for
// webhook.FailingFor; a slow-down pushes its other waiting deliveries back.
// Each write is conditioned on what it changes, so replicas recording at
// once agree: one failure record, one disable, one notice.
func (n *Notify) afterAttempt(ctx context.Context, h Webhook, delivered bool, disable string, slow time.Duration) error {
	w := n.hooks
	now := n.now()
	if delivered {
		if h.FailingSince == nil {
			return nil
		}
		_, err := w.hooks.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.ID}}, bson.D{{Key: "$unset", Value: bson.D{{Key: "failing_since", Value: ""}}}})
		return err
	}
	if _, err := w.hooks.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.ID}, {Key: "failing_since", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "failing_since", Value: now}}}}); err != nil {
		return fmt.Errorf("record webhook failure: %w", err)
	}
	if slow > 0 {
		// Deliveries in flight keep their lease; the others wait.
		until := now.Add(slow)
		if _, err := w.deliveries.UpdateMany(ctx, bson.D{{Key: "webhook_id", Value: h.ID}, {Key: "status", Value: DeliveryPending},
			{Key: "lease", Value: bson.D{{Key: "$exists", Value: false}}}, {Key: "next_attempt_at", Value: bson.D{{Key: "$lt", Value: until}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "next_attempt_at", Value: until}}}}); err != nil {
			return fmt.Errorf("slow webhook down: %w", err)
		}
	}
	filter := bson.D{{Key: "_id", Value: h.ID}, {Key: "disabled", Value: bson.D{{Key: "$ne", Value: true}}}}
	switch {
	case disable != "":
	case h.FailingSince != nil && !now.Before(h.FailingSince.Add(webhook.FailingFor)):
		// Only while no success came in between (it unsets failing_since).
		disable = DisabledFailing
		filter = append(filter, bson.E{Key: "failing_since", Value: bson.D{{Key: "$lte", Value: now.Add(-webhook.FailingFor)}}})
	default:
		return nil
	}
	n.race.run(n.race.webhookDisabling, h.ID)
	res, err := w.hooks.UpdateOne(ctx, filter, bson.D{
		{Key: "$set", Value: bson.D{{Key: "disabled", Value: true}, {Key: "disable_reason", Value: disable}, {Key: "disable_time", Value: now}, {Key: "notice_due", Value: true}}},
		{Key: "$inc", Value: bson.D{{Key: "auto_disables", Value: 1}}}})
	if err != nil {
		return fmt.Errorf("disable webhook: %w", err)
	}
	if res.MatchedCount == 0 {
		return nil // disabled already, or it recovered
	}
	n.log.InfoContext(ctx, "a webhook was disabled", "webhook", h.ID, "reason", disable)
	if err := w.giveUpPending(ctx, h.ID); err != nil {
		return err
	}
	return n.noticeOwners(ctx, bson.D{{Key: "_id", Value: h.ID}})
}

// noticeOwners tells the owner of every webhook the server disabled (in
// filter, with a notice due) in their inbox, once per disable: the
// notification's id is the disable's, so replicas and retries store it
// once; the mark is cleared after, so a crash between the two only repeats
// the (idempotent) insert on the next pass.
func (n *Notify) noticeOwners(ctx context.Context, filter bson.D) error {
	w := n.hooks
	cur, err := w.hooks.Find(ctx, append(filter, bson.E{Key: "notice_due", Value: true}), options.Find().SetLimit(100).SetProjection(noSecrets))
	if err != nil {
		return fmt.Errorf("find webhook notices: %w", err)
	}
	var due []Webhook
	if err := cur.All(ctx, &due); err != nil {
		return fmt.Errorf("find webhook notices: %w", err)
	}
	for _, h := range due {
		prefs, err := n.preferences(ctx, h.UserID, "")
		if err != nil {
			return err
		}
		now := n.now()
		event := "webhook-disabled:" + h.ID + ":" + strconv.Itoa(h.AutoDisables)
		title, body := message.Compose(message.WebhookDisabled, message.Client, prefs.Discreet, message.Data{})
		note := inbox.Notification{ID: inbox.ID(event, h.UserID, message.WebhookDisabled), UserID: h.UserID, Kind: message.WebhookDisabled,
			Title: title, Body: body, EventID: event, CreateTime: now, DeliverAt: now, Delivered: true,
			DeliverDate: localtime.LocalDate(now, prefs.Location())}
		created, err := n.insert(ctx, note)
		if err != nil {
			return err
		}
		if created {
			n.announce(note.UserID, note.ID)
		}
		if err := n.enqueue(ctx, note); err != nil { // to the user's other webhooks
			return err
		}
		if _, err := w.hooks.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.ID}, {Key: "auto_disables", Value: h.AutoDisables}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "notice_due", Value: ""}}}}); err != nil {
			return fmt.Errorf("clear webhook notice: %w", err)
		}
	}
	return nil
}

// post sends one signed attempt of d; any non-2xx answer is a failure. It
// answers the HTTP status and the receiver's Retry-After.
func (w *Webhooks) post(ctx context.Context, h Webhook, d Delivery, now time.Time) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, webhook.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, "", errors.New("the webhook URL is not valid")
	}
	req.Header = webhook.Headers(d.ID, now, d.Payload, h.secrets(now)...)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "nocontact-webhooks/1")
	resp, err := w.client.Do(req)
	if errors.Is(err, webhook.ErrForbiddenAddress) {
		// The dialer's guard refused the address (DNS may have changed
		// since registration): say so, without the address.
		return 0, "", webhook.ErrForbiddenAddress
	}
	if err != nil {
		return 0, "", errors.New("the receiver could not be reached")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, resp.Header.Get("Retry-After"), fmt.Errorf("the receiver answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, "", nil
}
