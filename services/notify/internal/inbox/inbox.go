// Package inbox holds the notify domain: a notification, a user's
// preferences, and when a notification may be delivered (quiet hours and the
// daily cap hold non-urgent ones; nothing is ever dropped).
package inbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
	_ "time/tzdata" // zones without /usr/share/zoneinfo

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/services/notify/internal/localtime"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// Notification is one message to one user.
type Notification struct {
	ID           string       `bson:"id"`
	UserID       string       `bson:"user_id"`
	Kind         message.Kind `bson:"kind"`
	Title        string       `bson:"title"`
	Body         string       `bson:"body"`
	Urgent       bool         `bson:"urgent"`
	ClientID     string       `bson:"client_id,omitempty"`
	PlanID       string       `bson:"plan_id,omitempty"`
	MilestoneDay int          `bson:"milestone_day,omitempty"`
	RiskFlagID   string       `bson:"risk_flag_id,omitempty"`
	EventID      string       `bson:"event_id"`
	CreateTime   time.Time    `bson:"create_time"`
	// DeliverAt is when the user sees it: now, or the end of quiet hours,
	// or the next local day when the daily cap is reached.
	DeliverAt time.Time `bson:"deliver_at"`
	// Delivered turns true once DeliverAt has passed and the live feed was
	// told; held notifications wait with false.
	Delivered bool `bson:"delivered"`
	// DeliveredAt is when Delivered turned true (at insert or release): the
	// live feed's cursor.
	DeliveredAt *time.Time `bson:"delivered_at,omitempty"`
	// DeliverDate is the recipient's local date of DeliverAt (the cap's day).
	DeliverDate string     `bson:"deliver_date"`
	ReadTime    *time.Time `bson:"read_time,omitempty"`
	// Reminder marks the user's own daily reminders, which the daily cap
	// does not count.
	Reminder bool `bson:"reminder,omitempty"`
}

// ID is the notification id of (event, recipient, kind): one notification
// per triple whatever redelivery, restart or replica count, because a
// second insert of the same id is refused by the database.
func ID(eventID, userID string, kind message.Kind) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + userID + "\x00" + string(kind)))
	return "nt-" + hex.EncodeToString(sum[:16])
}

// Preferences are a user's notification settings.
type Preferences struct {
	UserID              string    `bson:"user_id"`
	TimeZone            string    `bson:"time_zone"`
	QuietStart          string    `bson:"quiet_start"`
	QuietEnd            string    `bson:"quiet_end"`
	CheckInReminderTime string    `bson:"check_in_reminder_time"`
	PromptOfTheDayTime  string    `bson:"prompt_of_the_day_time"`
	DailyCap            int       `bson:"daily_cap"`
	Discreet            bool      `bson:"discreet"`
	Webhook             bool      `bson:"webhook"`
	UpdateTime          time.Time `bson:"update_time"`
	// NextCheckInAt and NextPromptAt are when the reminders are next due
	// (the scheduler's index); nil when off.
	NextCheckInAt *time.Time `bson:"next_check_in_at"`
	NextPromptAt  *time.Time `bson:"next_prompt_at"`
}

// Defaults are the preferences of a user who set none: in-app only, no
// quiet hours, no cap, plain text, in the time zone the event carried.
func Defaults(userID, tz string) Preferences {
	if tz == "" {
		tz = "UTC"
	}
	return Preferences{UserID: userID, TimeZone: tz}
}

// Location is the preferences' zone (UTC when unknown).
func (p Preferences) Location() *time.Location {
	loc, err := clock.LoadLocation(p.TimeZone)
	if err != nil || p.TimeZone == "" {
		return time.UTC
	}
	return loc
}

// Validate checks the fields; the violations name the proto fields.
func (p Preferences) Validate() []string {
	var bad []string
	if p.TimeZone == "Local" {
		bad = append(bad, "preferences.time_zone: must be an IANA time zone")
	} else if _, err := clock.LoadLocation(p.TimeZone); err != nil {
		bad = append(bad, "preferences.time_zone: is not a known IANA time zone")
	}
	for field, v := range map[string]string{"quiet_start": p.QuietStart, "quiet_end": p.QuietEnd,
		"check_in_reminder_time": p.CheckInReminderTime, "prompt_of_the_day_time": p.PromptOfTheDayTime} {
		if _, _, err := localtime.ParseHHMM(v); err != nil {
			bad = append(bad, fmt.Sprintf("preferences.%s: must be HH:MM", field))
		}
	}
	if (p.QuietStart == "") != (p.QuietEnd == "") {
		bad = append(bad, "preferences.quiet_end: quiet hours need both a start and an end")
	}
	if p.DailyCap < 0 || p.DailyCap > 100 {
		bad = append(bad, "preferences.daily_cap: must be between 0 and 100")
	}
	return bad
}

// Reschedule sets when the daily reminders are next due after now.
func (p *Preferences) Reschedule(now time.Time) {
	loc := p.Location()
	next := func(hhmm string) *time.Time {
		c, ok, err := localtime.ParseHHMM(hhmm)
		if err != nil || !ok {
			return nil
		}
		t := localtime.NextAt(now, loc, c)
		return &t
	}
	p.NextCheckInAt = next(p.CheckInReminderTime)
	p.NextPromptAt = next(p.PromptOfTheDayTime)
}

// DeliverAt decides when a notification created at now reaches the user:
// urgent ones at once; others after quiet hours, and on the next local day
// once sentToday non-urgent ones reached the daily cap.
func DeliverAt(p Preferences, urgent bool, now time.Time, sentToday int) time.Time {
	if urgent {
		return now
	}
	loc := p.Location()
	at := now
	if p.DailyCap > 0 && sentToday >= p.DailyCap {
		at = localtime.StartOfNextDay(now, loc)
	}
	start, okS, errS := localtime.ParseHHMM(p.QuietStart)
	end, okE, errE := localtime.ParseHHMM(p.QuietEnd)
	if okS && okE && errS == nil && errE == nil && localtime.InWindow(at, loc, start, end) {
		at = localtime.WindowEnd(at, loc, start, end)
	}
	return at
}
