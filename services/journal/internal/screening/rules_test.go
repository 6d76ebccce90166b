package screening

import (
	"testing"
)

// TestEveryRuleExampleMatches holds every entry of the reviewed phrase files
// to its own test case: the example screens with the entry's category at a
// severity that raises a flag.
func TestEveryRuleExampleMatches(t *testing.T) {
	n := 0
	for _, rs := range ruleSets {
		for _, r := range rs.rules {
			n++
			res := Screen(r.example)
			found := false
			for _, f := range res.Findings {
				if f.Category == r.category && f.Severity >= SeverityModerate {
					found = true
				}
			}
			if !found {
				t.Errorf("rules/%s.tsv %q: example %q screens as %+v, want category %s", rs.lang, r.pattern, r.example, res.Findings, r.category)
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d rules loaded", n)
	}
}

// TestIdiomExamplesScreenClean: every idiom entry's example is harmless.
func TestIdiomExamplesScreenClean(t *testing.T) {
	for _, ex := range contexts.idiomExamples {
		if res := Screen(ex); res.Crisis() {
			t.Errorf("idiom example %q screens as %+v, want nothing", ex, res.Findings)
		}
	}
}

// TestContextSeverity holds the context rules to what they must do to a
// finding: the severity the top finding ends at (none: no finding).
func TestContextSeverity(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Severity
	}{
		// A negator after the verb (German verb-second, French "ne ... pas"):
		// still the gentle check, never an alert and never nothing.
		{"de negator after the verb", "ich bringe mich nicht um", SeverityLow},
		{"de negator after the verb, self-harm", "ich verletze mich nicht mehr", SeverityLow},
		{"fr ne ... pas around the verb", "je ne veux pas mourir", SeverityLow},
		{"fr pas without ne", "je veux pas me tuer", SeverityLow},
		{"fr ne ... plus is no negation", "je ne veux plus vivre", SeverityModerate},
		// "can't stop", "not sure": the "not" does not negate the thought.
		{"can't stop", "I can't stop wanting to die", SeverityModerate},
		{"cannot help", "i cant help wanting to die", SeverityModerate},
		{"not sure I want to live", "i am not sure i want to live anymore", SeverityModerate},
		{"de kann nicht aufhören", "ich kann nicht aufhören an selbstmord zu denken", SeverityModerate},
		{"still negated", "I don't want to kill myself", SeverityLow},
		// German "will" is "want": ideation, not intent.
		{"de will is want", "ich will mich umbringen", SeverityModerate},
		// Multi-word alternatives (the "_" syntax) in context patterns.
		{"past with recovery, several words", "two years ago i tried to kill myself. today i am grateful i am still here", SeverityNone},
		{"past with therapy that helped", "back in uni i was suicidal for a while but therapy really helped", SeverityNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Screen(tt.text)
			if got := res.Top().Severity; got != tt.want {
				t.Errorf("Screen(%q) top severity %s, want %s (%+v)", tt.text, got, tt.want, res.Findings)
			}
		})
	}
}

func TestGermanWillIsNotIntent(t *testing.T) {
	if got := Screen("ich will mich umbringen").Top().Category; got != CategoryIdeation {
		t.Errorf("top category %s, want ideation: German \"will\" means \"want\"", got)
	}
}

// TestMultiWordAlternatives: a "_" alternative matches its words in a row,
// and only in a row.
func TestMultiWordAlternatives(t *testing.T) {
	r := compileRule("want to be_alive|exist", "test")
	toks := tokenize("i do not want to be alive")
	if _, ok := r.matchAt(toks, fuzzyForms(toks), 3); !ok {
		t.Error("be_alive did not match \"be alive\"")
	}
	toks = tokenize("i want to exist")
	if _, ok := r.matchAt(toks, fuzzyForms(toks), 1); !ok {
		t.Error("exist did not match")
	}
	toks = tokenize("i want to be very alive")
	if _, ok := r.matchAt(toks, fuzzyForms(toks), 1); ok {
		t.Error("be_alive matched with a word in between")
	}
}

// TestIdiomExplainsTheEndOfAMatch: an idiom that starts inside a match and
// runs to its end explains it ("je veux disparaître sous ma couette"); one
// that ends inside the match does not.
func TestIdiomExplainsTheEndOfAMatch(t *testing.T) {
	for _, text := range []string{
		"je veux disparaître sous ma couette",
		"je me tue à le répéter",
		"j'ai acheté une corde à sauter",
		"je me suis coupé en cuisinant",
		"i'm planning to jump into the lake on our camping trip",
	} {
		if res := Screen(text); res.Crisis() {
			t.Errorf("Screen(%q) = %+v, want nothing: an idiom explains it", text, res.Findings)
		}
	}
	for _, text := range []string{"je veux disparaître pour toujours", "je me tue", "j'ai acheté une corde"} {
		if res := Screen(text); !res.Alert() {
			t.Errorf("Screen(%q) = %+v, want an alert", text, res.Findings)
		}
	}
}

// TestEllipsisIsAPause: dots typed as an ellipsis do not end the sentence.
func TestEllipsisIsAPause(t *testing.T) {
	for _, text := range []string{"i want to........ die", "i want to… die", "i want to ... die"} {
		if !Screen(text).Alert() {
			t.Errorf("Screen(%q) raises no flag", text)
		}
	}
	if Screen("I just want to sleep. Die Hard is on tonight").Crisis() {
		t.Error("a full stop still ends the sentence")
	}
}
