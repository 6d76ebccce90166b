package prompts

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestEveryThemeHasEnoughPrompts(t *testing.T) {
	if n := len(All()); n < 42 {
		t.Errorf("All() has %d prompts, want at least 42", n)
	}
	for _, theme := range Themes() {
		if n := len(ByTheme(theme)); n < 5 {
			t.Errorf("theme %q has %d prompts, want at least 5", theme, n)
		}
	}
	if got := ByTheme("astrology"); len(got) != 0 {
		t.Errorf("ByTheme of an unknown theme = %d prompts, want none", len(got))
	}
}

func TestPromptsAreWellFormed(t *testing.T) {
	themes := map[string]bool{}
	for _, th := range Themes() {
		themes[th] = true
	}
	ids := map[string]bool{}
	texts := map[string]bool{}
	for _, p := range All() {
		if !themes[p.Theme] {
			t.Errorf("%s: theme %q is not one the API accepts", p.ID, p.Theme)
		}
		wantPrefix := "p-" + strings.ReplaceAll(p.Theme, "_", "-") + "-"
		if !regexp.MustCompile(`^` + regexp.QuoteMeta(wantPrefix) + `\d{2}$`).MatchString(p.ID) {
			t.Errorf("id %q does not follow %sNN", p.ID, wantPrefix)
		}
		if len(p.ID) > 64 {
			t.Errorf("id %q is longer than an entry's prompt_id may be", p.ID)
		}
		if ids[p.ID] {
			t.Errorf("duplicate id %q", p.ID)
		}
		ids[p.ID] = true
		if texts[p.Text] {
			t.Errorf("duplicate text %q", p.Text)
		}
		texts[p.Text] = true
		if got, ok := Get(p.ID); !ok || got != p {
			t.Errorf("Get(%q) = %v, %v; want the prompt", p.ID, got, ok)
		}
	}
	if _, ok := Get("p-nope-01"); ok {
		t.Error("Get of an unknown id reported ok")
	}
}

func TestPromptsNeitherJudgeNorInstruct(t *testing.T) {
	// A simple guard for the tone: no judging the other person, no telling
	// the client what to feel, no names.
	banned := []string{
		"your ex is", "your ex was", "should", "must", "toxic", "narcissis", "crazy", "psycho",
		"manipulat", "abuser", "get over it", "move on", "man up", "overreact",
	}
	capitalised := regexp.MustCompile(`[^.?!:]\s+([A-Z][a-z]+)`)
	for _, p := range All() {
		lower := strings.ToLower(p.Text)
		for _, b := range banned {
			if strings.Contains(lower, b) {
				t.Errorf("%s contains %q: %s", p.ID, b, p.Text)
			}
		}
		// A capitalised word mid-sentence would be a name.
		for _, m := range capitalised.FindAllStringSubmatch(p.Text, -1) {
			t.Errorf("%s mentions %q, which looks like a name: %s", p.ID, m[1], p.Text)
		}
		if !strings.HasSuffix(p.Text, "?") && !strings.HasSuffix(p.Text, ".") {
			t.Errorf("%s does not end as a sentence: %s", p.ID, p.Text)
		}
		if n := len(p.Text); n < 20 || n > 200 {
			t.Errorf("%s is %d characters; prompts stay short enough for a phone screen", p.ID, n)
		}
	}
}

func TestForDayFollowsTheArc(t *testing.T) {
	tests := []struct {
		day  int
		want []string // acceptable themes
	}{
		{0, []string{ThemeReasons}},
		{1, []string{ThemeSelfCare}},
		{2, []string{ThemeReasons}},
		{7, []string{ThemeNeedsWants}},
		{14, []string{ThemeWhatWorked}},
		{29, []string{ThemeGoals}},
		{30, []string{ThemeReasons}}, // the arc starts again
	}
	for _, tt := range tests {
		got := ForDay(tt.day).Theme
		ok := false
		for _, w := range tt.want {
			ok = ok || got == w
		}
		if !ok {
			t.Errorf("ForDay(%d).Theme = %q, want one of %q", tt.day, got, tt.want)
		}
	}
	for day := range 7 {
		if th := ForDay(day).Theme; th != ThemeReasons && th != ThemeSelfCare {
			t.Errorf("first week day %d has theme %q, want reasons or self-care", day, th)
		}
	}
}

func TestForDayShowsEachArcPromptOncePerCycle(t *testing.T) {
	seen := map[string]int{}
	for day := range ArcDays {
		seen[ForDay(day).ID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s appears %d times in one cycle", id, n)
		}
	}
	if len(seen) != ArcDays {
		t.Errorf("one cycle shows %d distinct prompts, want %d", len(seen), ArcDays)
	}
	for id := range seen {
		p, _ := Get(id)
		if p.Theme == ThemeSlips || p.Theme == ThemeContactFromEx {
			t.Errorf("%s (%s) is in the daily arc; it belongs to a particular moment", id, p.Theme)
		}
	}
}

func TestForDayIsDeterministicAndNeverPanics(t *testing.T) {
	for _, day := range []int{0, 1, 13, 29, 30, 31, 365, 10_000, math.MaxInt, -1, math.MinInt} {
		a, b := ForDay(day), ForDay(day)
		if a != b || a.ID == "" {
			t.Errorf("ForDay(%d) = %v then %v", day, a, b)
		}
	}
	if ForDay(-5) != ForDay(0) {
		t.Error("a negative day does not get the first day's prompt")
	}
	if ForDay(ArcDays+3) != ForDay(3) {
		t.Error("the arc does not repeat after ArcDays")
	}
}

func TestAllReturnsACopy(t *testing.T) {
	a := All()
	a[0].Text = "changed"
	if All()[0].Text == "changed" {
		t.Error("changing All()'s result changed the library")
	}
}
