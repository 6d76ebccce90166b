package screening

import (
	"strings"
	"unicode"
)

// normalize turns free text into the words the phrase list is written in:
// lower case, typographic apostrophes and quotes folded to ASCII, common
// accents removed, zero-width characters dropped, punctuation (hyphens
// included) splitting words, and contractions expanded ("don't" and "dont"
// both become "do not"), so one phrase matches however it was typed.
// Leetspeak and deliberate obfuscation ("k1ll") are left alone: guessing at
// them would add false alarms and the phrase list would never keep up.
func normalize(text string) []string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() == 0 {
			return
		}
		words = appendExpanded(words, strings.Trim(b.String(), "'"))
		b.Reset()
	}
	for _, r := range text {
		r = unicode.ToLower(r)
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
			// A combining mark (the decomposed form of an accent) is dropped,
			// leaving its base letter.
		default:
			flush()
		}
	}
	flush()
	return words
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '\u2018', '\u2019', '\u201B', '\u02BC', '\u02B9', '`', '\u00B4', '\u2032', '\uFF07':
		return true
	}
	return false
}

func isZeroWidth(r rune) bool {
	switch r {
	case '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD':
		return true
	}
	return false
}

// accentFold covers the Latin letters people commonly type; anything else
// is kept as it is.
var accentFold = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'ā': "a",
	'ç': "c", 'ć': "c", 'č': "c",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ę': "e",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i",
	'ñ': "n", 'ń': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ō': "o",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u",
	'ý': "y", 'ÿ': "y",
	'ś': "s", 'š': "s", 'ß': "ss",
	'ź': "z", 'ż': "z", 'ž': "z",
	'ł': "l", 'æ': "ae", 'œ': "oe",
}

// contractions maps whole words, with or without their apostrophe, to their
// expansion. Words not listed fall back to the suffix rules in
// appendExpanded.
var contractions = map[string][]string{
	"can't": {"can", "not"}, "cant": {"can", "not"}, "cannot": {"can", "not"},
	"won't": {"will", "not"}, "wont": {"will", "not"},
	"shan't": {"shall", "not"}, "ain't": {"is", "not"},
	"let's": {"let", "us"},
	"im":    {"i", "am"}, "ive": {"i", "have"},
	"dont": {"do", "not"}, "didnt": {"did", "not"}, "doesnt": {"does", "not"},
	"isnt": {"is", "not"}, "arent": {"are", "not"}, "wasnt": {"was", "not"}, "werent": {"were", "not"},
	"havent": {"have", "not"}, "hasnt": {"has", "not"}, "hadnt": {"had", "not"},
	"wouldnt": {"would", "not"}, "couldnt": {"could", "not"}, "shouldnt": {"should", "not"},
	"youre": {"you", "are"}, "theyre": {"they", "are"},
	"wanna": {"want", "to"}, "gonna": {"going", "to"}, "gotta": {"got", "to"},
	"imma": {"i", "am", "going", "to"},
	"u":    {"you"},
	// Missing apostrophes in chat spelling (not "its", "ill", "id", "were",
	// "hell", "lets": those are words of their own).
	"thats": {"that", "is"}, "whats": {"what", "is"}, "theres": {"there", "is"},
	"itll": {"it", "will"}, "thatll": {"that", "will"}, "theyll": {"they", "will"}, "youll": {"you", "will"},
	"theyd": {"they", "would"}, "youd": {"you", "would"}, "theyve": {"they", "have"},
	"wouldve": {"would", "have"}, "couldve": {"could", "have"}, "shouldve": {"should", "have"},
}

// elisions are the French elided words ("j'ai", "m'en", "qu'il"): split
// off as their full form so rules are written once.
var elisions = []struct{ prefix, word string }{
	{"qu'", "que"}, {"j'", "je"}, {"m'", "me"}, {"t'", "te"}, {"s'", "se"},
	{"l'", "le"}, {"d'", "de"}, {"n'", "ne"}, {"c'", "ce"},
}

// isSubjects are the words whose "'s" means "is" rather than a possessive.
var isSubjects = map[string]bool{
	"it": true, "that": true, "there": true, "what": true, "here": true, "he": true,
	"she": true, "who": true, "where": true, "how": true, "life": true,
	"everything": true, "nothing": true, "everyone": true, "nobody": true, "noone": true,
}

func appendExpanded(words []string, w string) []string {
	if w == "" {
		return words
	}
	if exp, ok := contractions[w]; ok {
		return append(words, exp...)
	}
	// French "ne" is dropped, as most people drop it when they write as
	// they speak: "je ne veux plus" and "je veux plus" read the same, and
	// the negation lives in "pas", "jamais" (see the fr negators).
	if w == "ne" {
		return words
	}
	if strings.IndexByte(w, '\'') < 0 {
		return append(words, w)
	}
	for _, e := range elisions {
		if rest, ok := strings.CutPrefix(w, e.prefix); ok && len(rest) > 1 {
			if e.word != "ne" {
				words = append(words, e.word)
			}
			return appendExpanded(words, rest)
		}
	}
	suffixes := []struct {
		suffix string
		word   string
	}{
		{"n't", "not"}, {"'m", "am"}, {"'re", "are"}, {"'ve", "have"}, {"'ll", "will"}, {"'d", "would"},
	}
	for _, s := range suffixes {
		if base, ok := strings.CutSuffix(w, s.suffix); ok && base != "" {
			return append(words, strings.ReplaceAll(base, "'", ""), s.word)
		}
	}
	if base, ok := strings.CutSuffix(w, "'s"); ok && isSubjects[base] {
		return append(words, base, "is")
	}
	// A possessive or a word like "o'clock": drop the apostrophe.
	return append(words, strings.ReplaceAll(w, "'", ""))
}

// isNumber reports whether a word is all digits ("5", "10").
func isNumber(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
