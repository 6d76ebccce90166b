package screening

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The thresholds the labelled set is held to (docs/decisions.md, "Crisis
// screening: the labelled set"). Crisis versus benign per language: recall
// (a crisis text gets resources) and precision (a text that gets resources
// was a crisis text). Category agreement: among the crisis texts that were
// found, the share whose top finding has the labelled category (what the
// counsellor's flag shows). Severity agreement: among the crisis texts that
// were found, the share whose top severity is at least the labelled minimum
// (an imminent text must screen imminent).
const (
	minRecall            = 0.95
	minPrecision         = 0.90
	minCategoryAgreement = 0.85
	minSeverityAgreement = 0.90
)

type labelled struct {
	lang     string
	line     int
	crisis   bool
	category Category
	severity Severity
	text     string
}

func readLabelled(t *testing.T, dir string) []labelled {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tsv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no labelled set: %v", err)
	}
	var out []labelled
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		lang := strings.TrimSuffix(filepath.Base(name), ".tsv")
		sc := bufio.NewScanner(f)
		no := 0
		for sc.Scan() {
			no++
			line := sc.Text()
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			fs := strings.SplitN(line, "\t", 4)
			if len(fs) != 4 {
				t.Fatalf("%s:%d: want 4 TAB-separated fields", name, no)
			}
			l := labelled{lang: lang, line: no, text: fs[3]}
			switch fs[0] {
			case "crisis":
				l.crisis = true
				l.category = Category(fs[1])
				if !isCategory(l.category) {
					t.Fatalf("%s:%d: unknown category %q", name, no, fs[1])
				}
				sev, ok := ParseSeverity(fs[2])
				if !ok || sev == SeverityNone {
					t.Fatalf("%s:%d: bad severity %q", name, no, fs[2])
				}
				l.severity = sev
			case "benign":
				if fs[1] != "-" || fs[2] != "-" {
					t.Fatalf("%s:%d: a benign text has no category or severity", name, no)
				}
			default:
				t.Fatalf("%s:%d: label %q is neither crisis nor benign", name, no, fs[0])
			}
			out = append(out, l)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

type tally struct{ tp, fp, fn, tn, catOK, sevOK int }

func (c tally) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c tally) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c tally) catAgreement() float64 {
	return ratio(c.catOK, c.tp)
}
func (c tally) sevAgreement() float64 { return ratio(c.sevOK, c.tp) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// TestLabelledSet screens every labelled text and reports precision and
// recall per language and per category (run with -v for the tables and
// every miss):
//
//	go test -count=1 -v -run TestLabelledSet ./services/journal/internal/screening/
func TestLabelledSet(t *testing.T) {
	set := readLabelled(t, "testdata/labelled")
	byLang := map[string]*tally{}
	byCat := map[Category]*tally{}   // recall: labelled c and found; catOK: top category c
	predCat := map[Category][2]int{} // texts whose top category is c: [labelled c, all]
	var langs []string
	crisis, benign := 0, 0
	for _, l := range set {
		if byLang[l.lang] == nil {
			byLang[l.lang] = &tally{}
			langs = append(langs, l.lang)
		}
		if l.crisis {
			crisis++
		} else {
			benign++
		}
		res := Screen(l.text)
		top := res.Top()
		got := res.Crisis()
		lt := byLang[l.lang]
		where := fmt.Sprintf("%s.tsv:%d", l.lang, l.line)
		if got {
			p := predCat[top.Category]
			p[1]++
			if l.crisis && top.Category == l.category {
				p[0]++
			}
			predCat[top.Category] = p
		}
		switch {
		case l.crisis && got:
			lt.tp++
			ct := catTally(byCat, l.category)
			ct.tp++
			if top.Category == l.category {
				lt.catOK++
				ct.catOK++
			} else {
				t.Logf("category  %s: %q: top %s/%s, labelled %s", where, l.text, top.Category, top.Severity, l.category)
			}
			if top.Severity >= l.severity {
				lt.sevOK++
				ct.sevOK++
			} else {
				t.Logf("severity  %s: %q: %s (%s), labelled at least %s", where, l.text, top.Severity, top.Lowered, l.severity)
			}
		case l.crisis:
			lt.fn++
			catTally(byCat, l.category).fn++
			t.Logf("missed    %s: %q (%s)", where, l.text, l.category)
		case got:
			lt.fp++
			t.Logf("false     %s: %q: %s/%s lang %s lowered %q", where, l.text, top.Category, top.Severity, top.Lang, top.Lowered)
		default:
			lt.tn++
		}
	}
	if crisis+benign < 400 || benign < 150 {
		t.Errorf("the labelled set has %d texts (%d benign); want at least 400 and 150", crisis+benign, benign)
	}

	sort.Strings(langs)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-5s %6s %6s %4s %4s %4s %4s %9s %7s %8s %8s\n", "lang", "crisis", "benign", "tp", "fn", "fp", "tn", "precision", "recall", "category", "severity")
	all := tally{}
	for _, lang := range langs {
		c := byLang[lang]
		all.tp, all.fp, all.fn, all.tn, all.catOK, all.sevOK = all.tp+c.tp, all.fp+c.fp, all.fn+c.fn, all.tn+c.tn, all.catOK+c.catOK, all.sevOK+c.sevOK
		fmt.Fprintf(&b, "%-5s %6d %6d %4d %4d %4d %4d %9.3f %7.3f %8.3f %8.3f\n", lang, c.tp+c.fn, c.fp+c.tn, c.tp, c.fn, c.fp, c.tn, c.precision(), c.recall(), c.catAgreement(), c.sevAgreement())
	}
	fmt.Fprintf(&b, "%-5s %6d %6d %4d %4d %4d %4d %9.3f %7.3f %8.3f %8.3f\n", "all", all.tp+all.fn, all.fp+all.tn, all.tp, all.fn, all.fp, all.tn, all.precision(), all.recall(), all.catAgreement(), all.sevAgreement())
	fmt.Fprintf(&b, "\n%-12s %5s %7s %17s %18s %8s\n", "category", "texts", "recall", "category recall", "category precision", "severity")
	for _, cat := range Categories {
		c := catTally(byCat, cat)
		p := predCat[cat]
		fmt.Fprintf(&b, "%-12s %5d %7.3f %17.3f %18.3f %8.3f\n", cat, c.tp+c.fn, c.recall(), ratio(c.catOK, c.tp+c.fn), ratio(p[0], p[1]), c.sevAgreement())
	}
	t.Log(b.String())

	for _, lang := range langs {
		c := byLang[lang]
		if c.recall() < minRecall {
			t.Errorf("%s: recall %.3f, want at least %.2f", lang, c.recall(), minRecall)
		}
		if c.precision() < minPrecision {
			t.Errorf("%s: precision %.3f, want at least %.2f", lang, c.precision(), minPrecision)
		}
		if c.catAgreement() < minCategoryAgreement {
			t.Errorf("%s: category agreement %.3f, want at least %.2f", lang, c.catAgreement(), minCategoryAgreement)
		}
		if c.sevAgreement() < minSeverityAgreement {
			t.Errorf("%s: severity agreement %.3f, want at least %.2f", lang, c.sevAgreement(), minSeverityAgreement)
		}
	}
}

func catTally(m map[Category]*tally, c Category) *tally {
	if m[c] == nil {
		m[c] = &tally{}
	}
	return m[c]
}

// TestHeldOutSet reports, and never fails on, precision and recall on the
// held-out texts (testdata/heldout): written before the rules were tuned
// and never tuned against, they estimate how the rules do on text they
// were not written for (run with -v to see the table). It names the lines it
// misses but never their text, so that a reader tuning the rules is not
// tempted to tune against them:
//
//	go test -count=1 -v -run TestHeldOutSet ./services/journal/internal/screening/
func TestHeldOutSet(t *testing.T) {
	reportSet(t, "testdata/heldout", "held out", false)
}

// TestProbeSet2 reports, and never fails on, precision and recall on the
// second probe set (testdata/probe2): 40 crisis texts over every category
// and 20 hard negatives per language, written for issue 11 before its author
// read the rules and never edited afterwards. The misses it shows were
// fixed as families of phrasings, with examples added to the labelled set;
// the probe texts themselves are not copied there:
//
//	go test -count=1 -v -run TestProbeSet2 ./services/journal/internal/screening/
func TestProbeSet2(t *testing.T) {
	reportSet(t, "testdata/probe2", "probe 2", true)
}

// reportSet screens a labelled directory and logs a table per language;
// showText adds each miss's text to its log line.
func reportSet(t *testing.T, dir, title string, showText bool) {
	set := readLabelled(t, dir)
	byLang := map[string]*tally{}
	var langs []string
	for _, l := range set {
		if byLang[l.lang] == nil {
			byLang[l.lang] = &tally{}
			langs = append(langs, l.lang)
		}
		c := byLang[l.lang]
		res := Screen(l.text)
		got := res.Crisis()
		where := fmt.Sprintf("%s.tsv:%d", l.lang, l.line)
		if showText {
			where += fmt.Sprintf(" %q", l.text)
		}
		switch {
		case l.crisis && got:
			c.tp++
			if res.Top().Category == l.category {
				c.catOK++
			}
			if res.Top().Severity >= l.severity {
				c.sevOK++
			}
		case l.crisis:
			c.fn++
			t.Logf("missed    %s (%s)", where, l.category)
		case got:
			c.fp++
			t.Logf("false     %s: %s/%s", where, res.Top().Category, res.Top().Severity)
		default:
			c.tn++
		}
	}
	sort.Strings(langs)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n%-5s %4s %4s %4s %4s %9s %7s %8s %8s\n", title, "lang", "tp", "fn", "fp", "tn", "precision", "recall", "category", "severity")
	for _, lang := range langs {
		c := byLang[lang]
		fmt.Fprintf(&b, "%-5s %4d %4d %4d %4d %9.3f %7.3f %8.3f %8.3f\n", lang, c.tp, c.fn, c.fp, c.tn, c.precision(), c.recall(), c.catAgreement(), c.sevAgreement())
	}
	t.Log(b.String())
}
