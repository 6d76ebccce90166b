// Package prompts is the library of guided reflection prompts and the
// prompt of the day.
//
// The prompts are fixed data: ids are stable (entries refer to them by
// prompt_id), so a prompt's text may be reworded but its id never reused
// for a different question. They are written to invite, not to instruct:
// no prompt tells the client what to feel, and none describes or judges the
// person they are stepping back from.
package prompts

// The themes, as the API names them.
const (
	ThemeReasons       = "reasons"
	ThemeWhatWorked    = "what_worked"
	ThemeNeedsWants    = "needs_wants"
	ThemeSelfCare      = "self_care"
	ThemeGoals         = "goals"
	ThemeContactFromEx = "contact_from_ex"
	ThemeSlips         = "slips"
)

// Themes lists every theme in the order the library presents them.
func Themes() []string {
	return []string{ThemeReasons, ThemeSelfCare, ThemeNeedsWants, ThemeWhatWorked, ThemeGoals, ThemeContactFromEx, ThemeSlips}
}

// Prompt is one guided reflection prompt.
type Prompt struct {
	ID    string
	Theme string
	Text  string
}

var library = []Prompt{
	{"p-reasons-01", ThemeReasons, "What made you decide to step back from contact? Put it in your own words, so you can come back to it on a hard day."},
	{"p-reasons-02", ThemeReasons, "Think of one moment that showed you this space was worth trying. What happened, and how did it feel?"},
	{"p-reasons-03", ThemeReasons, "What are you hoping this time without contact will give you?"},
	{"p-reasons-04", ThemeReasons, "If a close friend had made this choice, what would you want them to remember about why?"},
	{"p-reasons-05", ThemeReasons, "Which of your reasons feels strongest today, and which feels quieter? Both are part of the picture."},
	{"p-reasons-06", ThemeReasons, "What has changed, even a little, since you stopped being in touch?"},

	{"p-self-care-01", ThemeSelfCare, "What is one small kind thing you could do for your body today? A glass of water, some fresh air and an early night all count."},
	{"p-self-care-02", ThemeSelfCare, "How have you been sleeping and eating lately? Write it down just as it is, without grading yourself."},
	{"p-self-care-03", ThemeSelfCare, "Who or what helped you feel even a little lighter this week?"},
	{"p-self-care-04", ThemeSelfCare, "What does a gentle evening look like for you? What could make tonight a bit more like that?"},
	{"p-self-care-05", ThemeSelfCare, "List three things that usually bring you comfort. Which one is within reach today?"},
	{"p-self-care-06", ThemeSelfCare, "Where in your body do you notice today's feelings? What might that part of you need?"},

	{"p-needs-wants-01", ThemeNeedsWants, "What do you need from a relationship in order to feel safe and respected?"},
	{"p-needs-wants-02", ThemeNeedsWants, "Is there something you wanted that you found hard to ask for? What made asking hard?"},
	{"p-needs-wants-03", ThemeNeedsWants, "Which of your needs can you meet for yourself right now, and which would you like support with?"},
	{"p-needs-wants-04", ThemeNeedsWants, "What are you no longer willing to go without in a relationship?"},
	{"p-needs-wants-05", ThemeNeedsWants, "Pick one thing you miss. Underneath it, what did it give you? Where else could that come from?"},
	{"p-needs-wants-06", ThemeNeedsWants, "What does being cared for look like to you in everyday, ordinary actions?"},

	{"p-what-worked-01", ThemeWhatWorked, "Looking back, what was good in the relationship? It is okay to name it and still keep your distance."},
	{"p-what-worked-02", ThemeWhatWorked, "What did not work for you? Describe it as plainly as you can, without blaming yourself."},
	{"p-what-worked-03", ThemeWhatWorked, "What patterns do you notice when you look back? Which would you like to keep, and which to leave behind?"},
	{"p-what-worked-04", ThemeWhatWorked, "What did you learn about how you handle disagreements, and what would you like to try next time?"},
	{"p-what-worked-05", ThemeWhatWorked, "Which parts of yourself did you set aside during the relationship? Which would you like to bring back?"},
	{"p-what-worked-06", ThemeWhatWorked, "What would you do the same way again, and what would you do differently?"},

	{"p-goals-01", ThemeGoals, "What is one thing you would like to do for yourself in the next month?"},
	{"p-goals-02", ThemeGoals, "Picture yourself a year from now, doing well. What does an ordinary day look like?"},
	{"p-goals-03", ThemeGoals, "Is there an interest or plan you put on hold? What is one small step towards it this week?"},
	{"p-goals-04", ThemeGoals, "Who would you like to spend more time with in the coming weeks?"},
	{"p-goals-05", ThemeGoals, "What is a goal that is just for you, whatever anyone else might think of it?"},
	{"p-goals-06", ThemeGoals, "Look at how far you have come since your first day. What would you like the next stretch to bring?"},

	{"p-contact-from-ex-01", ThemeContactFromEx, "They got in touch. Before deciding anything, what are you feeling right now, and where do you feel it?"},
	{"p-contact-from-ex-02", ThemeContactFromEx, "What would replying give you, and what might it cost you? Take your time with both."},
	{"p-contact-from-ex-03", ThemeContactFromEx, "If a reply is truly needed, for children, logistics or legal matters, what is the shortest, calmest reply that covers only that?"},
	{"p-contact-from-ex-04", ThemeContactFromEx, "Who could you talk this through with before you decide anything?"},
	{"p-contact-from-ex-05", ThemeContactFromEx, "Read your reasons again. Does this message change any of them?"},
	{"p-contact-from-ex-06", ThemeContactFromEx, "Write here everything you would like to say to them. This is a safe place to say it all, and nothing gets sent."},

	{"p-slips-01", ThemeSlips, "A slip is part of many people's path, not the end of it. What was happening in the hour before?"},
	{"p-slips-02", ThemeSlips, "What were you hoping for when you reached out? That hope makes sense. What else could meet it?"},
	{"p-slips-03", ThemeSlips, "How did you feel straight afterwards, and how do you feel now?"},
	{"p-slips-04", ThemeSlips, "What is one thing that could make a moment like that a little easier next time?"},
	{"p-slips-05", ThemeSlips, "Write to yourself the way you would write to a friend who had just slipped."},
	{"p-slips-06", ThemeSlips, "What would you like to carry forward from this, and what can you let go of?"},
}

// arc is the order of the prompt of the day, one per day from the first day
// of the plan: the first week alternates the client's reasons with looking
// after themselves; the second turns to needs and wants; the third looks
// back at what worked and what did not; the last stretch looks ahead to
// goals. It spans 30 days, the default plan target, then starts again.
//
// contact_from_ex and slips prompts are not in the arc: they answer a
// particular moment and would be unsettling on a day when nothing happened.
// The service offers them when that moment comes (ByTheme).
var arc = []string{
	"p-reasons-01", "p-self-care-01", "p-reasons-02", "p-self-care-02", "p-reasons-03", "p-self-care-03", "p-reasons-04",
	"p-needs-wants-01", "p-self-care-04", "p-needs-wants-02", "p-reasons-05", "p-needs-wants-03", "p-self-care-05", "p-needs-wants-04",
	"p-what-worked-01", "p-needs-wants-05", "p-what-worked-02", "p-self-care-06", "p-what-worked-03", "p-needs-wants-06", "p-what-worked-04",
	"p-goals-01", "p-what-worked-05", "p-goals-02", "p-reasons-06", "p-goals-03", "p-what-worked-06", "p-goals-04", "p-goals-05", "p-goals-06",
}

// ArcDays is the length of the prompt-of-the-day arc before it repeats.
const ArcDays = 30

var byID = func() map[string]Prompt {
	m := make(map[string]Prompt, len(library))
	for _, p := range library {
		m[p.ID] = p
	}
	if len(arc) != ArcDays {
		panic("prompts: the arc is not ArcDays long")
	}
	for _, id := range arc {
		if _, ok := m[id]; !ok {
			panic("prompts: arc names unknown prompt " + id)
		}
	}
	return m
}()

// All returns every prompt, grouped by theme. The slice is a copy.
func All() []Prompt {
	out := make([]Prompt, len(library))
	copy(out, library)
	return out
}

// ByTheme returns the prompts of one theme, or none for an unknown theme.
func ByTheme(theme string) []Prompt {
	var out []Prompt
	for _, p := range library {
		if p.Theme == theme {
			out = append(out, p)
		}
	}
	return out
}

// Get returns the prompt with this id.
func Get(id string) (Prompt, bool) {
	p, ok := byID[id]
	return p, ok
}

// ForDay returns the prompt of the day for the client's day since their
// plan (or current attempt) started, day 0 being the first day. After the
// arc it starts again from the beginning. A negative day (a clock or time
// zone mismatch) gets the first day's prompt.
func ForDay(day int) Prompt {
	if day < 0 {
		day = 0
	}
	return byID[arc[day%len(arc)]]
}
