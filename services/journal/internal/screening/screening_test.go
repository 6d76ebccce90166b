package screening

import (
	"strings"
	"testing"
)

func TestCrisisLanguageFindsCrisis(t *testing.T) {
	for _, text := range []string{
		"I want to kill myself",
		"I don’t want to be alive anymore",                         // curly apostrophe
		"i   wanna    DIE",                                         // spacing, capitals, "wanna"
		"honestly kms",                                             // shorthand
		"been thinking about how to unalive myself",                // platform slang
		"I just want to end it all.",                               //
		"I dont want to wake up tomorrow",                          // no apostrophe
		"Everyone would be better off without me",                  //
		"There's no reason to live",                                //
		"I hurt myself again last night",                           //
		"I cut myself after the call",                              //
		"I've been having suicidal thoughts",                       //
		"I have a plan and I've been saving up pills",              // means
		"I don't want to kill myself but I can't stop thinking it", // negation is not safe
		"By the time you read this I’ll be gone",                   // goodbye
		"I wish I was dead",                                        //
		"ik denk steeds aan suïcide",                               // accent folded
		"the self-harm urges are back",                             // hyphen
		"I can’t go on living like this",                           //
		"I’m going to end my life",                                 //
		"Nobody would miss me.",                                    //
		"thinking about jumping off the bridge",                    //
		"I’ve got nothing left to live for",                        //
		"I keep thinking about taking all my pills",                //
		"So tired of being alive",                                  //
		"i want to kill my self",                                   // split word
		"feeling sui\u00adcidal tonight",                           // soft hyphen from a copy-paste
		"WHAT’S THE POINT. NO POINT IN LIVING",                     //
		"I hope I don't wake up",                                   //
		"\u201cI want to die\u201d, I wrote",
		"I wish I wasn't alive",
		"i just want to stop existing", // curly quotes
		"been looking up doses online",
		"the gun is loaded and in the drawer",
		"maybe i should just disappear",
		"ich will nicht mehr.",
		"they would all be better off if i wasn't around",
		"i want to killmyself",
		"slef harm again tonight",
		"i nearly jumped off the bridge last night",
		"i have 50 paracetamol in my drawer ready",
		"ich will nicht mehr lebn",
	} {
		if !CrisisLanguage(text) {
			t.Errorf("CrisisLanguage(%q) = false, want true (the client would not be shown crisis resources)", text)
		}
	}
}

func TestCrisisLanguageIgnoresFiguresOfSpeech(t *testing.T) {
	for _, text := range []string{
		"I could kill for a coffee",
		"this workout is killing me",
		"I'm dying to see the new film",
		"I'd die of embarrassment",
		"just killing time before my shift",
		"the suspense is killing me",
		"dead tired after today",
		"that outfit is drop-dead gorgeous",
		"this cake is to die for",
		"kill the lights, it's bedtime",
		"ran 5 kms this morning",
		"it's only a few kms away",
		"I'm learning to cut myself some slack",
		"I cut myself off from their socials",
		"I'm burning myself out at work",
		"I want to die my hair blue",
		"I killed it at the presentation",
		"my phone died halfway through the day",
		"going to that party would be social suicide",
		"I accidentally cut myself cooking dinner",
		"I hurt myself at the gym",
		"I keep punishing myself for the slip",
		"I don't want to be here at this party",
		"they're happier without me",          // a breakup feeling, not a burden statement
		"This is my final goodbye to you",     // unsent letters are often goodbyes
		"I'd rather die than text them first", // hyperbole; a clinical call, see the phrase list
		"I'm dead inside",
		"skills I want to build", // "kill" inside a word
		"I shot myself in the foot with that email",
		"I keep beating myself up about the text I sent",
		"i am drowning myself in work this week",
		"ich bring mich um vor lachen",
		"",
		"   ",
	} {
		if CrisisLanguage(text) {
			t.Errorf("CrisisLanguage(%q) = true, want false (a false alarm for the client and the care team)", text)
		}
	}
}

func TestCrisisLanguageStillFindsCrisisNextToAnExclusion(t *testing.T) {
	// An exclusion hides only the words it covers, not the whole text.
	text := "I ran 5 kms today and honestly I want to kill myself"
	if !CrisisLanguage(text) {
		t.Errorf("CrisisLanguage(%q) = false, want true", text)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"I’m FINE", "i am fine"},
		{"don't  can't\twon't", "do not can not will not"},
		{"dont cant wont im", "do not can not will not i am"},
		{"I'd rather not", "i would rather not"},
		{"it's my mum's", "it is my mums"},
		{"self-harm", "self harm"},
		{"Café déjà", "cafe deja"},
		{"...wait!!!", "wait"},
		{"'quoted'", "quoted"},
		{"Je ne veux plus, j’ai peur, n'importe", "je veux plus je ai peur importe"},
		{"m'en aller, l'été, qu'il", "me en aller le ete que il"},
	}
	for _, tt := range tests {
		if got := strings.Join(normalize(tt.in), " "); got != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLowMoodStreak(t *testing.T) {
	low := func(dates ...string) []MoodCheckIn {
		var out []MoodCheckIn
		for _, d := range dates {
			out = append(out, MoodCheckIn{LocalDate: d, Mood: -3})
		}
		return out
	}
	tests := []struct {
		name     string
		checkIns []MoodCheckIn
		today    string
		want     bool
	}{
		{"three days ending today", low("2026-11-23", "2026-11-24", "2026-11-25"), "2026-11-25", true},
		{"three days ending yesterday", low("2026-11-22", "2026-11-23", "2026-11-24"), "2026-11-25", true},
		{"three days ending two days ago is old news", low("2026-11-21", "2026-11-22", "2026-11-23"), "2026-11-25", false},
		{"two days only", low("2026-11-24", "2026-11-25"), "2026-11-25", false},
		{"a gap breaks the streak", low("2026-11-22", "2026-11-24", "2026-11-25"), "2026-11-25", false},
		{"across a month end", low("2026-11-30", "2026-12-01", "2026-12-02"), "2026-12-02", true},
		{"across a year end", low("2026-12-31", "2027-01-01", "2027-01-02"), "2027-01-02", true},
		{"across the spring DST change in Europe", low("2026-03-28", "2026-03-29", "2026-03-30"), "2026-03-30", true},
		{
			"a day counts when its lowest check-in is -3",
			append(low("2026-11-23", "2026-11-24", "2026-11-25"), MoodCheckIn{"2026-11-24", 2}),
			"2026-11-25", true,
		},
		{
			"-2 is low but not the bottom of the scale",
			[]MoodCheckIn{{"2026-11-23", -3}, {"2026-11-24", -2}, {"2026-11-25", -3}},
			"2026-11-25", false,
		},
		{"future dates do not count", low("2026-11-25", "2026-11-26", "2026-11-27"), "2026-11-25", false},
		{"malformed dates are ignored", low("2026-11-23", "24/11/2026", "2026-11-25"), "2026-11-25", false},
		{"malformed today", low("2026-11-23", "2026-11-24", "2026-11-25"), "today", false},
		{"no check-ins", nil, "2026-11-25", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LowMoodStreak(tt.checkIns, tt.today); got != tt.want {
				t.Errorf("LowMoodStreak = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHighUrge(t *testing.T) {
	for intensity, want := range map[int]bool{0: false, 5: false, 8: false, 9: true, 10: true} {
		if got := HighUrge(intensity); got != want {
			t.Errorf("HighUrge(%d) = %v, want %v", intensity, got, want)
		}
	}
}

func TestSupportMessage(t *testing.T) {
	for _, r := range []Reason{ReasonCrisisLanguage, ReasonLowMoodStreak, ReasonHighUrge} {
		msg := SupportMessage(r)
		if msg == "" {
			t.Errorf("SupportMessage(%q) is empty", r)
		}
		lower := strings.ToLower(msg)
		for _, banned := range []string{"should", "your ex", "calm down", "overreact"} {
			if strings.Contains(lower, banned) {
				t.Errorf("SupportMessage(%q) contains %q: %s", r, banned, msg)
			}
		}
	}
	if SupportMessage("something_else") != "" {
		t.Error("SupportMessage of an unknown reason is not empty")
	}
}

func TestReasonValues(t *testing.T) {
	// The values are stored and sent in events: they must not change.
	if ReasonCrisisLanguage != "crisis_language" || ReasonLowMoodStreak != "low_mood_streak" || ReasonHighUrge != "high_urge" {
		t.Error("a Reason value changed")
	}
}
