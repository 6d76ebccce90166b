// Package resources lists crisis lines by country: places a client can
// reach a person right now. They are shown whatever the client's consent
// settings.
//
// The list was compiled from the services' public information on
// 2026-11-25 (LastVerified). Numbers and hours change: the clinical team
// must re-verify every entry on a schedule and update LastVerified for each
// entry they check. Add a country only with a number confirmed from the
// service itself.
package resources

import (
	"slices"
	"strings"
)

// LastVerified is the date the current list was checked (YYYY-MM-DD).
const LastVerified = "2026-11-25"

// International is the country code of the fallback entry.
const International = "INT"

// Resource is one place to get help now.
type Resource struct {
	CountryCode  string // ISO 3166-1 alpha-2, or "INT"
	Name         string
	Description  string
	Phone        string // to call, if any
	Text         string // SMS number or keyword, if any
	URL          string
	Hours        string
	LastVerified string // YYYY-MM-DD
}

var byCountry = map[string][]Resource{
	"US": {
		{
			Name:        "988 Suicide & Crisis Lifeline",
			Description: "Free, confidential support from a trained counsellor for anyone in emotional distress. Call or text 988.",
			Phone:       "988", Text: "988", URL: "https://988lifeline.org", Hours: "24/7",
		},
		{
			Name:        "Crisis Text Line",
			Description: "Text with a trained volunteer when talking out loud feels like too much. Text HOME to 741741.",
			Text:        "HOME to 741741", URL: "https://www.crisistextline.org", Hours: "24/7",
		},
	},
	"CA": {
		{
			Name:        "9-8-8 Suicide Crisis Helpline",
			Description: "Free support from a trained responder, in English or French. Call or text 988.",
			Phone:       "988", Text: "988", URL: "https://988.ca", Hours: "24/7",
		},
	},
	"GB": {
		{
			Name:        "Samaritans",
			Description: "Someone to listen, without judgement, whatever you are going through. Free to call.",
			Phone:       "116 123", URL: "https://www.samaritans.org", Hours: "24/7",
		},
		{
			Name:        "Shout",
			Description: "Free, confidential text support with a trained volunteer. Text SHOUT to 85258.",
			Text:        "SHOUT to 85258", URL: "https://giveusashout.org", Hours: "24/7",
		},
	},
	"IE": {
		{
			Name:        "Samaritans Ireland",
			Description: "Someone to listen, without judgement, whatever you are going through. Free to call.",
			Phone:       "116 123", URL: "https://www.samaritans.org/ireland/", Hours: "24/7",
		},
	},
	"AU": {
		{
			Name:        "Lifeline Australia",
			Description: "Crisis support from a trained listener for anyone having a hard time.",
			Phone:       "13 11 14", URL: "https://www.lifeline.org.au", Hours: "24/7",
		},
	},
	"NZ": {
		{
			Name:        "1737, Need to talk?",
			Description: "Free call or text to talk with a trained counsellor.",
			Phone:       "1737", Text: "1737", URL: "https://1737.org.nz", Hours: "24/7",
		},
	},
	"DE": {
		{
			Name:        "TelefonSeelsorge",
			Description: "Free, anonymous support by phone, in German. If this line is busy, try 0800 111 0 222.",
			Phone:       "0800 111 0 111", URL: "https://www.telefonseelsorge.de", Hours: "24/7",
		},
		{
			Name:        "TelefonSeelsorge",
			Description: "The same free, anonymous service on its second number, in German.",
			Phone:       "0800 111 0 222", URL: "https://www.telefonseelsorge.de", Hours: "24/7",
		},
	},
	"FR": {
		{
			Name:        "3114, numéro national de prévention du suicide",
			Description: "Free line answered by trained health professionals, in French, for anyone in distress or worried about someone.",
			Phone:       "3114", URL: "https://3114.fr", Hours: "24/7",
		},
	},
	"IN": {
		{
			Name:        "Tele-MANAS",
			Description: "Free national mental health helpline, in several languages.",
			Phone:       "14416", URL: "https://telemanas.mohfw.gov.in", Hours: "24/7",
		},
	},
}

var international = Resource{
	CountryCode: International,
	Name:        "Find A Helpline",
	Description: "Free, confidential helplines in many countries, searchable by where you are. " +
		"If you are in danger right now, call your local emergency number.",
	URL:   "https://findahelpline.com",
	Hours: "24/7",
}

// aliases maps codes people commonly use to the ISO one.
var aliases = map[string]string{"UK": "GB"}

func init() {
	international.LastVerified = LastVerified
	for cc, rs := range byCountry {
		for i := range rs {
			rs[i].CountryCode = cc
			rs[i].LastVerified = LastVerified
		}
	}
}

// For returns the crisis lines for a country (ISO 3166-1 alpha-2, any
// case), then the international fallback. An empty or unlisted country gets
// the international entry alone, which points to local helplines and the
// local emergency number. The result is a fresh slice the caller may keep.
func For(country string) []Resource {
	cc := strings.ToUpper(strings.TrimSpace(country))
	if a, ok := aliases[cc]; ok {
		cc = a
	}
	local := byCountry[cc]
	out := make([]Resource, 0, len(local)+1)
	out = append(out, local...)
	return append(out, international)
}

// emergencyNumbers are the countries' emergency numbers (police,
// ambulance): what someone whose attempt is under way needs first, before
// any listening line.
var emergencyNumbers = map[string]string{
	"US": "911", "CA": "911", "GB": "999", "IE": "112", "AU": "000",
	"NZ": "111", "DE": "112", "FR": "112", "IN": "112",
}

// Emergency is the emergency-services entry for a country (any case). An
// empty or unlisted country gets 112, which mobile phones connect in the
// European Union and many other countries, with a word to use the local
// number where it differs.
func Emergency(country string) Resource {
	cc := strings.ToUpper(strings.TrimSpace(country))
	if a, ok := aliases[cc]; ok {
		cc = a
	}
	r := Resource{
		Name: "Emergency services",
		Description: "If you have taken something, hurt yourself, or are about to, call now and say where you are. " +
			"You can also go to the nearest emergency department.",
		Hours: "24/7", LastVerified: LastVerified,
	}
	if n, ok := emergencyNumbers[cc]; ok {
		r.CountryCode, r.Phone = cc, n
		return r
	}
	r.CountryCode, r.Phone = International, "112"
	r.Description += " 112 works from mobile phones in many countries; if yours has its own emergency number, call that."
	return r
}

// Imminent is what an answer gives when an attempt is under way or planned
// with a time: the emergency number first, then the crisis lines of For.
func Imminent(country string) []Resource {
	return append([]Resource{Emergency(country)}, For(country)...)
}

// Countries lists, sorted, the countries with their own lines.
func Countries() []string {
	out := make([]string, 0, len(byCountry))
	for cc := range byCountry {
		out = append(out, cc)
	}
	slices.Sort(out)
	return out
}
