// Package message writes the title and body of every notification the suite
// sends, for clients and for counsellors, in plain and in discreet
// (lock-screen safe) form.
//
// The words matter here more than anywhere else in the suite: a client reads
// these on a hard day. Client text is warm and never judges; it never names
// the person the client is taking space from, and it never shows the label a
// counsellor uses for the client. Counsellor text is informative and calm.
// Discreet text says nothing a stranger glancing at a lock screen could read
// anything into.
package message

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is what a notification is about. The values match the suffixes of the
// NotificationKind enum in nocontact.notify.v1.
type Kind string

// The kinds of notification.
const (
	MilestoneReached      Kind = "milestone_reached"
	PlanCompleted         Kind = "plan_completed"
	SlipRecorded          Kind = "slip_recorded"
	ExContacted           Kind = "ex_contacted"
	HighUrge              Kind = "high_urge"
	RiskFlagRaised        Kind = "risk_flag_raised"
	RiskFlagEscalated     Kind = "risk_flag_escalated"
	ConsentChanged        Kind = "consent_changed"
	CareAssignmentChanged Kind = "care_assignment_changed"
	CheckInReminder       Kind = "check_in_reminder"
	PromptOfTheDay        Kind = "prompt_of_the_day"
	// HardDateAhead is for the client only: one of the dates they named as
	// hard is tomorrow. It never shows their label for the date.
	HardDateAhead Kind = "hard_date_ahead"
	// WebhookDisabled tells a user the server disabled one of their
	// webhooks (the receiver said it is gone, or failed for days). Its text
	// is about settings only, safe on any lock screen.
	WebhookDisabled Kind = "webhook_disabled"
)

// Kinds returns every kind, in the order of the proto enum.
func Kinds() []Kind {
	return []Kind{
		MilestoneReached, PlanCompleted, SlipRecorded, ExContacted, HighUrge,
		RiskFlagRaised, RiskFlagEscalated, ConsentChanged, CareAssignmentChanged,
		CheckInReminder, PromptOfTheDay, HardDateAhead, WebhookDisabled,
	}
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	for _, known := range Kinds() {
		if k == known {
			return true
		}
	}
	return false
}

// Urgent reports whether notifications of this kind pass quiet hours and the
// daily cap: only risk flags, because a counsellor must see those at once.
func (k Kind) Urgent() bool {
	return k == RiskFlagRaised || k == RiskFlagEscalated
}

// Audience is who reads a notification.
type Audience string

// The audiences.
const (
	Client     Audience = "client"
	Counsellor Audience = "counsellor"
)

// Data is what a notification may mention. Each kind reads only the fields it
// needs; zero values are handled gracefully.
type Data struct {
	// MilestoneDay is the day reached, for milestones.
	MilestoneDay int
	// TargetDays is the plan's target.
	TargetDays int
	// StreakDays is how long the attempt that just ended lasted, for slips.
	StreakDays int
	// UrgeIntensity is 0 to 10, for high urges.
	UrgeIntensity int
	// ClientLabel is how a counsellor's notification names the client (for
	// example an id). It is never shown to the client.
	ClientLabel string
	// Granted tells whether a consent scope was granted (true) or revoked.
	Granted bool
	// Scope is the consent scope that changed, as the ConsentScope enum name
	// ("PLAN_PROGRESS", "MOOD_INSIGHTS", "SHARED_JOURNAL", "RISK_ALERTS");
	// case and a "CONSENT_SCOPE_" prefix do not matter.
	Scope string
	// AssignmentStatus is the care assignment's state after the change, as the
	// CareAssignmentStatus enum name ("PENDING", "ACTIVE", "ENDED"); case and a
	// "CARE_ASSIGNMENT_STATUS_" prefix do not matter.
	AssignmentStatus string
	// PromptText is the reflection prompt, for the prompt of the day. It is
	// left out of discreet text.
	PromptText string
	// Severity is a risk flag's severity ("moderate", "high", "imminent";
	// empty when the event did not say), for the counsellor's risk flag
	// notifications. It never names what the client wrote.
	Severity string
}

// SeverityImminent is the severity of an attempt under way or a plan with
// timing: the flag is escalated at once.
const SeverityImminent = "imminent"

// Compose returns the title and body of a notification of kind k for
// audience a. With discreet set, the text is safe for a lock screen whatever
// the kind: no names or labels, no numbers, nothing about a breakup.
//
// An unknown audience gets client text (which never shows ClientLabel); an
// unknown kind gets a neutral "open the app" text. Compose never returns an
// empty title or body.
func Compose(k Kind, a Audience, discreet bool, d Data) (title, body string) {
	switch {
	case k == WebhookDisabled && discreet:
		return "A settings update", neutralBody
	case k == WebhookDisabled:
		return "A webhook was turned off",
			"One of your webhooks stopped accepting deliveries, so nothing more is sent to it. You can check it and turn it back on in your settings."
	case discreet:
		return discreetText(k, a)
	case a == Counsellor:
		return counsellorText(k, d)
	default:
		return clientText(k, d)
	}
}

const (
	neutralTitle = "A new update"
	neutralBody  = "Open the app to see it."
)

// discreetText differs per kind only in tone, never in content: someone who
// sees the lock screen learns nothing about what the app is for.
func discreetText(k Kind, a Audience) (string, string) {
	switch k {
	case MilestoneReached, PlanCompleted:
		return "Something to celebrate", neutralBody
	case SlipRecorded:
		return "A note for you", "Open the app whenever you're ready."
	case ExContacted:
		return "A note for you", neutralBody
	case CheckInReminder:
		return "A moment for yourself", "Take a minute to check in with yourself today."
	case PromptOfTheDay:
		return "Today's question is ready", "Open the app when you have a quiet moment."
	case HardDateAhead:
		return "Thinking of you", "Be gentle with yourself tomorrow. The app is there whenever you want it."
	case ConsentChanged:
		return "A settings update", neutralBody
	case HighUrge:
		if a == Counsellor {
			return "An update for you", neutralBody
		}
		return "Here for you", "Open the app whenever you need it."
	case RiskFlagRaised:
		if a == Counsellor {
			return "Needs your attention", "Please open the app as soon as you can."
		}
		return "Here for you", "Support is in the app, whenever you need it."
	case RiskFlagEscalated:
		if a == Counsellor {
			return "Still needs your attention", "Please open the app now."
		}
		return "Here for you", "Support is in the app, whenever you need it."
	default:
		return neutralTitle, neutralBody
	}
}

func clientText(k Kind, d Data) (string, string) {
	switch k {
	case MilestoneReached:
		return clientMilestone(d)
	case PlanCompleted:
		body := "You completed your plan. Whatever you choose next, you've shown yourself what you can do. " +
			"You can extend it or close it in the app whenever you're ready."
		if d.TargetDays > 0 {
			body = fmt.Sprintf("You completed your %d-day plan. Whatever you choose next, you've shown yourself what you can do. "+
				"You can extend it or close it in the app whenever you're ready.", d.TargetDays)
		}
		return "You reached your goal", body
	case SlipRecorded:
		before := "The days before it still count"
		switch {
		case d.StreakDays == 1:
			before = "Your 1 day before it still counts"
		case d.StreakDays > 1:
			before = fmt.Sprintf("Your %d days before it still count", d.StreakDays)
		}
		return "Every day you gave yourself still counts",
			"What happened is something to learn from, not a judgement of you. " + before +
				", and a fresh start begins right now. When you feel ready, a short reflection in the app can help you see what led up to it."
	case ExContacted:
		return "You held your boundary",
			"Someone you're taking space from reached out, and you kept the space you need. " +
				"That takes real strength. Your reasons are in the app whenever you want to reread them."
	case HighUrge:
		return "This wave will pass",
			"Strong feelings rise and fall, and you don't have to act on this one. " +
				"Your reasons, your people and a next step are waiting in the app."
	case RiskFlagRaised, RiskFlagEscalated:
		return "You don't have to carry this alone",
			"Support is available right now. Open the app to see people and services you can reach, day or night."
	case ConsentChanged:
		what := clientScope(d.Scope)
		if d.Granted {
			return "Your sharing settings changed",
				fmt.Sprintf("You're now sharing %s with your care team. You can change this at any time.", what)
		}
		return "Your sharing settings changed",
			fmt.Sprintf("You've stopped sharing %s with your care team. This took effect right away.", what)
	case CareAssignmentChanged:
		switch assignmentStatus(d.AssignmentStatus) {
		case "ACTIVE":
			return "A counsellor joined your care team",
				"They can support you with what you've chosen to share, and you can change what you share at any time."
		case "PENDING":
			return "A counsellor would like to join your care team",
				"It's your choice: accept or decline in the app, and decide what they can see."
		case "ENDED":
			return "A counsellor left your care team",
				"They can no longer see anything of yours. Your plan and everything you've written stay with you."
		default:
			return "Your care team changed", "Open the app to see who is on your care team."
		}
	case CheckInReminder:
		return "Time for your check-in",
			"How are you feeling today? A quick check-in takes a minute and helps you see how far you've come."
	case PromptOfTheDay:
		if p := strings.TrimSpace(d.PromptText); p != "" {
			return "Today's reflection", p
		}
		return "Today's reflection", "A new question is waiting for you in the app."
	case HardDateAhead:
		return "Tomorrow may feel heavy",
			"Tomorrow is one of the dates you said could be hard. Whatever you feel then is allowed. " +
				"It can help to plan something kind for yourself, let someone you trust know, and keep your reasons close. " +
				"They're in the app, along with your people, whenever you need them."
	default:
		return neutralTitle, neutralBody
	}
}

func clientMilestone(d Data) (string, string) {
	n := d.MilestoneDay
	switch {
	case n <= 0:
		return "You reached a milestone", "Every day of space you give yourself counts. Open the app to see your progress."
	case n == d.TargetDays:
		return fmt.Sprintf("Day %d: you reached your goal", n),
			fmt.Sprintf("You set out to give yourself %s of space, and you did it. Take a moment to notice how far you've come.", days(n))
	case n == 1:
		return "Day 1: you did it",
			"The first day is often the hardest, and you made it through. Be gentle with yourself tonight."
	case n == 30:
		return "Day 30: a whole month",
			"Thirty days of choosing yourself, one day at a time. That took real strength. Let yourself feel proud of it."
	default:
		return fmt.Sprintf("Day %d", n),
			fmt.Sprintf("You've given yourself %s of space to heal. Each one counts.", days(n))
	}
}

func counsellorText(k Kind, d Data) (string, string) {
	who := strings.TrimSpace(d.ClientLabel)
	if who == "" {
		who = "A client"
	}
	switch k {
	case MilestoneReached:
		n := d.MilestoneDay
		if n > 0 && n == d.TargetDays {
			return fmt.Sprintf("%s reached their target of %s", who, days(n)),
				fmt.Sprintf("%s reached day %d, the target of their plan.", who, n)
		}
		body := fmt.Sprintf("%s reached day %d of their current attempt.", who, n)
		if d.TargetDays > 0 {
			body = fmt.Sprintf("%s reached day %d of their current attempt (target: %s).", who, n, days(d.TargetDays))
		}
		return fmt.Sprintf("%s reached day %d", who, n), body
	case PlanCompleted:
		body := fmt.Sprintf("%s reached the target of their plan. You may want to talk with them about what comes next.", who)
		if d.TargetDays > 0 {
			body = fmt.Sprintf("%s reached their target of %s. You may want to talk with them about what comes next.", who, days(d.TargetDays))
		}
		return fmt.Sprintf("%s completed their plan", who), body
	case SlipRecorded:
		body := fmt.Sprintf("%s logged a slip, and a new attempt has started. Their earlier days still count toward their total.", who)
		if d.StreakDays > 0 {
			body = fmt.Sprintf("%s logged a slip after %s, and a new attempt has started. Their earlier days still count toward their total.", who, days(d.StreakDays))
		}
		return fmt.Sprintf("%s logged a slip", who), body
	case ExContacted:
		return fmt.Sprintf("%s held a boundary", who),
			fmt.Sprintf("%s logged contact from the person they are taking space from and did not engage. Their current attempt continues.", who)
	case HighUrge:
		return fmt.Sprintf("%s logged a strong urge (%d/10)", who, d.UrgeIntensity),
			fmt.Sprintf("%s logged an urge at intensity %d out of 10. The app showed them their reasons, support contacts and a coping step.", who, d.UrgeIntensity)
	case RiskFlagRaised:
		if d.Severity == SeverityImminent {
			return fmt.Sprintf("Urgent: imminent risk for %s", who),
				fmt.Sprintf("Screening raised a risk flag of imminent severity for %s and escalated it at once. "+
					"Please follow your service's emergency procedure now and acknowledge the flag in the dashboard. "+
					"They were shown emergency numbers and crisis resources straight away.", who)
		}
		sev := ""
		if d.Severity != "" {
			sev = " (" + d.Severity + " severity)"
		}
		return fmt.Sprintf("Urgent: risk flag for %s", who),
			fmt.Sprintf("Screening raised a risk flag%s for %s. Please review it and acknowledge it in the dashboard. "+
				"They were shown crisis resources straight away.", sev, who)
	case RiskFlagEscalated:
		if d.Severity == SeverityImminent {
			return fmt.Sprintf("Urgent: risk flag for %s escalated at once", who),
				fmt.Sprintf("The risk flag for %s is of imminent severity, so it was escalated without waiting. "+
					"Please acknowledge it in the dashboard now, or follow your service's escalation procedure.", who)
		}
		return fmt.Sprintf("Urgent: risk flag for %s is still open", who),
			fmt.Sprintf("The risk flag for %s was not acknowledged in time. Please acknowledge it in the dashboard now, "+
				"or follow your service's escalation procedure.", who)
	case ConsentChanged:
		what := counsellorScope(d.Scope)
		if d.Granted {
			return fmt.Sprintf("%s shared more with you", who),
				fmt.Sprintf("%s now shares %s with you.", who, what)
		}
		return fmt.Sprintf("%s changed what they share", who),
			fmt.Sprintf("%s stopped sharing %s with you. This took effect immediately.", who, what)
	case CareAssignmentChanged:
		switch assignmentStatus(d.AssignmentStatus) {
		case "ACTIVE":
			return fmt.Sprintf("You joined the care team of %s", who),
				fmt.Sprintf("You can now see what %s has consented to share.", who)
		case "PENDING":
			return fmt.Sprintf("Care request for %s is waiting", who),
				fmt.Sprintf("%s has not accepted the request yet.", who)
		case "ENDED":
			return fmt.Sprintf("You left the care team of %s", who),
				fmt.Sprintf("You no longer have access to the data of %s.", who)
		default:
			return fmt.Sprintf("Care team of %s changed", who),
				"Open the dashboard to see the current assignment."
		}
	case CheckInReminder:
		return "Time for a check-in", "Open the dashboard to see how your clients are doing."
	case PromptOfTheDay:
		if p := strings.TrimSpace(d.PromptText); p != "" {
			return "Today's reflection prompt", p
		}
		return "Today's reflection prompt", "A new prompt is in the app today."
	default:
		return neutralTitle, neutralBody
	}
}

// enumName normalises an enum value name: upper case, without its prefix.
func enumName(s, prefix string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), prefix)
}

func assignmentStatus(s string) string { return enumName(s, "CARE_ASSIGNMENT_STATUS_") }

func clientScope(s string) string {
	switch enumName(s, "CONSENT_SCOPE_") {
	case "PLAN_PROGRESS":
		return "your plan progress"
	case "MOOD_INSIGHTS":
		return "your mood and urge trends"
	case "SHARED_JOURNAL":
		return "the journal entries you choose to share"
	case "RISK_ALERTS":
		return "safety alerts"
	default:
		return "some of your information"
	}
}

func counsellorScope(s string) string {
	switch enumName(s, "CONSENT_SCOPE_") {
	case "PLAN_PROGRESS":
		return "plan progress"
	case "MOOD_INSIGHTS":
		return "mood and urge insights"
	case "SHARED_JOURNAL":
		return "shared journal entries"
	case "RISK_ALERTS":
		return "risk alerts"
	default:
		return "some information"
	}
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}
