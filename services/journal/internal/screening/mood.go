package screening

import "time"

// VeryLowMood is the bottom of the -3..+3 mood scale.
const VeryLowMood = -3

// LowMoodStreakDays is how many local days in a row at VeryLowMood raise a
// flag.
const LowMoodStreakDays = 3

const dateLayout = "2006-01-02"

// MoodCheckIn is one check-in's mood on the client's local date
// ("YYYY-MM-DD").
type MoodCheckIn struct {
	LocalDate string
	Mood      int
}

// LowMoodStreak reports whether the client's mood was at the very bottom of
// the scale (-3) on three consecutive local dates ending today or
// yesterday. Ending yesterday matters because the day's check-in may not be
// in yet, or a better moment today does not undo three very hard days.
//
// A day counts when any of its check-ins was -3 (the day's lowest mood, not
// its mean): one very low moment is worth noticing even on a day that also
// had a calmer check-in. Check-ins after today or with a malformed date are
// ignored; a malformed today gives false.
func LowMoodStreak(checkIns []MoodCheckIn, today string) bool {
	end, err := time.Parse(dateLayout, today)
	if err != nil {
		return false
	}
	low := map[time.Time]bool{}
	for _, c := range checkIns {
		if c.Mood > VeryLowMood {
			continue
		}
		d, err := time.Parse(dateLayout, c.LocalDate)
		if err != nil || d.After(end) {
			continue
		}
		low[d] = true
	}
	if len(low) < LowMoodStreakDays {
		return false
	}
	// Dates parse to midnight UTC, so AddDate steps whole calendar days
	// whatever the client's time zone does.
	for _, last := range []time.Time{end, end.AddDate(0, 0, -1)} {
		streak := true
		for i := range LowMoodStreakDays {
			if !low[last.AddDate(0, 0, -i)] {
				streak = false
				break
			}
		}
		if streak {
			return true
		}
	}
	return false
}
