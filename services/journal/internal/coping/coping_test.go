package coping

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestEveryStepIsUsable(t *testing.T) {
	all := All()
	if len(all) < 12 {
		t.Fatalf("All() has %d steps, want at least 12", len(all))
	}
	ids := map[string]bool{}
	for _, s := range all {
		if ids[s.ID] {
			t.Errorf("duplicate id %q", s.ID)
		}
		ids[s.ID] = true
		if s.ID == "" || s.Title == "" || len(s.Text) < 40 {
			t.Errorf("step %q lacks an id, a title or a real instruction: %+v", s.ID, s)
		}
		if s.Minutes <= 0 || s.Minutes > 30 {
			t.Errorf("step %q takes %d minutes, want 1 to 30", s.ID, s.Minutes)
		}
		lower := strings.ToLower(s.Text + " " + s.Title)
		for _, banned := range []string{"should", "your ex", "toxic", "just get over"} {
			if strings.Contains(lower, banned) {
				t.Errorf("step %q contains %q", s.ID, banned)
			}
		}
		if got, ok := Get(s.ID); !ok || got != s {
			t.Errorf("Get(%q) = %v, %v", s.ID, got, ok)
		}
	}
	for _, want := range []string{Breathe478, BoxBreathing, ColdWater, Walk10, Delay15, WriteItHere, ReachOut, ReadReasons, Grounding54321, PhoneAway, MuteChat, WarmDrink, ShortShower} {
		if !ids[want] {
			t.Errorf("missing step %q", want)
		}
	}
}

// options collects every step For offers as seq varies.
func options(intensity int, trigger string) []string {
	var out []string
	for seq := range uint64(12) {
		id := For(intensity, trigger, seq).ID
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func TestForFitsTheMoment(t *testing.T) {
	tests := []struct {
		name      string
		intensity int
		trigger   string
		mustOffer []string // each of these appears for some seq
		onlyFrom  []string // nothing outside these appears
	}{
		{"a very strong urge calms the body first", 9, "their_social_media",
			[]string{Breathe478, ColdWater, Grounding54321}, []string{Breathe478, BoxBreathing, ColdWater, Grounding54321}},
		{"intensity 8 is already strong", 8, "", []string{ColdWater}, []string{Breathe478, BoxBreathing, ColdWater, Grounding54321}},
		{"their social media: log out, put the phone away", 5, "their_social_media",
			[]string{LogOut, PhoneAway}, []string{LogOut, PhoneAway, MuteChat}},
		{"at night: wind down without screens", 4, "nighttime",
			[]string{WindDown}, []string{WindDown, PhoneAway, WarmDrink}},
		{"after a drink: water and no phone", 6, "alcohol",
			[]string{WaterNoPhone, PhoneAway}, []string{WaterNoPhone, PhoneAway, ReachOut}},
		{"lonely: reach someone", 3, "loneliness",
			[]string{ReachOut}, []string{ReachOut, Walk10, WarmDrink}},
		{"they got in touch: no reply needed now", 5, "contact_from_ex",
			[]string{NoReplyNeeded, WriteItHere}, []string{NoReplyNeeded, WriteItHere, ReachOut}},
		{"no trigger: a general step", 5, "", []string{Delay15, ReadReasons}, general},
		{"other: a general step", 2, "other", []string{Delay15}, general},
		{"unknown trigger: a general step", 2, "weather", []string{Delay15}, general},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := options(tt.intensity, tt.trigger)
			for _, id := range tt.mustOffer {
				if !slices.Contains(got, id) {
					t.Errorf("For(%d, %q, ·) never offers %q; offers %q", tt.intensity, tt.trigger, id, got)
				}
			}
			for _, id := range got {
				if !slices.Contains(tt.onlyFrom, id) {
					t.Errorf("For(%d, %q, ·) offers %q, which does not fit", tt.intensity, tt.trigger, id)
				}
			}
		})
	}
}

func TestForFirstChoiceIsTheBestFit(t *testing.T) {
	for trigger, want := range map[string]string{
		"their_social_media": LogOut,
		"nighttime":          WindDown,
		"alcohol":            WaterNoPhone,
		"loneliness":         ReachOut,
	} {
		if got := For(5, trigger, 0).ID; got != want {
			t.Errorf("For(5, %q, 0) = %q, want %q", trigger, got, want)
		}
	}
}

func TestForRotatesDeterministically(t *testing.T) {
	a, b := For(5, "loneliness", 0), For(5, "loneliness", 1)
	if a.ID == b.ID {
		t.Errorf("consecutive urges both got %q; want variety", a.ID)
	}
	for _, seq := range []uint64{0, 1, 2, 99, math.MaxUint64} {
		if For(5, "alcohol", seq) != For(5, "alcohol", seq) {
			t.Errorf("For is not deterministic at seq %d", seq)
		}
	}
	for _, intensity := range []int{-1, 0, 10, 11, math.MaxInt} {
		if s := For(intensity, "", math.MaxUint64); s.ID == "" {
			t.Errorf("For(%d, ...) gave no step", intensity)
		}
	}
}

func TestEveryTriggerInTheVocabularyHasAStep(t *testing.T) {
	for _, trigger := range []string{"", "their_social_media", "mutual_friends", "places", "dates_anniversaries", "music", "alcohol", "loneliness", "nighttime", "photos", "contact_from_ex", "boredom", "stress", "other"} {
		for intensity := range 11 {
			if s := For(intensity, trigger, 3); s.ID == "" || s.Text == "" {
				t.Errorf("For(%d, %q, 3) gave an empty step", intensity, trigger)
			}
		}
	}
}
