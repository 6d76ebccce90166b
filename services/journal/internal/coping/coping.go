// Package coping holds the concrete steps offered when an urge to make
// contact hits, and picks one for the moment.
//
// Each step is something a person can do right now, alone, in a few
// minutes. The choice is deterministic: the same intensity, trigger and
// sequence number always give the same step, and the sequence number (for
// example the client's count of logged urges) rotates among the fitting
// steps so the client is not offered the same thing every time.
package coping

// Step is one concrete thing to do now.
type Step struct {
	ID      string
	Title   string
	Text    string
	Minutes int
}

// Step ids. They are stable: stored answers and analytics refer to them.
const (
	Breathe478      = "breathe-4-7-8"
	BoxBreathing    = "box-breathing"
	ColdWater       = "cold-water"
	Grounding54321  = "grounding-5-4-3-2-1"
	Walk10          = "walk-10"
	Delay15         = "delay-15"
	WriteItHere     = "write-it-here"
	ReachOut        = "reach-out"
	ReadReasons     = "read-reasons"
	PhoneAway       = "phone-away"
	MuteChat        = "mute-chat"
	LogOut          = "log-out"
	WarmDrink       = "warm-drink"
	ShortShower     = "short-shower"
	WindDown        = "wind-down"
	WaterNoPhone    = "water-no-phone"
	ChangeTheMusic  = "change-the-music"
	PhotosAway      = "photos-away"
	NoReplyNeeded   = "no-reply-needed"
	ChangeOfScenery = "change-of-scenery"
)

var steps = []Step{
	{Breathe478, "Breathe 4-7-8",
		"Breathe in quietly through your nose for 4, hold for 7, then breathe out slowly through your mouth for 8. Do four rounds. The long out-breath tells your body it can settle.", 2},
	{BoxBreathing, "Box breathing",
		"Breathe in for 4, hold for 4, out for 4, hold for 4. Trace a square with your finger as you go. Keep going for a few minutes, or until the wave eases.", 3},
	{ColdWater, "Cold water on your face",
		"Splash cold water on your face, or hold something cold against your cheeks for 30 seconds. It slows your heart rate and takes the edge off a strong feeling.", 1},
	{Grounding54321, "Ground yourself: 5-4-3-2-1",
		"Name 5 things you can see, 4 you can touch, 3 you can hear, 2 you can smell and 1 you can taste. Say them out loud if you can. It brings you back into the room.", 3},
	{Walk10, "A 10-minute walk",
		"Put on your shoes and walk for 10 minutes, even just around the block. Leave your phone in your pocket and notice what is around you.", 10},
	{Delay15, "Wait 15 minutes",
		"Set a 15-minute timer and promise yourself only this: nothing gets sent before it rings. Urges rise and fall, and this one will likely feel different when the timer goes off.", 15},
	{WriteItHere, "Write it here instead",
		"Write the message you want to send, every word of it, in your journal. Nothing leaves this page. Read it back when you are done and notice how you feel.", 10},
	{ReachOut, "Reach out to someone on your side",
		"Call or message one of the people you listed as support. You do not have to explain everything: \"Having a hard moment, can you talk?\" is enough.", 10},
	{ReadReasons, "Read your reasons",
		"Read the reasons you wrote when you started, slowly, one at a time. They were written by you, for a moment like this one.", 3},
	{PhoneAway, "Put your phone in another room",
		"Switch your phone to silent and leave it in another room for a while. Distance makes it easier to let the urge pass without acting on it.", 1},
	{MuteChat, "Mute or archive the chat",
		"Mute or archive the conversation so it stops catching your eye. You are not deleting anything, just giving yourself some quiet.", 2},
	{LogOut, "Log out of the app",
		"Log out of the social media app, or move it off your home screen. The few extra taps it takes to get back in give you time to choose.", 2},
	{WarmDrink, "Make a warm drink",
		"Make yourself a cup of tea, cocoa or something warm you like. Hold the mug in both hands and sip slowly while it cools.", 10},
	{ShortShower, "Take a short shower",
		"Take a short warm shower. Let the water carry some of the tension away, then get into something comfortable.", 10},
	{WindDown, "Wind down without screens",
		"Late nights make everything feel bigger. Dim the lights, put the phone on charge away from the bed, and read, stretch or listen to something calm until you feel sleepy.", 20},
	{WaterNoPhone, "Water, and no phone tonight",
		"Drink a big glass of water and put your phone somewhere out of reach until morning. Decisions made after a drink often look different the next day.", 5},
	{ChangeTheMusic, "Change the music",
		"Switch to a playlist with no shared memories: something new, something instrumental, or a podcast. Songs can pull hard, and you can choose another one.", 2},
	{PhotosAway, "Put the photos out of sight",
		"Move the photos to a hidden album or a box for now. You do not have to decide what to do with them today, just give yourself a break from seeing them.", 5},
	{NoReplyNeeded, "You do not have to reply now",
		"A message arriving does not mean you owe an answer now, or at all. Take a breath, put the phone down, and come back to it after you have talked it through or slept on it.", 5},
	{ChangeOfScenery, "Change where you are",
		"If a place is stirring things up, move: another room, another street, a cafe, a friend's place. A new setting helps the feeling loosen its grip.", 10},
}

var byID = func() map[string]Step {
	m := make(map[string]Step, len(steps))
	for _, s := range steps {
		m[s.ID] = s
	}
	for _, ids := range byTrigger {
		mustKnow(m, ids)
	}
	mustKnow(m, bodyFirst)
	mustKnow(m, general)
	return m
}()

func mustKnow(m map[string]Step, ids []string) {
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			panic("coping: unknown step " + id)
		}
	}
}

// HighIntensity is the lowest urge intensity (0..10) at which the body is
// calmed first.
const HighIntensity = 8

// bodyFirst are fast, body-based steps: when an urge is at its strongest,
// the body settles before the mind can weigh anything.
var bodyFirst = []string{Breathe478, ColdWater, Grounding54321, BoxBreathing}

// byTrigger lists the steps that fit each trigger, best first.
var byTrigger = map[string][]string{
	"their_social_media":  {LogOut, PhoneAway, MuteChat},
	"nighttime":           {WindDown, PhoneAway, WarmDrink},
	"alcohol":             {WaterNoPhone, PhoneAway, ReachOut},
	"loneliness":          {ReachOut, Walk10, WarmDrink},
	"contact_from_ex":     {NoReplyNeeded, WriteItHere, ReachOut},
	"photos":              {PhotosAway, Walk10, ReadReasons},
	"music":               {ChangeTheMusic, Walk10, WriteItHere},
	"places":              {ChangeOfScenery, Grounding54321, ReachOut},
	"mutual_friends":      {MuteChat, WriteItHere, ReadReasons},
	"dates_anniversaries": {ReachOut, WriteItHere, ReadReasons},
	"stress":              {BoxBreathing, Walk10, ShortShower},
	"boredom":             {Walk10, Delay15, ShortShower},
}

// general fits any moment: no trigger, "other", or one not listed.
var general = []string{Delay15, ReadReasons, WriteItHere, Walk10, ReachOut, PhoneAway}

// All returns every step. The slice is a copy.
func All() []Step {
	out := make([]Step, len(steps))
	copy(out, steps)
	return out
}

// Get returns the step with this id.
func Get(id string) (Step, bool) {
	s, ok := byID[id]
	return s, ok
}

// For picks one step for an urge of this intensity (0..10) and trigger
// (the check-in trigger vocabulary, or empty). At HighIntensity and above a
// fast body-based step comes first whatever the trigger; below it the step
// fits the trigger, or is a general one. seq rotates among the fitting
// steps: pass something that grows per urge, such as the client's number of
// urges logged so far.
func For(intensity int, trigger string, seq uint64) Step {
	ids := general
	switch {
	case intensity >= HighIntensity:
		ids = bodyFirst
	case byTrigger[trigger] != nil:
		ids = byTrigger[trigger]
	}
	return byID[ids[seq%uint64(len(ids))]]
}
