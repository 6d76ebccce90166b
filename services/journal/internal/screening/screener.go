package screening

import (
	"slices"
	"strings"
)

// Category is what a crisis phrase says, on the ladder clinicians assess
// with (the Columbia Suicide Severity Rating Scale: wish to be dead,
// non-specific thoughts, thoughts with a method, intent, a plan,
// preparatory acts, an attempt under way), plus self-harm and perceived
// burdensomeness. The values are stored on risk flags: they must not change.
type Category string

// The categories, lowest rung of the ladder first.
const (
	CategoryWishDead    Category = "wish_dead"
	CategoryIdeation    Category = "ideation"
	CategoryMethod      Category = "method"
	CategoryIntent      Category = "intent"
	CategoryPlan        Category = "plan"
	CategoryPreparation Category = "preparation"
	CategoryAttempt     Category = "attempt"
	CategorySelfHarm    Category = "self_harm"
	CategoryBurden      Category = "burden"
)

// Categories lists every category, in ladder order.
var Categories = []Category{
	CategoryWishDead, CategoryIdeation, CategoryMethod, CategoryIntent, CategoryPlan,
	CategoryPreparation, CategoryAttempt, CategorySelfHarm, CategoryBurden,
}

// Severity orders what a finding calls for.
type Severity int

// The severities. Low is the gentle check: resources, no flag. Moderate
// and high raise a flag that escalates after RISK_ESCALATE_AFTER; imminent
// (an attempt under way, a plan with timing) leads the answer with
// emergency numbers and escalates the flag at once.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityModerate
	SeverityHigh
	SeverityImminent
)

var severityNames = []string{"none", "low", "moderate", "high", "imminent"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name ("low" .. "imminent").
func ParseSeverity(name string) (Severity, bool) {
	i := slices.Index(severityNames, name)
	return Severity(i), i >= 0
}

// Finding is one rule that matched, after context was weighed.
type Finding struct {
	Category Category
	Severity Severity
	// Rule severity before context lowered it.
	RuleSeverity Severity
	// Lang is the rule file the rule came from ("en", "de", "fr").
	Lang string
	// Lowered names the context that lowered the severity ("negated",
	// "past", "lyric"), empty when none did.
	Lowered string
}

// Result is what screening one text found.
type Result struct {
	// Findings, the most severe first.
	Findings []Finding
}

// Top is the most severe finding (the zero Finding when none).
func (r Result) Top() Finding {
	if len(r.Findings) == 0 {
		return Finding{}
	}
	return r.Findings[0]
}

// Crisis reports whether the text calls for crisis resources (any finding,
// the gentle check included).
func (r Result) Crisis() bool { return r.Top().Severity >= SeverityLow }

// Alert reports whether the care team gets a risk flag.
func (r Result) Alert() bool { return r.Top().Severity >= SeverityModerate }

// Imminent reports whether the answer leads with emergency numbers and the
// flag escalates at once.
func (r Result) Imminent() bool { return r.Top().Severity >= SeverityImminent }

// Screen screens one text with every language's rules (see decisions.md:
// running all three costs little, handles mixed-language writing and needs
// no country). It is pure and local: no I/O, no allocation beyond the text's
// tokens and findings.
func Screen(text string) Result {
	toks := tokenize(text)
	if len(toks) == 0 {
		return Result{}
	}
	forms := fuzzyForms(toks)
	cx := contexts.find(toks, forms)
	var res Result
	for _, rs := range ruleSets {
		for i := range toks {
			for _, r := range rs.candidates(toks[i].w, forms[i]) {
				m, ok := r.matchAt(toks, forms, i)
				if !ok || explained(m.span, cx[ctxIdiom]) {
					continue
				}
				sev, why := weigh(toks, cx, m, r.category, r.severity)
				if sev == SeverityNone {
					continue
				}
				res.Findings = append(res.Findings, Finding{Category: r.category, Severity: sev, RuleSeverity: r.severity, Lang: rs.lang, Lowered: why})
			}
		}
	}
	slices.SortStableFunc(res.Findings, byConcern)
	return res
}

// CrisisLanguage reports whether text calls for crisis resources.
func CrisisLanguage(text string) bool { return Screen(text).Crisis() }

// slot is one position of a rule: alternatives (a trailing * matches a
// prefix), optional when one alternative is empty, and how many extra words
// may stand before it.
type slot struct {
	words    []string
	phrases  [][]string // alternatives of several words
	prefixes []string
	optional bool
	end      bool // "$": the end of the sentence
	number   bool // "#": any number
	orEnd    bool // "$" as an alternative: or the end of the sentence
	orClause bool // "," as an alternative: or the end of the clause (a comma, a sentence end)
	gap      int
}

type rule struct {
	category Category
	severity Severity
	slots    []slot
	pattern  string
	example  string
}

type match struct {
	span
	gapWords []int // indexes of the words skipped inside the match
}

// lengths lists how many words the slot can take at toks[p]: 1 for a word,
// more for a phrase alternative ("never_been_born").
func (s slot) lengths(toks []token, forms [][]string, p int) []int {
	var out []int
	w := toks[p].w
	if s.number && isNumber(w) {
		out = append(out, 1)
	}
	for _, alt := range s.words {
		if wordIs(alt, w, forms[p]) {
			out = append(out, 1)
			break
		}
	}
	for _, pre := range s.prefixes {
		if strings.HasPrefix(w, pre) {
			out = append(out, 1)
			break
		}
	}
	for _, ph := range s.phrases {
		if p+len(ph) > len(toks) || toks[p+len(ph)-1].sentence != toks[p].sentence {
			continue
		}
		ok := true
		for k, pw := range ph {
			if !wordIs(pw, toks[p+k].w, forms[p+k]) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, len(ph))
		}
	}
	return out
}

func wordIs(want, w string, forms []string) bool {
	if want == w {
		return true
	}
	return slices.Contains(forms, want)
}

// matchAt matches the rule with its first slot at toks[i]. Extra words
// never cross a sentence end. The shortest match wins.
func (r *rule) matchAt(toks []token, forms [][]string, i int) (match, bool) {
	var gaps []int
	for _, n := range r.slots[0].lengths(toks, forms, i) {
		gaps = gaps[:0]
		if end, ok := r.rest(toks, forms, 1, i+n, toks[i].sentence, &gaps); ok {
			return match{span{i, end}, gaps}, true
		}
	}
	return match{}, false
}

func (r *rule) rest(toks []token, forms [][]string, si, pos, sentence int, gaps *[]int) (int, bool) {
	if si == len(r.slots) {
		return pos, true
	}
	s := r.slots[si]
	atEnd := pos == len(toks) || toks[pos].sentence != sentence
	if s.end {
		if atEnd {
			return r.rest(toks, forms, si+1, pos, sentence, gaps)
		}
		return 0, false
	}
	if s.orEnd && atEnd {
		return r.rest(toks, forms, si+1, pos, sentence, gaps)
	}
	if s.orClause && (atEnd || toks[pos].clause != toks[pos-1].clause) {
		return r.rest(toks, forms, si+1, pos, sentence, gaps)
	}
	mark := len(*gaps)
	for skip := 0; skip <= s.gap; skip++ {
		p := pos + skip
		if p >= len(toks) || toks[p].sentence != sentence {
			break
		}
		for _, n := range s.lengths(toks, forms, p) {
			*gaps = append((*gaps)[:mark], indexes(pos, p)...)
			if end, ok := r.rest(toks, forms, si+1, p+n, sentence, gaps); ok {
				return end, true
			}
		}
	}
	*gaps = (*gaps)[:mark]
	if s.optional {
		return r.rest(toks, forms, si+1, pos, sentence, gaps)
	}
	return 0, false
}

func indexes(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

type span struct{ start, end int } // toks[start:end]

// explained reports whether an idiom explains a match: the idiom starts
// inside the match after its first word ("jump into the lake" in "planning to jump into the lake
// on our trip") or covers the match's end ("je me tue" in "je me tue à le
// répéter", "ça va me tuer"). An idiom that starts before the match and ends
// inside it, or stands elsewhere in the text, leaves the match alone.
func explained(m span, idioms []span) bool {
	for _, e := range idioms {
		if e.start < m.end && (e.end >= m.end || e.start > m.start) {
			return true
		}
	}
	return false
}

// tieRank orders categories whose findings have the same severity: what
// the counsellor's flag shows first. An act (an attempt, a plan, a
// preparation) before a stated intent or method, those before self-harm
// and the broader thoughts.
var tieRank = map[Category]int{
	CategoryAttempt: 9, CategoryPlan: 8, CategoryPreparation: 7, CategoryIntent: 6, CategoryMethod: 5,
	CategorySelfHarm: 4, CategoryIdeation: 3, CategoryWishDead: 2, CategoryBurden: 1,
}

// byConcern sorts findings the most severe first. Among findings of the
// same severity the higher tieRank wins, except among gentle checks
// (negated, lyric): there the one whose rule was the least severe leads,
// as the negation most plausibly denies that ("I'm not going to kill
// myself" denies an intent; the thought itself is what is shown).
func byConcern(a, b Finding) int {
	if a.Severity != b.Severity {
		return int(b.Severity) - int(a.Severity)
	}
	if a.Severity == SeverityLow && a.RuleSeverity != b.RuleSeverity {
		return int(a.RuleSeverity) - int(b.RuleSeverity)
	}
	return tieRank[b.Category] - tieRank[a.Category]
}
