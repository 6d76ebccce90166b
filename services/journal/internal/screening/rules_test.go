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
