package screening

import (
	"bufio"
	"embed"
	"fmt"
	"path"
	"strings"
)

// The phrase data: one reviewed file per language (rules/en.tsv,
// rules/de.tsv, rules/fr.tsv). Every change to them is a clinical decision;
// TestEveryRuleExampleMatches checks each rule against its own example.
//
//go:embed rules/*.tsv
var ruleFiles embed.FS

// ruleSet is one language's rules, indexed by the words of their first slot.
type ruleSet struct {
	lang     string
	rules    []*rule
	byFirst  map[string][]*rule
	prefixed []*rule // rules whose first slot has a prefix or number alternative
}

func (rs *ruleSet) candidates(w string, forms []string) []*rule {
	out := rs.byFirst[w]
	for _, f := range forms {
		out = append(out[:len(out):len(out)], rs.byFirst[f]...)
	}
	if len(rs.prefixed) > 0 {
		out = append(out[:len(out):len(out)], rs.prefixed...)
	}
	return out
}

// Context kinds (see docs/decisions.md, "Crisis screening").
const (
	ctxIdiom    = "idiom"    // a figure of speech that covers a match: no finding
	ctxNegator  = "negator"  // a negation before or inside a match: low
	ctxNegAfter = "negafter" // a negation right after a match (verb-second, "ne ... pas"): low
	ctxNotNeg   = "notneg"   // words around a negator that do not negate ("can't stop"): the negator is ignored
	ctxTopic    = "topic"    // talk about the topic (a course, a book): no finding without a first person
	ctxTalk     = "talk"     // a verb of talking ("we talked about"): topic talk only when it stands before the match
	ctxThird    = "third"    // someone else is the subject: no finding
	ctxFirst    = "first"    // the writer: stops the third-person and topic rules
	ctxPast     = "past"     // clearly past: at most moderate
	ctxRecovery = "recovery" // past and recovered: no finding
	ctxLyric    = "lyric"    // a song or quotation: quoted match, no finding; unquoted, low
	ctxTiming   = "timing"   // a time ("tonight", "on Friday"): a plan, intent or method becomes imminent
)

var contextKinds = []string{ctxIdiom, ctxNegator, ctxNegAfter, ctxNotNeg, ctxTopic, ctxTalk, ctxThird, ctxFirst, ctxPast, ctxRecovery, ctxLyric, ctxTiming}

// contextSet holds every language's context patterns: they are applied to
// every text, like the rules.
type contextSet struct {
	byKind map[string][]*rule
	// byFirst indexes the patterns by the words of their first slot;
	// always lists those whose first slot is a prefix or a number.
	byFirst map[string][]kindRule
	always  []kindRule
	// examples of idioms, each of which must screen clean.
	idiomExamples []string
}

type kindRule struct {
	kind string
	r    *rule
}

func (c *contextSet) add(kind string, r *rule) {
	c.byKind[kind] = append(c.byKind[kind], r)
	kr := kindRule{kind, r}
	first := r.slots[0]
	if len(first.prefixes) > 0 || first.number {
		c.always = append(c.always, kr)
	}
	for _, w := range first.words {
		c.byFirst[w] = append(c.byFirst[w], kr)
	}
	for _, ph := range first.phrases {
		c.byFirst[ph[0]] = append(c.byFirst[ph[0]], kr)
	}
}

// find lists, per kind, where its patterns occur (a pattern indexed under
// several of a token's forms is tried once per form: a repeated span is
// harmless).
func (c *contextSet) find(toks []token, forms [][]string) map[string][]span {
	out := make(map[string][]span, len(c.byKind))
	try := func(list []kindRule, i int) {
		for _, kr := range list {
			if m, ok := kr.r.matchAt(toks, forms, i); ok {
				out[kr.kind] = append(out[kr.kind], m.span)
			}
		}
	}
	for i, t := range toks {
		try(c.byFirst[t.w], i)
		for _, f := range forms[i] {
			if f != t.w {
				try(c.byFirst[f], i)
			}
		}
		try(c.always, i)
	}
	return out
}

var (
	ruleSets []*ruleSet
	contexts = &contextSet{byKind: map[string][]*rule{}, byFirst: map[string][]kindRule{}}
	// variants maps a typed word to the words the rules use.
	variants = map[string][]string{}
	// vocabulary is every long rule word, the targets of fuzzy matching.
	vocabulary = map[string]bool{}
)

func init() {
	entries, err := ruleFiles.ReadDir("rules")
	if err != nil {
		panic(err)
	}
	// Variants first: patterns are checked against normalisation.
	type line struct {
		lang   string
		no     int
		fields []string
	}
	var lines []line
	for _, e := range entries {
		lang := strings.TrimSuffix(e.Name(), path.Ext(e.Name()))
		data, err := ruleFiles.ReadFile("rules/" + e.Name())
		if err != nil {
			panic(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		no := 0
		for sc.Scan() {
			no++
			text := strings.TrimRight(sc.Text(), " \r")
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			f := strings.Split(text, "\t")
			if f[0] == "variant" {
				if len(f) != 3 {
					panic(fmt.Sprintf("screening: rules/%s line %d: variant wants 2 fields", e.Name(), no))
				}
				variants[f[1]] = strings.Fields(f[2])
				continue
			}
			lines = append(lines, line{lang, no, f})
		}
	}
	sets := map[string]*ruleSet{}
	for _, l := range lines {
		where := fmt.Sprintf("rules/%s.tsv line %d", l.lang, l.no)
		f := l.fields
		switch f[0] {
		case "rule":
			if len(f) != 5 {
				panic("screening: " + where + ": rule wants category, severity, pattern, example")
			}
			sev, ok := ParseSeverity(f[2])
			if !ok || sev == SeverityNone || sev == SeverityLow {
				panic("screening: " + where + ": bad severity " + f[2])
			}
			cat := Category(f[1])
			if !isCategory(cat) {
				panic("screening: " + where + ": bad category " + f[1])
			}
			r := compileRule(f[3], where)
			r.category, r.severity, r.example = cat, sev, f[4]
			rs := sets[l.lang]
			if rs == nil {
				rs = &ruleSet{lang: l.lang, byFirst: map[string][]*rule{}}
				sets[l.lang] = rs
				ruleSets = append(ruleSets, rs)
			}
			rs.rules = append(rs.rules, r)
			if len(r.slots[0].prefixes) > 0 || r.slots[0].number {
				rs.prefixed = append(rs.prefixed, r)
			}
			for _, w := range r.slots[0].words {
				rs.byFirst[w] = append(rs.byFirst[w], r)
			}
			for _, ph := range r.slots[0].phrases {
				rs.byFirst[ph[0]] = append(rs.byFirst[ph[0]], r)
			}
			for _, s := range r.slots {
				for _, w := range s.words {
					if len(w) >= fuzzyMinLen {
						vocabulary[w] = true
					}
				}
				for _, ph := range s.phrases {
					for _, w := range ph {
						if len(w) >= fuzzyMinLen {
							vocabulary[w] = true
						}
					}
				}
			}
		case "context":
			if len(f) < 3 || !contains(contextKinds, f[1]) {
				panic("screening: " + where + ": context wants a kind and a pattern")
			}
			r := compileRule(f[2], where)
			contexts.add(f[1], r)
			if f[1] == ctxIdiom && len(f) > 3 {
				contexts.idiomExamples = append(contexts.idiomExamples, f[3])
			}
		default:
			panic("screening: " + where + ": unknown line type " + f[0])
		}
	}
	indexVocabulary()
}

func isCategory(c Category) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// compileRule reads a pattern: slots separated by spaces, alternatives by
// "|" (words of a multi-word alternative joined by "_": a space always
// starts a new slot), an empty alternative making the slot optional, "#"
// any number, a trailing "*" matching a prefix, "$" as an alternative the
// end of the sentence and "," the end of the clause; ".." lets up to 3 extra
// words stand before the next slot, "..." up to 6 and "...." up to 12 (the
// long, rambling sentence with the crisis words far apart). Every word must already be in normalised form.
func compileRule(pattern, where string) *rule {
	r := &rule{pattern: pattern}
	gap := 0
	for _, part := range strings.Fields(pattern) {
		switch part {
		case "..":
			gap = 3
			continue
		case "...":
			gap = 6
			continue
		case "....":
			gap = 12
			continue
		}
		s := slot{gap: gap}
		gap = 0
		if part == "$" {
			s.end = true
			r.slots = append(r.slots, s)
			continue
		}
		for _, alt := range strings.Split(part, "|") {
			switch {
			case alt == "":
				s.optional = true
			case alt == "#":
				s.number = true
			case alt == "$":
				s.orEnd = true
			case alt == ",":
				s.orClause = true
			case strings.HasSuffix(alt, "*"):
				s.prefixes = append(s.prefixes, strings.TrimSuffix(alt, "*"))
			case strings.Contains(alt, "_"):
				ph := strings.Split(alt, "_")
				for _, w := range ph {
					checkWord(w, where)
				}
				s.phrases = append(s.phrases, ph)
			default:
				if got := normalize(alt); len(got) != 1 || got[0] != alt {
					panic(fmt.Sprintf("screening: %s: %q is not a normalised word (it reads as %q)", where, alt, got))
				}
				if _, ok := variants[alt]; ok {
					panic(fmt.Sprintf("screening: %s: %q is a variant; write the word it stands for", where, alt))
				}
				s.words = append(s.words, alt)
			}
		}
		r.slots = append(r.slots, s)
	}
	if len(r.slots) == 0 || r.slots[0].optional {
		panic("screening: " + where + ": a pattern must start with a required slot")
	}
	return r
}

func checkWord(w, where string) {
	if got := normalize(w); len(got) != 1 || got[0] != w {
		panic(fmt.Sprintf("screening: %s: %q is not a normalised word (it reads as %q)", where, w, got))
	}
	if _, ok := variants[w]; ok {
		panic(fmt.Sprintf("screening: %s: %q is a variant; write the word it stands for", where, w))
	}
}
