package plan_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

// contactFixture: a plan started 10 local days ago (Berlin), now = day 10
// 15:00, contacts placed on day 5 12:00.
type contactFixture struct {
	loc        *time.Location
	start, now time.Time
	at         time.Time
}

func newContactFixture(t testing.TB) contactFixture {
	loc := mustLoc(t, "Europe/Berlin")
	return contactFixture{
		loc:   loc,
		start: time.Date(2026, 3, 1, 10, 0, 0, 0, loc),
		now:   time.Date(2026, 3, 11, 15, 0, 0, 0, loc),
		at:    time.Date(2026, 3, 6, 12, 0, 0, 0, loc),
	}
}

func (f contactFixture) plan(t testing.TB, mode plan.Mode, countsProfile bool) *plan.Plan {
	params := baseParams("Europe/Berlin", f.start)
	params.Mode = mode
	params.CountsProfileChecks = countsProfile
	params.Exceptions = []plan.Exception{
		{ID: "ex-text", Kind: "co_parenting", Channel: plan.ChannelText, Topic: "school pickups"},
		{ID: "ex-any", Kind: "legal"},
	}
	return newActive(t, params, f.now)
}

func TestClassification(t *testing.T) {
	f := newContactFixture(t)
	with, strict := plan.ModeWithExceptions, plan.ModeStrict
	cases := []struct {
		name          string
		mode          plan.Mode
		countsProfile bool
		dir           plan.Direction
		ch            plan.Channel
		resp          plan.Response
		ex            string
		want          plan.Classification
	}{
		{"inbound ignored", strict, false, plan.Inbound, plan.ChannelText, plan.ResponseNone, "", plan.InboundHandled},
		{"inbound response unset means none", strict, false, plan.Inbound, plan.ChannelText, "", "", plan.InboundHandled},
		{"inbound boundary reply", strict, false, plan.Inbound, plan.ChannelText, plan.ResponseBoundaryReply, "", plan.InboundHandled},
		{"inbound engaged", strict, false, plan.Inbound, plan.ChannelCall, plan.ResponseEngaged, "", plan.Slip},
		{"outbound", strict, false, plan.Outbound, plan.ChannelText, "", "", plan.Slip},
		{"outbound without channel", strict, false, plan.Outbound, "", "", "", plan.Slip},
		{"encounter ignored", strict, false, plan.Encounter, plan.ChannelInPerson, plan.ResponseNone, "", plan.InboundHandled},
		{"encounter boundary reply", strict, false, plan.Encounter, plan.ChannelInPerson, plan.ResponseBoundaryReply, "", plan.InboundHandled},
		{"encounter engaged", strict, false, plan.Encounter, plan.ChannelInPerson, plan.ResponseEngaged, "", plan.Slip},
		{"profile check not counted", strict, false, plan.ProfileCheck, plan.ChannelSocialMedia, "", "", plan.Checking},
		{"profile check counted", strict, true, plan.ProfileCheck, plan.ChannelSocialMedia, "", "", plan.Slip},
		{"exception outbound on its channel", with, false, plan.Outbound, plan.ChannelText, "", "ex-text", plan.ExceptionCall},
		{"exception inbound engaged on its channel", with, false, plan.Inbound, plan.ChannelText, plan.ResponseEngaged, "ex-text", plan.ExceptionCall},
		{"exception without channel, any channel", with, false, plan.Outbound, plan.ChannelCall, "", "ex-any", plan.ExceptionCall},
		{"exception without channel, none given", with, false, plan.Outbound, "", "", "ex-any", plan.ExceptionCall},
		{"exception profile check counted", with, true, plan.ProfileCheck, plan.ChannelSocialMedia, "", "ex-any", plan.ExceptionCall},
		{"exception channel mismatch", with, false, plan.Outbound, plan.ChannelCall, "", "ex-text", plan.Slip},
		{"exception channel not given but required", with, false, plan.Outbound, "", "", "ex-text", plan.Slip},
		{"exception engaged channel mismatch", with, false, plan.Inbound, plan.ChannelEmail, plan.ResponseEngaged, "ex-text", plan.Slip},
		{"exception in strict mode", strict, false, plan.Outbound, plan.ChannelText, "", "ex-text", plan.Slip},
		{"exception in strict mode, engaged", strict, false, plan.Inbound, plan.ChannelCall, plan.ResponseEngaged, "ex-any", plan.Slip},
		{"exception in strict mode, ignored inbound", strict, false, plan.Inbound, plan.ChannelCall, plan.ResponseNone, "ex-any", plan.InboundHandled},
		{"exception mismatch, ignored inbound", with, false, plan.Inbound, plan.ChannelCall, plan.ResponseNone, "ex-text", plan.InboundHandled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.plan(t, tc.mode, tc.countsProfile)
			before := p.Streaks(f.now)
			params := plan.ContactParams{ID: "ct-1", Direction: tc.dir, Channel: tc.ch, Response: tc.resp,
				ExceptionID: tc.ex, OccurredAt: f.at}
			if got := p.Classify(params); got != tc.want {
				t.Errorf("Classify = %q, want %q", got, tc.want)
			}
			ct := mustRecord(t, p, params, f.now)
			if ct.Classification != tc.want {
				t.Errorf("recorded classification = %q, want %q", ct.Classification, tc.want)
			}
			if ct.LocalDate != "2026-03-06" || ct.TimeZone != "Europe/Berlin" {
				t.Errorf("contact local date/zone = %s %s, want 2026-03-06 Europe/Berlin", ct.LocalDate, ct.TimeZone)
			}
			if ct.Response == "" {
				t.Errorf("response stored empty, want a default of none")
			}
			isSlip := tc.want == plan.Slip
			evs := p.PopEvents()
			rec := eventsOf(evs, plan.EventContactRecorded)
			if len(rec) != 1 || rec[0].EndedAttempt != isSlip {
				t.Errorf("contact_recorded events = %+v, want one with EndedAttempt=%v", rec, isSlip)
			}
			after := p.Streaks(f.now)
			as := p.Attempts(f.now)
			if isSlip {
				if len(as) != 2 || as[0].SlipContactID != "ct-1" || !as[1].Start.Equal(f.at) {
					t.Errorf("slip: attempts = %+v, want the first ended by ct-1 and a new one from the slip", as)
				}
				if after.Current != 5 {
					t.Errorf("slip: current streak = %d, want 5 (days since the slip)", after.Current)
				}
				if countKind(evs, plan.EventAttemptEnded) != 1 || countKind(evs, plan.EventAttemptStarted) != 1 {
					t.Errorf("slip: events %v, want one attempt_ended and one attempt_started", eventKinds(evs))
				}
			} else {
				if len(as) != 1 || after != before || after.Current != 10 {
					t.Errorf("not a slip: attempts %+v streaks %+v (before %+v), want one attempt of 10 days", as, after, before)
				}
				if n := countKind(evs, plan.EventAttemptEnded) + countKind(evs, plan.EventAttemptStarted); n != 0 {
					t.Errorf("not a slip: events %v, want no attempt events", eventKinds(evs))
				}
			}
		})
	}
}

func TestRecordContact_Validation(t *testing.T) {
	f := newContactFixture(t)
	ok := func() plan.ContactParams {
		return plan.ContactParams{ID: "ct-1", Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: f.at}
	}
	cases := []struct {
		name   string
		mut    func(c *plan.ContactParams)
		fields []string
	}{
		{"in the future", func(c *plan.ContactParams) { c.OccurredAt = f.now.Add(10 * time.Minute) }, []string{"contact.occurred_at"}},
		{"before the plan start", func(c *plan.ContactParams) { c.OccurredAt = f.start.Add(-time.Minute) }, []string{"contact.occurred_at"}},
		{"no time", func(c *plan.ContactParams) { c.OccurredAt = time.Time{} }, []string{"contact.occurred_at"}},
		{"unknown exception", func(c *plan.ContactParams) { c.ExceptionID = "ex-nope" }, []string{"contact.exception_id"}},
		{"missing direction", func(c *plan.ContactParams) { c.Direction = "" }, []string{"contact.direction"}},
		{"unknown direction", func(c *plan.ContactParams) { c.Direction = "telepathy" }, []string{"contact.direction"}},
		{"unknown channel", func(c *plan.ContactParams) { c.Channel = "pigeon" }, []string{"contact.channel"}},
		{"unknown response", func(c *plan.ContactParams) { c.Response = "maybe" }, []string{"contact.response"}},
		{"recommit before the contact", func(c *plan.ContactParams) { c.RecommitTime = ptr(f.at.Add(-time.Second)) }, []string{"contact.recommit_time"}},
		{"recommit in the future", func(c *plan.ContactParams) { c.RecommitTime = ptr(f.now.Add(time.Hour)) }, []string{"contact.recommit_time"}},
		{"note too long", func(c *plan.ContactParams) { c.Note = strings.Repeat("x", 2001) }, []string{"contact.note"}},
		{"several at once", func(c *plan.ContactParams) {
			c.Direction, c.ExceptionID, c.OccurredAt = "", "ex-nope", f.now.Add(time.Hour)
		}, []string{"contact.direction", "contact.exception_id", "contact.occurred_at"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.plan(t, plan.ModeWithExceptions, false)
			c := ok()
			tc.mut(&c)
			_, err := p.RecordContact(c, f.now)
			wantFields(t, err, tc.fields...)
			if len(p.Contacts) != 0 {
				t.Errorf("a refused contact was stored: %+v", p.Contacts)
			}
			if evs := p.PopEvents(); len(evs) != 0 {
				t.Errorf("a refused contact recorded events %v", eventKinds(evs))
			}
			if s := p.Streaks(f.now); s.Current != 10 {
				t.Errorf("a refused contact changed the streak: %+v", s)
			}
		})
	}

	t.Run("within the allowed clock skew", func(t *testing.T) {
		p := f.plan(t, plan.ModeStrict, false)
		c := ok()
		c.OccurredAt = f.now.Add(time.Minute)
		if _, err := p.RecordContact(c, f.now); err != nil {
			t.Errorf("a contact one minute ahead (clock skew) was refused: %v", err)
		}
	})
	t.Run("exactly at the plan start", func(t *testing.T) {
		p := f.plan(t, plan.ModeStrict, false)
		c := ok()
		c.OccurredAt = f.start
		if _, err := p.RecordContact(c, f.now); err != nil {
			t.Errorf("a contact at the plan start was refused: %v", err)
		}
	})
}

func TestRecordContact_RefusedOutsideActiveOrPaused(t *testing.T) {
	f := newContactFixture(t)
	cases := []struct {
		name  string
		setup func(t *testing.T) *plan.Plan
		legal bool
	}{
		{"draft", func(t *testing.T) *plan.Plan { return newDraft(t, baseParams("Europe/Berlin", f.start), f.now) }, false},
		{"ended", func(t *testing.T) *plan.Plan {
			p := f.plan(t, plan.ModeStrict, false)
			if err := p.End("done", f.now); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
		{"cancelled", func(t *testing.T) *plan.Plan {
			p := newDraft(t, baseParams("Europe/Berlin", f.start), f.now)
			if err := p.Cancel(f.now); err != nil {
				t.Fatal(err)
			}
			return p
		}, false},
		{"completed", func(t *testing.T) *plan.Plan {
			params := baseParams("Europe/Berlin", f.start)
			params.TargetDays = 7
			p := newActive(t, params, f.now)
			if p.Status != plan.StatusCompleted {
				t.Fatalf("status = %s, want completed", p.Status)
			}
			return p
		}, false},
		{"active", func(t *testing.T) *plan.Plan { return f.plan(t, plan.ModeStrict, false) }, true},
		{"paused", func(t *testing.T) *plan.Plan {
			p := f.plan(t, plan.ModeStrict, false)
			if err := p.Pause("funeral", f.now); err != nil {
				t.Fatal(err)
			}
			return p
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.setup(t)
			p.PopEvents()
			_, err := p.RecordContact(plan.ContactParams{ID: "ct-1", Direction: plan.Outbound, OccurredAt: f.at}, f.now)
			if tc.legal {
				if err != nil {
					t.Errorf("RecordContact on a %s plan: %v", p.Status, err)
				}
				return
			}
			if !errors.Is(err, plan.ErrIllegalTransition) {
				t.Errorf("RecordContact on a %s plan: err = %v, want ErrIllegalTransition", p.Status, err)
			}
			if len(p.Contacts) != 0 || len(p.PopEvents()) != 0 {
				t.Errorf("refused contact left traces")
			}
		})
	}
}

func TestCorrections(t *testing.T) {
	f := newContactFixture(t)

	t.Run("void a slip makes the attempt whole again", func(t *testing.T) {
		p := f.plan(t, plan.ModeStrict, false)
		mustRecord(t, p, plan.ContactParams{ID: "slip", Direction: plan.Outbound, OccurredAt: f.at}, f.now)
		if n := len(p.Attempts(f.now)); n != 2 {
			t.Fatalf("after slip: %d attempts, want 2", n)
		}
		p.PopEvents()
		ct, err := p.VoidContact("slip", f.now)
		if err != nil {
			t.Fatal(err)
		}
		if !ct.Voided {
			t.Errorf("returned contact not voided")
		}
		if c, ok := p.Contact("slip"); !ok || !c.Voided {
			t.Errorf("voided contact not kept in the log as voided: %+v %v", c, ok)
		}
		as := p.Attempts(f.now)
		if len(as) != 1 || as[0].End != nil || !as[0].Start.Equal(f.start) || as[0].Number != 1 {
			t.Errorf("after void: attempts = %+v, want one running attempt from the start", as)
		}
		if s := p.Streaks(f.now); s != (plan.Streaks{Current: 10, Longest: 10, Total: 10}) {
			t.Errorf("after void: streaks = %+v, want the full 10 days", s)
		}
		evs := p.PopEvents()
		if countKind(evs, plan.EventContactVoided) != 1 {
			t.Errorf("events %v, want one contact_voided", eventKinds(evs))
		}
		if countKind(evs, plan.EventAttemptEnded) != 0 || countKind(evs, plan.EventAttemptStarted) != 0 {
			t.Errorf("void: events %v, want no attempt ended/started", eventKinds(evs))
		}
		// Voiding again changes nothing.
		if _, err := p.VoidContact("slip", f.now); err != nil {
			t.Errorf("second void: %v", err)
		}
		if evs := p.PopEvents(); len(evs) != 0 {
			t.Errorf("second void recorded %v", eventKinds(evs))
		}
	})

	t.Run("void an unknown contact", func(t *testing.T) {
		p := f.plan(t, plan.ModeStrict, false)
		if _, err := p.VoidContact("nope", f.now); !errors.Is(err, plan.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("correct ignored inbound to engaged makes it a slip", func(t *testing.T) {
		p := f.plan(t, plan.ModeStrict, false)
		mustRecord(t, p, plan.ContactParams{ID: "in", Direction: plan.Inbound, Channel: plan.ChannelText, OccurredAt: f.at}, f.now)
		if n := len(p.Attempts(f.now)); n != 1 {
			t.Fatalf("ignored inbound split the attempt")
		}
		p.PopEvents()
		ct, err := p.CorrectContact("in", plan.ContactPatch{Fields: []string{"response"},
			ContactParams: plan.ContactParams{Response: plan.ResponseEngaged}}, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if ct.Classification != plan.Slip || ct.Response != plan.ResponseEngaged {
			t.Errorf("corrected contact = %+v, want an engaged slip", ct)
		}
		as := p.Attempts(f.now)
		if len(as) != 2 || !as[0].End.Equal(f.at) || as[0].SlipContactID != "in" || !as[1].Start.Equal(f.at) {
			t.Errorf("attempts = %+v, want split at the contact", as)
		}
		if s := p.Streaks(f.now); s != (plan.Streaks{Current: 5, Longest: 5, Total: 10}) {
			t.Errorf("streaks = %+v, want {5 5 10}", s)
		}
		evs := p.PopEvents()
		cor := eventsOf(evs, plan.EventContactCorrected)
		if len(cor) != 1 || !cor[0].EndedAttempt {
			t.Errorf("contact_corrected = %+v, want one with EndedAttempt", cor)
		}
		ended, started := eventsOf(evs, plan.EventAttemptEnded), eventsOf(evs, plan.EventAttemptStarted)
		if len(ended) != 1 || ended[0].Attempt.Number != 1 || ended[0].Attempt.EndReason != plan.EndSlip ||
			ended[0].Attempt.End == nil || !ended[0].Attempt.End.Equal(f.at) || ended[0].Attempt.Days != 5 {
			t.Errorf("attempt_ended = %+v, want attempt 1 ended by the slip after 5 days", ended)
		}
		if len(started) != 1 || started[0].Attempt.Number != 2 || !started[0].Attempt.Start.Equal(f.at) {
			t.Errorf("attempt_started = %+v, want attempt 2 from the slip", started)
		}

		// And back: engaged → boundary reply heals it.
		if _, err := p.CorrectContact("in", plan.ContactPatch{Fields: []string{"response"},
			ContactParams: plan.ContactParams{Response: plan.ResponseBoundaryReply}}, f.now); err != nil {
			t.Fatal(err)
		}
		if s := p.Streaks(f.now); s != (plan.Streaks{Current: 10, Longest: 10, Total: 10}) || len(p.Attempts(f.now)) != 1 {
			t.Errorf("after correcting back: streaks = %+v attempts = %+v", s, p.Attempts(f.now))
		}
	})

	t.Run("correct the recommit time moves the new start", func(t *testing.T) {
		p := f.plan(t, plan.ModeStrict, false)
		mustRecord(t, p, plan.ContactParams{ID: "slip", Direction: plan.Outbound, OccurredAt: f.at}, f.now)
		p.PopEvents()
		recommit := f.at.AddDate(0, 0, 1)
		if _, err := p.CorrectContact("slip", plan.ContactPatch{Fields: []string{"recommit_time"},
			ContactParams: plan.ContactParams{RecommitTime: &recommit}}, f.now); err != nil {
			t.Fatal(err)
		}
		as := p.Attempts(f.now)
		if len(as) != 2 || !as[1].Start.Equal(recommit) {
			t.Errorf("attempts = %+v, want the second from %v", as, recommit)
		}
		evs := p.PopEvents()
		started := eventsOf(evs, plan.EventAttemptStarted)
		if len(started) != 1 || !started[0].Attempt.Start.Equal(recommit) {
			t.Errorf("attempt_started = %+v, want one at the new recommit", started)
		}
		if countKind(evs, plan.EventAttemptEnded) != 0 {
			t.Errorf("the first attempt's end did not change, yet events = %v", eventKinds(evs))
		}
	})

	t.Run("correction errors", func(t *testing.T) {
		p := f.plan(t, plan.ModeStrict, false)
		mustRecord(t, p, plan.ContactParams{ID: "c", Direction: plan.Inbound, OccurredAt: f.at}, f.now)
		_, err := p.CorrectContact("nope", plan.ContactPatch{Fields: []string{"response"}}, f.now)
		if !errors.Is(err, plan.ErrNotFound) {
			t.Errorf("unknown contact: err = %v, want ErrNotFound", err)
		}
		_, err = p.CorrectContact("c", plan.ContactPatch{Fields: []string{"occurred_at"},
			ContactParams: plan.ContactParams{OccurredAt: f.now.Add(time.Hour)}}, f.now)
		wantFields(t, err, "contact.occurred_at")
		_, err = p.CorrectContact("c", plan.ContactPatch{}, f.now)
		wantFields(t, err, "update_mask")
		_, err = p.CorrectContact("c", plan.ContactPatch{Fields: []string{"classification"}}, f.now)
		wantFields(t, err, "update_mask")
		if c, _ := p.Contact("c"); c.Response != plan.ResponseNone || !c.OccurredAt.Equal(f.at) {
			t.Errorf("a refused correction changed the contact: %+v", c)
		}
		if _, err := p.VoidContact("c", f.now); err != nil {
			t.Fatal(err)
		}
		_, err = p.CorrectContact("c", plan.ContactPatch{Fields: []string{"response"},
			ContactParams: plan.ContactParams{Response: plan.ResponseEngaged}}, f.now)
		if !errors.Is(err, plan.ErrIllegalTransition) {
			t.Errorf("correcting a voided contact: err = %v, want ErrIllegalTransition", err)
		}
	})
}

// Editing and voiding are both corrections: they are allowed on the same
// plans (active, paused, completed), and a finished plan's history is not
// rewritten by either.
func TestCorrections_AllowedStatuses(t *testing.T) {
	f := newContactFixture(t)
	type setup func(t *testing.T, p *plan.Plan)
	cases := []struct {
		name  string
		after setup
		legal bool
	}{
		{"active", func(t *testing.T, p *plan.Plan) {}, true},
		{"paused", func(t *testing.T, p *plan.Plan) {
			if err := p.Pause("break", f.now); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"completed", func(t *testing.T, p *plan.Plan) {
			p.Advance(f.now.AddDate(0, 0, 400))
			if p.Status != plan.StatusCompleted {
				t.Fatalf("status %s, want completed", p.Status)
			}
		}, true},
		{"ended", func(t *testing.T, p *plan.Plan) {
			if err := p.End("done", f.now); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"closed", func(t *testing.T, p *plan.Plan) {
			p.Advance(f.now.AddDate(0, 0, 400))
			if err := p.Close(f.now.AddDate(0, 0, 400)); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range cases {
		for _, op := range []string{"correct", "void"} {
			t.Run(op+" on a "+tc.name+" plan", func(t *testing.T) {
				p := f.plan(t, plan.ModeStrict, false)
				mustRecord(t, p, plan.ContactParams{ID: "slip", Direction: plan.Outbound, OccurredAt: f.at}, f.now)
				tc.after(t, p)
				p.PopEvents()
				before := p.Streaks(f.now.AddDate(0, 0, 400))
				var err error
				if op == "void" {
					_, err = p.VoidContact("slip", f.now.AddDate(0, 0, 1))
				} else {
					_, err = p.CorrectContact("slip", plan.ContactPatch{Fields: []string{"direction"},
						ContactParams: plan.ContactParams{Direction: plan.Inbound}}, f.now.AddDate(0, 0, 1))
				}
				if tc.legal {
					if err != nil {
						t.Errorf("%s: %v", op, err)
					}
					return
				}
				if !errors.Is(err, plan.ErrIllegalTransition) {
					t.Errorf("%s on a %s plan: err = %v, want ErrIllegalTransition", op, p.Status, err)
				}
				if c, _ := p.Contact("slip"); c.Voided || c.Direction != plan.Outbound {
					t.Errorf("refused %s changed the contact: %+v", op, c)
				}
				if after := p.Streaks(f.now.AddDate(0, 0, 400)); after != before {
					t.Errorf("refused %s rewrote the history: %+v → %+v", op, before, after)
				}
				if evs := p.PopEvents(); len(evs) != 0 {
					t.Errorf("refused %s recorded %v", op, eventKinds(evs))
				}
			})
		}
	}
}
