package screening

// weigh applies the context around a match to the rule's severity; see
// docs/decisions.md ("Crisis screening: which contexts lower what"). The
// order matters: a context that removes the finding is checked before one
// that only lowers it, and negation (the gentle check) comes last so that
// a negated phrase is never dropped by a weaker signal.
func weigh(toks []token, cx map[string][]span, m match, cat Category, sev Severity) (Severity, string) {
	sentence := toks[m.start].sentence
	clause := toks[m.start].clause
	inSentence := func(kind string) bool {
		for _, s := range cx[kind] {
			if toks[s.start].sentence == sentence {
				return true
			}
		}
		return false
	}
	anywhere := func(kind string) bool { return len(cx[kind]) > 0 }
	// at reports whether a context pattern of kind starts at toks[i].
	at := func(kind string, i int) bool {
		for _, s := range cx[kind] {
			if s.start <= i && i < s.end {
				return true
			}
		}
		return false
	}
	firstInMatch := false
	for i := m.start; i < m.end; i++ {
		if at(ctxFirst, i) {
			firstInMatch = true
			break
		}
	}

	// Quotations and lyrics: a quoted match in a text that names a song, a
	// poem or a quotation is someone else's words.
	quoted := true
	for i := m.start; i < m.end; i++ {
		quoted = quoted && toks[i].quoted
	}
	if quoted && anywhere(ctxLyric) {
		return SeverityNone, ""
	}

	// Third person: the nearest person before the match, in its clause,
	// is someone else, and the match itself does not speak of the writer.
	if !firstInMatch {
		for i := m.start - 1; i >= 0 && i >= m.start-6 && toks[i].clause == clause; i-- {
			if at(ctxFirst, i) {
				break
			}
			if at(ctxThird, i) {
				return SeverityNone, ""
			}
		}
	}

	// Topic talk: a course, a book, a film in the sentence, and no first
	// person in the match or right before it ("I am suicidal" stays).
	// A verb of talking counts only before the match: "we talked about
	// suicide" is topic talk, "I have suicidal thoughts and dare not talk
	// about it" is not.
	talkBefore := false
	for _, s := range cx[ctxTalk] {
		if toks[s.start].sentence == sentence && s.start < m.start {
			talkBefore = true
		}
	}
	if (inSentence(ctxTopic) || talkBefore) && !firstInMatch {
		first := false
		for i := m.start - 1; i >= 0 && i >= m.start-2 && toks[i].clause == clause; i-- {
			if at(ctxFirst, i) {
				first = true
				break
			}
		}
		if !first {
			return SeverityNone, ""
		}
	}

	lowered := ""
	// A plan, an intent or a method with a time is the highest severity.
	if (cat == CategoryPlan || cat == CategoryIntent || cat == CategoryMethod) && inSentence(ctxTiming) {
		sev, lowered = SeverityImminent, ""
	}
	// Clearly past: with recovery in the text, nothing is found; without,
	// the finding is kept but never above moderate (a history matters, it
	// is not an emergency).
	if inSentence(ctxPast) {
		if anywhere(ctxRecovery) {
			return SeverityNone, ""
		}
		if sev > SeverityModerate {
			sev, lowered = SeverityModerate, "past"
		}
	}

	// An unquoted phrase in a sentence about a song: in doubt, the gentle
	// check.
	if inSentence(ctxLyric) {
		sev, lowered = SeverityLow, "lyric"
	}

	// Negation before the match in its clause, or inside it among the
	// skipped words, or a verb-second negator right after it ("ich bringe
	// mich nicht um", "je me tuerai pas"): the gentle check (resources, no
	// flag). A negator inside words that do not negate ("can't stop",
	// "not sure", "kann nicht aufhören") does not count.
	negated := func(kind string, i int) bool { return at(kind, i) && !at(ctxNotNeg, i) }
	for _, g := range m.gapWords {
		if negated(ctxNegator, g) {
			return SeverityLow, "negated"
		}
	}
	for i := m.start - 1; i >= 0 && i >= m.start-3 && toks[i].clause == clause; i-- {
		if negated(ctxNegator, i) {
			return SeverityLow, "negated"
		}
	}
	for i := m.end; i < len(toks) && i < m.end+2 && toks[i].clause == clause; i++ {
		if negated(ctxNegAfter, i) {
			return SeverityLow, "negated"
		}
	}
	return sev, lowered
}
