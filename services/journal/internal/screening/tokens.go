package screening

import (
	"strings"
	"unicode"
)

// token is one normalised word with where it sits: the sentence and clause
// it belongs to (clauses end at commas, colons, semicolons and ellipses,
// sentences at . ! ? and line breaks) and whether it stands inside quotation marks.
type token struct {
	w        string
	sentence int
	clause   int
	quoted   bool
}

// tokenize normalises text into tokens (see normalize for the rules) and
// applies the variant table, which maps chat spellings and common
// misspellings to the word the rules are written in ("kil" → "kill",
// "jveux" → "je veux").
func tokenize(text string) []token {
	var out []token
	var b strings.Builder
	sentence, clause := 0, 0
	quoted := false
	flush := func() {
		if b.Len() == 0 {
			return
		}
		raw := strings.Trim(b.String(), "'")
		b.Reset()
		for _, w := range appendExpanded(nil, raw) {
			if v, ok := variants[w]; ok {
				for _, vw := range v {
					out = append(out, token{vw, sentence, clause, quoted})
				}
				continue
			}
			out = append(out, token{w, sentence, clause, quoted})
		}
	}
	inEllipsis := false
	for i, r := range text {
		r = unicode.ToLower(r)
		// An ellipsis ("i want to... die", "…") is a pause, not a sentence
		// end: it ends the clause only.
		if r == '.' && (inEllipsis || (i+1 < len(text) && text[i+1] == '.')) {
			flush()
			if !inEllipsis {
				clause++
			}
			inEllipsis = true
			continue
		}
		inEllipsis = false
		switch {
		case isZeroWidth(r):
			continue
		case isApostrophe(r):
			b.WriteByte('\'')
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			if f, ok := accentFold[r]; ok {
				b.WriteString(f)
			} else if !unicode.Is(unicode.Mn, r) {
				b.WriteRune(r)
			}
		default:
			flush()
			switch r {
			case '.', '!', '?', '\n':
				sentence++
				clause++
			case ',', ';', ':', '(', ')', '…':
				clause++
			case '"', '“', '”', '«', '»', '„', '‟':
				// An opening mark after a closing one of the same kind is
				// the usual pattern; toggling is enough for short texts.
				quoted = !quoted
			}
		}
	}
	flush()
	return joinPairs(out)
}

// joins are two typed words the rules read as one.
var joins = map[[2]string]string{
	{"my", "self"}: "myself", {"any", "more"}: "anymore", {"no", "one"}: "noone",
	{"un", "alive"}: "unalive", {"w", "o"}: "without", {"self", "harm"}: "selfharm", {"self", "harming"}: "selfharming",
	{"self", "harmed"}: "selfharmed", {"self", "injury"}: "selfinjury",
}

func joinPairs(toks []token) []token {
	out := toks[:0]
	for i := 0; i < len(toks); i++ {
		if i+1 < len(toks) && toks[i].sentence == toks[i+1].sentence {
			if j, ok := joins[[2]string{toks[i].w, toks[i+1].w}]; ok {
				t := toks[i]
				t.w = j
				out = append(out, t)
				i++
				continue
			}
		}
		out = append(out, toks[i])
	}
	return out
}
