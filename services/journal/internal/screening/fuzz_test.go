package screening

import (
	"reflect"
	"slices"
	"testing"
)

// FuzzScreen screens arbitrary text (any bytes: invalid UTF-8, control
// and zero-width characters, any script). It must never panic, must be
// deterministic, and every finding must be well formed: a known category,
// a severity from low to imminent, a rule file of its own, most severe
// first, and Crisis exactly when there is a finding.
//
// Bounded time is left to the fuzz engine, which reports an input that
// hangs a worker (go test -fuzz stops and saves it as a failing input);
// BenchmarkScreen measures the real per-call figures (p99 under 1 ms). No
// wall-clock bound is asserted here: on a machine shared by many, a timing
// assertion fails for reasons that are not the screener's.
func FuzzScreen(f *testing.F) {
	known := map[Category]bool{}
	for _, c := range Categories {
		known[c] = true
	}
	f.Fuzz(func(t *testing.T, text string) {
		res := Screen(text)
		if again := Screen(text); !reflect.DeepEqual(res, again) {
			t.Fatalf("Screen(%q) is not deterministic: %+v then %+v", text, res, again)
		}
		if res.Crisis() != (len(res.Findings) > 0) {
			t.Fatalf("Screen(%q): Crisis %v with %d findings", text, res.Crisis(), len(res.Findings))
		}
		if !slices.IsSortedFunc(res.Findings, byConcern) {
			t.Fatalf("Screen(%q): findings not most severe first: %+v", text, res.Findings)
		}
		for _, fd := range res.Findings {
			switch {
			case !known[fd.Category]:
				t.Fatalf("Screen(%q): unknown category %q", text, fd.Category)
			case fd.Severity < SeverityLow || fd.Severity > SeverityImminent:
				t.Fatalf("Screen(%q): severity %d out of range", text, fd.Severity)
			case fd.RuleSeverity < SeverityLow || fd.RuleSeverity > SeverityImminent:
				t.Fatalf("Screen(%q): rule severity %d out of range", text, fd.RuleSeverity)
			case fd.Lang != "en" && fd.Lang != "de" && fd.Lang != "fr":
				t.Fatalf("Screen(%q): rule file %q", text, fd.Lang)
			}
		}
	})
}
