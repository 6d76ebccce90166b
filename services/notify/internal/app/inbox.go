package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/localtime"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// Page is one page of the inbox.
type Page struct {
	Notifications []inbox.Notification
	Next          string
	Unread        int
}

func delivered(userID string) bson.D {
	return bson.D{{Key: "user_id", Value: userID}, {Key: "delivered", Value: true}}
}

// List lists the caller's delivered notifications, newest first.
func (n *Notify) List(ctx context.Context, c Caller, unreadOnly bool, pageSize int, token string) (Page, error) {
	skip := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if skip, err = strconv.Atoi(string(b)); err != nil || skip < 0 || skip > 100000 {
			return Page{}, apperr.InvalidArgument(apperr.FieldViolation{Field: "page_token", Description: "is not a token from a previous page"})
		}
	}
	size := pageSize
	if size <= 0 {
		size = 20
	}
	filter := delivered(c.ID)
	if unreadOnly {
		filter = append(filter, bson.E{Key: "read_time", Value: bson.D{{Key: "$exists", Value: false}}})
	}
	cur, err := n.notes.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "deliver_at", Value: -1}, {Key: "_id", Value: 1}}).SetSkip(int64(skip)).SetLimit(int64(size+1)))
	if err != nil {
		return Page{}, fmt.Errorf("list notifications: %w", err)
	}
	var rows []stored
	if err := cur.All(ctx, &rows); err != nil {
		return Page{}, err
	}
	page := Page{}
	if len(rows) > size {
		rows = rows[:size]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(skip + size)))
	}
	for _, r := range rows {
		page.Notifications = append(page.Notifications, r.Notification)
	}
	// A counsellor sees a client's notifications only while plans allows
	// that scope now (care.go): a page may come out shorter.
	if page.Notifications, err = n.visible(ctx, c, page.Notifications); err != nil {
		return Page{}, err
	}
	if page.Unread, err = n.unread(ctx, c); err != nil {
		return Page{}, err
	}
	return page, nil
}

// Get is one of the caller's delivered notifications: what a webhook
// receiver reads with the link a delivery carries. A counsellor's
// notification about a client's data answers only while the consent holds
// (visible). Someone else's is NotFound, and the attempt goes into its
// owner's access log.
func (n *Notify) Get(ctx context.Context, c Caller, id string) (inbox.Notification, error) {
	notFound := apperr.NotFound("notification %q not found", id)
	var s stored
	switch err := n.notes.FindOne(ctx, append(delivered(c.ID), bson.E{Key: "_id", Value: id})).Decode(&s); {
	case errors.Is(err, mongo.ErrNoDocuments):
		owner, err := n.ownerOf(ctx, id)
		if err != nil {
			return inbox.Notification{}, err
		}
		if err := n.recordDenied(ctx, c, owner, "notification/"+id, "GetNotification"); err != nil {
			return inbox.Notification{}, err
		}
		return inbox.Notification{}, notFound
	case err != nil:
		return inbox.Notification{}, err
	}
	keep, err := n.visible(ctx, c, []inbox.Notification{s.Notification})
	if err != nil {
		return inbox.Notification{}, err
	}
	if len(keep) == 0 {
		return inbox.Notification{}, notFound
	}
	return keep[0], nil
}

// MarkRead marks one of the caller's notifications read (once: the first
// read time stays).
func (n *Notify) MarkRead(ctx context.Context, c Caller, id string) (inbox.Notification, error) {
	notFound := apperr.NotFound("notification %q not found", id)
	now := n.now()
	filter := append(delivered(c.ID), bson.E{Key: "_id", Value: id})
	var before stored
	switch err := n.notes.FindOne(ctx, filter).Decode(&before); {
	case errors.Is(err, mongo.ErrNoDocuments):
		// Someone else's notification: the attempt goes into its owner's
		// access log.
		owner, err := n.ownerOf(ctx, id)
		if err != nil {
			return inbox.Notification{}, err
		}
		if err := n.recordDenied(ctx, c, owner, "notification/"+id, "MarkNotificationRead"); err != nil {
			return inbox.Notification{}, err
		}
		return inbox.Notification{}, notFound
	case err != nil:
		return inbox.Notification{}, err
	}
	if keep, err := n.visible(ctx, c, []inbox.Notification{before.Notification}); err != nil {
		return inbox.Notification{}, err
	} else if len(keep) == 0 {
		return inbox.Notification{}, notFound
	}
	if _, err := n.notes.UpdateOne(ctx, append(filter, bson.E{Key: "read_time", Value: bson.D{{Key: "$exists", Value: false}}}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "read_time", Value: now}}}}); err != nil {
		return inbox.Notification{}, fmt.Errorf("mark read: %w", err)
	}
	var s stored
	err := n.notes.FindOne(ctx, filter).Decode(&s)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return inbox.Notification{}, notFound
	}
	return s.Notification, err
}

// MarkAllRead marks every delivered notification of the caller read.
func (n *Notify) MarkAllRead(ctx context.Context, c Caller) (int, error) {
	res, err := n.notes.UpdateMany(ctx, append(delivered(c.ID), bson.E{Key: "read_time", Value: bson.D{{Key: "$exists", Value: false}}}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "read_time", Value: n.now()}}}})
	if err != nil {
		return 0, fmt.Errorf("mark all read: %w", err)
	}
	return int(res.ModifiedCount), nil
}

// Stream sends the caller's notifications as they are delivered: first
// every one delivered after afterID (a dashboard reconnecting misses
// nothing), then new ones as they arrive, until ctx is done.
//
// ready is called once the feed is subscribed, before the catch-up: the
// caller sends its response headers then, so an HTTP client knows the feed
// is live before any notification exists.
func (n *Notify) Stream(ctx context.Context, c Caller, afterID string, ready func() error, send func(inbox.Notification) error) error {
	// A counsellor is sent a client's notification only while plans allows
	// that scope at the moment of sending (care.go).
	send = n.visibleSend(ctx, c, send)
	signals := make(chan *nats.Msg, 64)
	sub, err := n.nc.ChanSubscribe(LiveSubject(c.ID), signals)
	if err != nil {
		return apperr.Unavailable("the live feed is not available right now")
	}
	defer func() { _ = sub.Unsubscribe() }()

	// The cursor: (delivered_at, id) of the last notification sent. It
	// advances with every one sent, so memory stays bounded and a catch-up
	// reads only what is new; delivered_at is stamped at delivery (insert or
	// release), so a held notification released later is found too.
	var cursorAt time.Time
	cursorID := ""
	if afterID != "" {
		var s stored
		err := n.notes.FindOne(ctx, append(delivered(c.ID), bson.E{Key: "_id", Value: afterID})).Decode(&s)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return apperr.InvalidArgument(apperr.FieldViolation{Field: "after_id", Description: "is not one of your notifications"})
		}
		if err != nil {
			return err
		}
		cursorAt, cursorID = s.DeliverAt, s.ID
		if s.DeliveredAt != nil {
			cursorAt = *s.DeliveredAt
		}
	} else {
		cursorAt = n.now()
	}
	// recent holds the ids last sent, bounded: it is only consulted for a
	// signalled notification behind the cursor (below).
	recent := newRecentIDs(recentSent)
	sendOnce := func(r stored) error {
		if recent.has(r.ID) {
			return nil
		}
		if err := send(r.Notification); err != nil {
			return err
		}
		recent.add(r.ID)
		return nil
	}
	catchUp := func() error {
		for {
			after := bson.A{
				bson.D{{Key: "delivered_at", Value: bson.D{{Key: "$gt", Value: cursorAt}}}},
				bson.D{{Key: "delivered_at", Value: cursorAt}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: cursorID}}}},
			}
			cur, err := n.notes.Find(ctx, append(delivered(c.ID), bson.E{Key: "$or", Value: after}),
				options.Find().SetSort(bson.D{{Key: "delivered_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(feedBatch))
			if err != nil {
				return err
			}
			var rows []stored
			if err := cur.All(ctx, &rows); err != nil {
				return err
			}
			for _, r := range rows {
				if err := sendOnce(r); err != nil {
					return err
				}
				if r.DeliveredAt != nil {
					cursorAt = *r.DeliveredAt
				}
				cursorID = r.ID
			}
			if len(rows) < feedBatch { // a full batch: read on at once
				return nil
			}
		}
	}
	// behind sends a signalled notification the cursor has already passed:
	// two replicas stamp delivered_at and then write, so one stamped
	// earlier can land after one stamped later that the feed has sent. The
	// signal names it, so it is read by id (sent once: recent).
	behind := func(id string) error {
		if id == "" || recent.has(id) {
			return nil
		}
		var r stored
		err := n.notes.FindOne(ctx, append(delivered(c.ID), bson.E{Key: "_id", Value: id})).Decode(&r)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil // not this user's, or not delivered yet (its release signals again)
		}
		if err != nil {
			return err
		}
		return sendOnce(r)
	}
	if err := ready(); err != nil {
		return err
	}
	if err := catchUp(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.stopping:
			return nil
		case sig := <-signals:
			err := catchUp()
			if err == nil {
				err = behind(string(sig.Data))
			}
			if err != nil {
				if ctx.Err() != nil { // the feed closed mid-read: not a failure
					return nil
				}
				return err
			}
		}
	}
}

// Preferences returns the caller's preferences (only their own).
func (n *Notify) Preferences(ctx context.Context, c Caller, userID string) (inbox.Preferences, error) {
	if err := n.ownerOnly(ctx, c, userID, "notification-preferences", "GetNotificationPreferences", apperr.NotFound("user %q not found", userID)); err != nil {
		return inbox.Preferences{}, err
	}
	return n.preferences(ctx, userID, "")
}

// UpdatePreferences changes the named fields of the caller's preferences
// and reschedules their daily reminders.
func (n *Notify) UpdatePreferences(ctx context.Context, c Caller, userID string, in inbox.Preferences, fields []string) (inbox.Preferences, error) {
	if err := n.ownerOnly(ctx, c, userID, "notification-preferences", "UpdateNotificationPreferences", apperr.NotFound("user %q not found", userID)); err != nil {
		return inbox.Preferences{}, err
	}
	if len(fields) == 0 {
		return inbox.Preferences{}, apperr.InvalidArgument(apperr.FieldViolation{Field: "update_mask", Description: "names no field"})
	}
	now := n.now()
	// Applied to what is stored now, again after a concurrent write (a
	// webhook turning its channel on, another replica's save).
	return n.changePreferences(ctx, userID, "", func(p *inbox.Preferences) error {
		var bad []apperr.FieldViolation
		for _, f := range fields {
			switch f {
			case "time_zone":
				p.TimeZone = in.TimeZone
			case "quiet_start":
				p.QuietStart = in.QuietStart
			case "quiet_end":
				p.QuietEnd = in.QuietEnd
			case "check_in_reminder_time":
				p.CheckInReminderTime = in.CheckInReminderTime
			case "prompt_of_the_day_time":
				p.PromptOfTheDayTime = in.PromptOfTheDayTime
			case "daily_cap":
				p.DailyCap = in.DailyCap
			case "discreet":
				p.Discreet = in.Discreet
			case "channels":
				p.Webhook = in.Webhook
			default:
				bad = append(bad, apperr.FieldViolation{Field: "update_mask", Description: fmt.Sprintf("field %q cannot be changed", f)})
			}
		}
		for _, v := range p.Validate() {
			field, desc, _ := strings.Cut(v, ": ")
			bad = append(bad, apperr.FieldViolation{Field: field, Description: desc})
		}
		if len(bad) > 0 {
			return apperr.InvalidArgument(bad...)
		}
		p.UpdateTime = now
		p.Reschedule(now)
		return nil
	})
}

// SendReminders creates the daily check-in reminders and prompts of the
// day that are due: one per user and local day (its id says so), even with
// several replicas and after downtime.
func (n *Notify) SendReminders(ctx context.Context) (int, error) {
	now := n.now()
	sent := 0
	for _, r := range []struct {
		field string
		kind  message.Kind
		at    func(inbox.Preferences) string
	}{
		{"next_check_in_at", message.CheckInReminder, func(p inbox.Preferences) string { return p.CheckInReminderTime }},
		{"next_prompt_at", message.PromptOfTheDay, func(p inbox.Preferences) string { return p.PromptOfTheDayTime }},
	} {
		// Each due reminder is claimed by one findOneAndUpdate that moves its
		// due time a lease ahead: replicas take different users, a pass goes
		// on until none is due, and a replica that dies holding one leaves
		// it due again after the lease (the notification's id is the day's,
		// so a second try sends nothing twice).
		for ctx.Err() == nil {
			var row prefsRow
			err := n.prefs.FindOneAndUpdate(ctx, bson.D{{Key: r.field, Value: bson.D{{Key: "$lte", Value: now}}}},
				bson.D{{Key: "$set", Value: bson.D{{Key: r.field, Value: now.Add(reminderLease)}}}, {Key: "$inc", Value: bson.D{{Key: outbox.FieldVersion, Value: 1}}}},
				options.FindOneAndUpdate().SetSort(bson.D{{Key: r.field, Value: 1}}).SetReturnDocument(options.After)).Decode(&row)
			if errors.Is(err, mongo.ErrNoDocuments) {
				break
			}
			if err != nil {
				return sent, fmt.Errorf("claim a due reminder: %w", err)
			}
			p := row.Preferences
			loc := p.Location()
			day := localtime.LocalDate(now, loc)
			at, on, err := localtime.ParseHHMM(r.at(p))
			if err != nil || !on { // turned off meanwhile
				if err := n.reschedule(ctx, row, r.field, nil); err != nil {
					return sent, err
				}
				continue
			}
			// Days missed while the service was down are not made up: today's
			// reminder goes out at its own time (at once if that has passed).
			due := todaysAt(now, loc, at)
			if due.After(now) {
				if err := n.reschedule(ctx, row, r.field, &due); err != nil {
					return sent, err
				}
				continue
			}
			title, body := message.Compose(r.kind, message.Client, p.Discreet, message.Data{})
			note := inbox.Notification{
				ID: inbox.ID("reminder:"+day, p.UserID, r.kind), UserID: p.UserID, Kind: r.kind, Title: title, Body: body,
				EventID: "reminder:" + day, CreateTime: now, DeliverAt: now, Delivered: true, DeliverDate: day, ClientID: p.UserID,
				Reminder: true,
			}
			created, err := n.insert(ctx, note)
			if err != nil {
				return sent, err
			}
			if created {
				if n.observe.ReminderLag != nil {
					n.observe.ReminderLag(n.now().Sub(due))
				}
				n.announce(p.UserID, note.ID)
				sent++
			}
			if err := n.enqueue(ctx, note); err != nil {
				return sent, err
			}
			// Only this reminder's schedule moves: the other one may be due in
			// this same pass.
			next := localtime.NextAt(now, loc, at)
			if err := n.reschedule(ctx, row, r.field, &next); err != nil {
				return sent, err
			}
		}
	}
	if n.observe.ReminderRan != nil {
		n.observe.ReminderRan(now)
	}
	return sent, nil
}

// prefsRow is a stored preferences document with its version, which the
// reminder job's writes are checked against.
type prefsRow struct {
	Version           int64 `bson:"version"`
	inbox.Preferences `bson:",inline"`
}

// reminderLease is how long a claimed daily reminder is left to the
// replica that claimed it; sending one takes milliseconds.
const reminderLease = time.Minute

// reschedule sets when one daily reminder (field) is next due (nil: off),
// derived from read: the write is filtered on read's version and bumps it.
// When someone wrote in between, it reads again: if what next was derived
// from (the zone, the reminder times, this reminder's due time) is as it
// was, another field changed (the webhook channel) and it writes again on
// the new version; otherwise the newer write has decided the schedule
// (UpdatePreferences reschedules both reminders, another replica moved this
// one) and stands.
func (n *Notify) reschedule(ctx context.Context, read prefsRow, field string, next *time.Time) error {
	for range maxPreferenceAttempts {
		n.race.run(n.race.prefsWrite, read.UserID)
		version := bson.E{Key: outbox.FieldVersion, Value: read.Version}
		if read.Version == 0 { // stored without one (VersionPreferences)
			version.Value = bson.D{{Key: "$exists", Value: false}}
		}
		res, err := n.prefs.UpdateOne(ctx, bson.D{{Key: "_id", Value: read.UserID}, version},
			bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: next}}}, {Key: "$inc", Value: bson.D{{Key: outbox.FieldVersion, Value: 1}}}})
		if err != nil {
			return fmt.Errorf("reschedule reminders: %w", err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		var now prefsRow
		err = n.prefs.FindOne(ctx, bson.D{{Key: "_id", Value: read.UserID}}).Decode(&now)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reschedule reminders: %w", err)
		}
		if !sameSchedule(read.Preferences, now.Preferences, field) {
			return nil
		}
		read = now
	}
	// The next pass finds the reminder still due and decides again.
	return fmt.Errorf("reschedule reminders of %s: the preferences kept changing", read.UserID)
}

// sameSchedule reports whether a and b give reminder field the same next
// due time.
func sameSchedule(a, b inbox.Preferences, field string) bool {
	at := func(p inbox.Preferences) *time.Time {
		if field == "next_prompt_at" {
			return p.NextPromptAt
		}
		return p.NextCheckInAt
	}
	x, y := at(a), at(b)
	return a.TimeZone == b.TimeZone && a.CheckInReminderTime == b.CheckInReminderTime && a.PromptOfTheDayTime == b.PromptOfTheDayTime &&
		(x == nil) == (y == nil) && (x == nil || x.Equal(*y))
}

// todaysAt is the instant the local wall clock reads at on now's local
// date (localtime.NextAt's rules for DST gaps and overlaps).
func todaysAt(now time.Time, loc *time.Location, at localtime.Clock) time.Time {
	day := localtime.LocalDate(now, loc)
	t := localtime.NextAt(now.Add(-48*time.Hour), loc, at)
	for range 4 {
		if localtime.LocalDate(t, loc) >= day {
			break
		}
		t = localtime.NextAt(t, loc, at)
	}
	return t
}

// feedBatch is how many notifications a live feed reads at a time.
const feedBatch = 500

// recentSent bounds the ids a live feed remembers (about 64 KiB).
const recentSent = 1024

// recentIDs is a bounded set of the ids last added (oldest forgotten first).
type recentIDs struct {
	ring []string
	next int
	set  map[string]struct{}
}

func newRecentIDs(size int) *recentIDs {
	return &recentIDs{ring: make([]string, size), set: make(map[string]struct{}, size)}
}

func (r *recentIDs) has(id string) bool { _, ok := r.set[id]; return ok }

func (r *recentIDs) add(id string) {
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}
