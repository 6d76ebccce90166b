package message

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
)

const label = "client-7f3a9"

// samples are the shapes of data the composer meets: empty, typical, and the
// other branches (revoked consent, ended assignment, milestone at target).
var samples = map[string]Data{
	"zero": {},
	"typical": {
		MilestoneDay: 14, TargetDays: 30, StreakDays: 12, UrgeIntensity: 8,
		ClientLabel: label, Granted: true, Scope: "MOOD_INSIGHTS", AssignmentStatus: "ACTIVE",
		PromptText: "What did you need most this week?",
	},
	"target and revoked": {
		MilestoneDay: 30, TargetDays: 30, StreakDays: 1, UrgeIntensity: 10,
		ClientLabel: label, Granted: false, Scope: "RISK_ALERTS", AssignmentStatus: "ENDED",
		PromptText: "Write to the part of you that misses the relationship after the breakup.",
	},
	"day one pending": {
		MilestoneDay: 1, TargetDays: 90, ClientLabel: label, Granted: true,
		Scope: "PLAN_PROGRESS", AssignmentStatus: "PENDING",
	},
}

var audiences = []Audience{Client, Counsellor}

// words splits text into lower-case words, so "ex" is matched as a word and
// not inside "next".
func words(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		out[w] = true
	}
	return out
}

func TestComposeNeverEmpty(t *testing.T) {
	for _, k := range append(Kinds(), Kind("something_new")) {
		for _, a := range append(audiences, Audience("")) {
			for _, discreet := range []bool{false, true} {
				for name, d := range samples {
					title, body := Compose(k, a, discreet, d)
					if strings.TrimSpace(title) == "" || strings.TrimSpace(body) == "" {
						t.Errorf("Compose(%s, %q, discreet=%v, %s) = %q, %q; want a title and a body", k, a, discreet, name, title, body)
					}
				}
			}
		}
	}
}

func TestDiscreetTextIsLockScreenSafe(t *testing.T) {
	// Words that would tell someone glancing at the phone what the app is for.
	banned := []string{"ex", "breakup", "slip", "contact", "urge", "risk", "crisis", "relationship", "days", "day",
		"streak", "counsellor", "client", "partner", "boundary", "journal", "mood", "milestone"}
	for _, k := range Kinds() {
		for _, a := range audiences {
			for name, d := range samples {
				title, body := Compose(k, a, true, d)
				text := title + "\n" + body
				ws := words(text)
				for _, b := range banned {
					if ws[b] || (len(b) > 3 && strings.Contains(strings.ToLower(text), b)) {
						t.Errorf("discreet %s/%s (%s) says %q: %q", k, a, name, b, text)
					}
				}
				if strings.Contains(text, label) {
					t.Errorf("discreet %s/%s (%s) shows the client label: %q", k, a, name, text)
				}
				if d.PromptText != "" && strings.Contains(text, d.PromptText) {
					t.Errorf("discreet %s/%s (%s) shows the prompt text: %q", k, a, name, text)
				}
				if strings.IndexFunc(text, unicode.IsDigit) >= 0 {
					t.Errorf("discreet %s/%s (%s) shows a number: %q", k, a, name, text)
				}
			}
		}
	}
}

func TestClientTextIsKind(t *testing.T) {
	// Words that blame or pressure. A slip is information, not a verdict.
	harsh := []string{"failed", "failure", "fail", "should", "shame", "ashamed", "fault", "blame", "weak",
		"ruined", "reset", "lost", "broke", "must", "disappointing"}
	for _, k := range Kinds() {
		for _, discreet := range []bool{false, true} {
			for name, d := range samples {
				title, body := Compose(k, Client, discreet, d)
				text := title + "\n" + body
				ws := words(text)
				for _, h := range harsh {
					if ws[h] {
						t.Errorf("client %s (discreet=%v, %s) says %q: %q", k, discreet, name, h, text)
					}
				}
				if ws["ex"] {
					t.Errorf("client %s (discreet=%v, %s) mentions the ex: %q", k, discreet, name, text)
				}
				if strings.Contains(text, label) {
					t.Errorf("client %s (discreet=%v, %s) shows the counsellor's label for them: %q", k, discreet, name, text)
				}
			}
		}
	}
}

func TestCounsellorTextNamesTheClient(t *testing.T) {
	aboutAClient := []Kind{MilestoneReached, PlanCompleted, SlipRecorded, ExContacted, HighUrge,
		RiskFlagRaised, RiskFlagEscalated, ConsentChanged, CareAssignmentChanged}
	for _, k := range aboutAClient {
		for name, d := range samples {
			if d.ClientLabel == "" {
				continue
			}
			title, body := Compose(k, Counsellor, false, d)
			if !strings.Contains(title, label) && !strings.Contains(body, label) {
				t.Errorf("counsellor %s (%s) does not say which client: %q / %q", k, name, title, body)
			}
		}
	}
}

func TestMilestoneShowsTheDay(t *testing.T) {
	tests := []struct {
		name        string
		day, target int
		clientTitle string // a client sees a warmer title on the special days
	}{
		{"first day", 1, 30, "Day 1: you did it"},
		{"ordinary day", 14, 30, "Day 14"},
		{"one month", 30, 90, "Day 30: a whole month"},
		{"target", 60, 60, "Day 60: you reached your goal"},
		{"target of thirty", 30, 30, "Day 30: you reached your goal"},
		{"after the target", 180, 90, "Day 180"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Data{MilestoneDay: tt.day, TargetDays: tt.target, ClientLabel: label}
			want := strconv.Itoa(tt.day)
			for _, a := range audiences {
				title, body := Compose(MilestoneReached, a, false, d)
				if !strings.Contains(title+" "+body, want) {
					t.Errorf("%s milestone = %q / %q; want day %s in it", a, title, body, want)
				}
			}
			if title, _ := Compose(MilestoneReached, Client, false, d); title != tt.clientTitle {
				t.Errorf("client title = %q, want %q", title, tt.clientTitle)
			}
		})
	}
}

func TestSlipIsMetWithSupport(t *testing.T) {
	tests := []struct {
		streak   int
		wantDays string
	}{
		{0, "The days before it still count"},
		{1, "Your 1 day before it still counts"},
		{12, "Your 12 days before it still count"},
	}
	for _, tt := range tests {
		_, body := Compose(SlipRecorded, Client, false, Data{StreakDays: tt.streak})
		for _, want := range []string{tt.wantDays, "not a judgement", "fresh start begins right now"} {
			if !strings.Contains(body, want) {
				t.Errorf("streak %d: client slip body %q lacks %q", tt.streak, body, want)
			}
		}
		_, cbody := Compose(SlipRecorded, Counsellor, false, Data{StreakDays: tt.streak, ClientLabel: label})
		if !strings.Contains(cbody, "earlier days still count") {
			t.Errorf("streak %d: counsellor slip body %q does not say the earlier days still count", tt.streak, cbody)
		}
	}
}

func TestPromptOfTheDayText(t *testing.T) {
	d := Data{PromptText: "  What helped you most this week?  "}
	if _, body := Compose(PromptOfTheDay, Client, false, d); body != "What helped you most this week?" {
		t.Errorf("plain prompt body = %q, want the prompt itself", body)
	}
	if _, body := Compose(PromptOfTheDay, Client, true, d); strings.Contains(body, "helped") {
		t.Errorf("discreet prompt body = %q, want it without the prompt", body)
	}
	if _, body := Compose(PromptOfTheDay, Client, false, Data{}); body == "" {
		t.Error("prompt without text gives an empty body")
	}
}

func TestConsentChangeSaysWhatAndWhichWay(t *testing.T) {
	tests := []struct {
		scope   string
		granted bool
		client  string
		counsel string
	}{
		{"PLAN_PROGRESS", true, "You're now sharing your plan progress", "now shares plan progress"},
		{"MOOD_INSIGHTS", false, "You've stopped sharing your mood and urge trends", "stopped sharing mood and urge insights"},
		{"CONSENT_SCOPE_SHARED_JOURNAL", true, "the journal entries you choose to share", "now shares shared journal entries"},
		{"risk_alerts", false, "stopped sharing safety alerts", "stopped sharing risk alerts"},
		{"", true, "some of your information", "now shares some information"},
	}
	for _, tt := range tests {
		d := Data{Scope: tt.scope, Granted: tt.granted, ClientLabel: label}
		if _, body := Compose(ConsentChanged, Client, false, d); !strings.Contains(body, tt.client) {
			t.Errorf("%s granted=%v: client body %q lacks %q", tt.scope, tt.granted, body, tt.client)
		}
		if _, body := Compose(ConsentChanged, Counsellor, false, d); !strings.Contains(body, tt.counsel) {
			t.Errorf("%s granted=%v: counsellor body %q lacks %q", tt.scope, tt.granted, body, tt.counsel)
		}
	}
}

func TestCareAssignmentChange(t *testing.T) {
	tests := []struct {
		status, client, counsel string
	}{
		{"ACTIVE", "A counsellor joined your care team", "You joined the care team of " + label},
		{"CARE_ASSIGNMENT_STATUS_PENDING", "A counsellor would like to join your care team", "Care request for " + label + " is waiting"},
		{"ended", "A counsellor left your care team", "You left the care team of " + label},
		{"", "Your care team changed", "Care team of " + label + " changed"},
	}
	for _, tt := range tests {
		d := Data{AssignmentStatus: tt.status, ClientLabel: label}
		if title, _ := Compose(CareAssignmentChanged, Client, false, d); title != tt.client {
			t.Errorf("%q: client title %q, want %q", tt.status, title, tt.client)
		}
		if title, _ := Compose(CareAssignmentChanged, Counsellor, false, d); title != tt.counsel {
			t.Errorf("%q: counsellor title %q, want %q", tt.status, title, tt.counsel)
		}
	}
}

func TestCounsellorAlertsAreActionable(t *testing.T) {
	d := Data{ClientLabel: label, UrgeIntensity: 9}
	for _, k := range []Kind{RiskFlagRaised, RiskFlagEscalated} {
		title, body := Compose(k, Counsellor, false, d)
		if !strings.HasPrefix(title, "Urgent:") || !strings.Contains(body, "acknowledge it in the dashboard") {
			t.Errorf("%s = %q / %q; want an urgent title and the step to take", k, title, body)
		}
		if !k.Urgent() {
			t.Errorf("%s is not urgent", k)
		}
	}
	if title, body := Compose(HighUrge, Counsellor, false, d); !strings.Contains(title, "9/10") || !strings.Contains(body, "9 out of 10") {
		t.Errorf("high urge = %q / %q; want the intensity", title, body)
	}
	for _, k := range Kinds() {
		if k.Urgent() != (k == RiskFlagRaised || k == RiskFlagEscalated) {
			t.Errorf("%s.Urgent() = %v", k, k.Urgent())
		}
		if !k.Valid() {
			t.Errorf("%s is not valid", k)
		}
	}
	if Kind("milestone").Valid() {
		t.Error(`Kind("milestone") is valid`)
	}
}

func TestDiscreetKindsStillDiffer(t *testing.T) {
	// A user with discreet text still tells a reminder from a celebration.
	reminder, _ := Compose(CheckInReminder, Client, true, Data{})
	milestone, _ := Compose(MilestoneReached, Client, true, Data{MilestoneDay: 7})
	risk, _ := Compose(RiskFlagRaised, Counsellor, true, Data{ClientLabel: label})
	if reminder == milestone || milestone == risk || reminder == risk {
		t.Errorf("discreet titles do not differ: %q, %q, %q", reminder, milestone, risk)
	}
}
