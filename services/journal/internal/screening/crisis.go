package screening

import "strings"

// CrisisLanguage reports whether text contains words that suggest the
// writer may be thinking of suicide or self-harm, or saying goodbye.
//
// The text is normalised first (see normalize) and matched word by word
// against a curated phrase list, so "I DON’T  want to wake up" matches
// "do not want to wake up" and "skill" never matches "kill". Everyday
// figures of speech ("killing time", "dying to see it", "this workout is
// killing me") are not in the list, and a few phrases that contain a listed
// one are excluded where they are plainly harmless ("cut myself some slack",
// "ran 5 kms").
//
// Negation is deliberately not treated as safe: "I don't want to kill
// myself" still matches, because writing it at all is worth a gentle check
// and showing resources costs little.
func CrisisLanguage(text string) bool {
	words := normalize(text)
	if len(words) == 0 {
		return false
	}
	excluded := crisisExclusions.spans(words)
	for _, m := range crisisPhrases.spans(words) {
		if !covered(m, excluded) {
			return true
		}
	}
	return false
}

// crisisTemplates is the curated list. A template is written as ordinary
// text (it goes through the same normalisation as the client's words);
// "[a|b|]" offers alternatives, an empty one making the group optional;
// "#" stands for any number.
//
// Changes to this list are a clinical decision: add a test case with every
// change. Deliberately left out, for the clinical team to revisit: "I'd
// rather die than ..." (nearly always hyperbole), "this is my final
// goodbye" (unsent letters to the ex are often goodbyes), "they are happier
// without me", "I can't do this anymore", "it's killing me" and "dead
// inside" (common breakup pain, frequent enough that flagging them would
// drown the real signals).
var crisisTemplates = []string{
	// Suicide, named.
	"suicide", "suicidal", "suicidally", "suïcide",
	"[kill|killing|killed] [myself|my self|meself]", "kms",
	"unalive", "unalived", "unaliving", "un alive myself",
	"[end|ending] my [own|] life", "[take|taking] my [own|] life",
	"end it all", "ending it all", "[going to|will|want to|about to] end it [tonight|today|now]",

	// Wanting to die or not to be alive.
	"[want|wanting|wish|need] to die", "wish i could die", "ready to die", "deserve to die",
	"wish [i was|i were|i could be|i'd be] dead", "want to be dead", "better off dead",
	"feel like dying",
	"[do not|never] want to [be alive|exist] [anymore|any more|]",
	"[do not|never] want to [live|be here] [anymore|any more]",
	"want to not [be alive|exist]",
	"[can not|can't|do not want to] [go on|keep] living",
	"[can not|can't] go on [anymore|any more]",
	"[tired|sick] of [living|being alive|life]",
	"no [reason|point] [to live|in living|living|to be alive|in being alive|to go on|in going on]",
	"nothing [left|] to live for", "not worth living",
	"[wish|want] to disappear forever",
	"wish i [was not|were not] [alive|around anymore|here anymore]",
	"wish i [did not|never] [exist|existed]", "[want to|wish i could] stop existing",
	"wish [i had|i'd] never been born",

	// Not wanting to wake up.
	"[do not|don't|never] want to wake up",
	"hope i [do not|don't|never|will not|won't] wake up",
	"wish i [would not|wouldn't|did not|didn't|could not|couldn't|would never|never] wake up",
	"sleep and never wake up", "go to sleep forever", "want to sleep forever",

	// Being a burden.
	"better off without me",
	"[the world|world|everyone|everybody|my family|they all|people] [would be|is|are] better without me",
	"[no one|noone|nobody] would [miss me|notice if i was gone|notice if i were gone|care if i died|care if i was gone|care if i were gone]",

	// Goodbye.
	"by the time you read this",
	"goodbye cruel world",
	"[saying|say|said] goodbye to everyone",
	"[will not|won't] be [here|around] [much longer|for much longer]",
	"giving away my [things|stuff|belongings]",

	// A plan or the means.
	"[have|had|got|made|making] a plan to die", "[planned|planning] how to die",
	"[stockpiling|stockpiled|saving up|saved up|hoarding|collecting] [pills|tablets|my pills|my tablets|my meds|meds|medication|my medication]",
	"[take|took|taking|swallow|swallowed|swallowing] all [my|the|of my|of the] [pills|tablets|meds|medication]",
	"overdose", "overdosing", "overdosed", "od on",
	"[bought|buying] a rope", "noose",
	"[hang|hanging] myself",
	"[jump|jumping] [off|from] [a|the] [bridge|roof|building|cliff|balcony|car park]",
	"[jump|jumping|step|stepping|throw myself|throwing myself] in front of [a|the] [train|bus|car|truck|lorry]",
	"[slit|slitting|cut|cutting] my wrists",
	"[shoot|shooting] myself", "[drown|drowning] myself",

	// Self-harm.
	"[hurt|hurting|harm|harming|cut|cutting|burn|burning|burnt|burned|starve|starving] myself",
	"self harm", "self harming", "self harmed", "selfharm", "self injury", "self injure",
	"cutting again",
}

// exclusionTemplates are harmless phrases that contain a crisis phrase. A
// crisis match is ignored only when one of these covers it entirely.
var exclusionTemplates = []string{
	"# kms", "[few|couple|more|extra] kms", "kms [away|from|per|an hour|a day|a week]",
	"[social|career|political|financial] suicide", "suicide squad",
	"[kill|killing] myself laughing", "[killing|killed] myself [at the gym|in the gym|working out]",
	"[want|wanting|need] to die [my|her|his|their|your] hair",
	"[cut|cutting] myself [off|a|some|slack|short]",
	"[accidentally|accidently] [cut|hurt|burnt|burned] myself",
	"[cut|burnt|burned] myself [cooking|shaving|on the|on a|while cooking|while shaving]",
	"hurt myself [at the gym|in the gym|playing|running|lifting|training|exercising|skiing|working out]",
	"[burn|burning|burnt|burned] myself out",
}

var (
	crisisPhrases    = compile(crisisTemplates)
	crisisExclusions = compile(exclusionTemplates)
)

// phraseSet indexes word sequences by their first word.
type phraseSet map[string][][]string

func compile(templates []string) phraseSet {
	set := phraseSet{}
	seen := map[string]bool{}
	for _, t := range templates {
		for _, variant := range expand(t) {
			var words []string
			for _, part := range strings.Fields(variant) {
				if part == "#" {
					words = append(words, "#")
					continue
				}
				words = append(words, normalize(part)...)
			}
			key := strings.Join(words, " ")
			if len(words) == 0 || seen[key] {
				continue
			}
			seen[key] = true
			set[words[0]] = append(set[words[0]], words)
		}
	}
	return set
}

// expand turns "a [b|c|] d" into "a b d", "a c d" and "a  d".
func expand(t string) []string {
	open := strings.IndexByte(t, '[')
	if open < 0 {
		return []string{t}
	}
	end := strings.IndexByte(t[open:], ']')
	if end < 0 {
		panic("screening: unclosed [ in template " + t)
	}
	end += open
	var out []string
	for _, alt := range strings.Split(t[open+1:end], "|") {
		out = append(out, expand(t[:open]+alt+t[end+1:])...)
	}
	return out
}

type span struct{ start, end int } // words[start:end]

// spans lists every place a phrase of the set occurs in words.
func (s phraseSet) spans(words []string) []span {
	var out []span
	for i, w := range words {
		candidates := s[w]
		if isNumber(w) {
			candidates = append(candidates[:len(candidates):len(candidates)], s["#"]...)
		}
		for _, p := range candidates {
			if matchAt(words, i, p) {
				out = append(out, span{i, i + len(p)})
			}
		}
	}
	return out
}

func matchAt(words []string, i int, phrase []string) bool {
	if i+len(phrase) > len(words) {
		return false
	}
	for j, p := range phrase {
		w := words[i+j]
		if p == "#" {
			if !isNumber(w) {
				return false
			}
			continue
		}
		if w != p {
			return false
		}
	}
	return true
}

func covered(m span, by []span) bool {
	for _, e := range by {
		if e.start <= m.start && m.end <= e.end {
			return true
		}
	}
	return false
}
