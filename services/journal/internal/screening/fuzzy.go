package screening

import "slices"

// Fuzzy matching covers the misspellings the variant table does not list:
// a typed word of at least fuzzyMinLen letters matches a rule word with
// the same first letter at edit distance 1 (2 for rule words of 9 letters
// or more), counting a swap of two neighbours as one edit. Short words
// ("kill", "die", "pills") never match fuzzily: too many real words sit
// one letter away ("bills", "dye"), so their misspellings are listed as
// variants instead.
const fuzzyMinLen = 7

// fuzzyForms lists, per token, the rule words it stands for by edit
// distance (nil when it is itself a rule word or too short).
func fuzzyForms(toks []token) [][]string {
	out := make([][]string, len(toks))
	for i, t := range toks {
		if len(t.w) < fuzzyMinLen-1 || vocabulary[t.w] {
			continue
		}
		for _, v := range vocabularyByFirst[t.w[0]] {
			max := 1
			if len(v) >= 9 {
				max = 2
			}
			if d := len(v) - len(t.w); d > max || -d > max {
				continue
			}
			if editDistance(t.w, v, max) <= max {
				out[i] = append(out[i], v)
			}
		}
	}
	return out
}

// vocabularyByFirst is the vocabulary by first byte, sorted (built once,
// after the rules are loaded).
var vocabularyByFirst = map[byte][]string{}

func indexVocabulary() {
	for v := range vocabulary {
		vocabularyByFirst[v[0]] = append(vocabularyByFirst[v[0]], v)
	}
	for _, list := range vocabularyByFirst {
		slices.Sort(list)
	}
}

// editDistance is the optimal string alignment distance between a and b,
// giving up (returning max+1) once it exceeds max.
func editDistance(a, b string, max int) int {
	if a == b {
		return 0
	}
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			best = min(best, cur[j])
		}
		if best > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
