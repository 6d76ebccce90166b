// Package screening decides, from what a client writes and records, whether
// the moment calls for crisis resources and a risk flag for the care team.
//
// Three signals are screened: crisis language in any text the client writes
// (CrisisLanguage), very low mood on several days in a row (LowMoodStreak)
// and a very strong urge (HighUrge). The package is pure: no I/O, no clock;
// dates are passed in.
//
// The screening errs on the side of showing resources: showing a crisis line
// to someone who did not need it costs little, missing someone who did costs
// a great deal. It is a prompt for human care, never a diagnosis.
package screening

import "github.com/nocontact/backend/platform/events"

// Reason says which signal raised a risk flag. The values match the
// journal.v1 RiskReason enum names without their prefix, in lower case.
type Reason string

// The reasons a flag can be raised for.
const (
	ReasonCrisisLanguage Reason = "crisis_language"
	ReasonLowMoodStreak  Reason = "low_mood_streak"
	ReasonHighUrge       Reason = "high_urge"
)

// HighUrgeThreshold is the lowest urge intensity (0..10) that screens as
// high: the suite's one threshold, shared with notify.
const HighUrgeThreshold = events.HighUrgeIntensity

// HighUrge reports whether an urge of this intensity (0..10) calls for crisis
// resources and a flag: HighUrgeThreshold (9) or more. Values above 10 never reach here (the API
// validates them) but count as high rather than being ignored.
func HighUrge(intensity int) bool {
	return intensity >= HighUrgeThreshold
}

// SupportMessage is the short, gentle word shown with the crisis resources
// when a screening finds risk. It is empty for an unknown reason. When more
// than one reason applies, show the message of the first in this order:
// crisis language, low mood streak, high urge.
func SupportMessage(r Reason) string {
	switch r {
	case ReasonCrisisLanguage:
		return "Thank you for putting this into words. It sounds like you are carrying something really heavy right now, " +
			"and you do not have to carry it alone. The people below are there to listen, day or night. " +
			"If you feel you might act on these thoughts, please call your local emergency number now."
	case ReasonLowMoodStreak:
		return "The last few days have been really hard, and that is a lot to hold. " +
			"Talking to someone can help, even a little. The people below are there to listen, day or night."
	case ReasonHighUrge:
		return "This urge is strong right now. Strong urges rise, peak and pass, and you have got through hard moments before. " +
			"Try the step below, and if everything feels like too much, the people below are there to talk, day or night."
	default:
		return ""
	}
}
