package mongodb

import "strings"

// SealedPaths are the free-text fields of each collection, sealed at rest
// with the client's keyset (issue 13, platform/sealcodec): everything a
// person types into a plan (reasons; boundaries' label and platform;
// exceptions' topic; support contacts' name, relationship and number or
// address; goals; hard dates' labels; why a plan was paused or ended) and
// the notes of logged contacts, in the contacts collection and while they
// wait in the plan (pending_contacts, and the log as plan documents held
// it before the move, contacts). Ids, enums, dates and numbers stay plain:
// they are what the queries filter and sort on (SealedPathsAreNeverQueried
// checks HotQueries). hard_date_notes is not text: per hard date id, the
// local date of the last reminder made, derivable from the plain
// hard_dates[].month and day.
var SealedPaths = map[string][]string{
	CollPlans: {
		"reasons[]",
		"boundaries[].label", "boundaries[].platform",
		"exceptions[].topic",
		"support_contacts[].name", "support_contacts[].relationship", "support_contacts[].contact",
		"goals[].text",
		"hard_dates[].label",
		"end_reason", "pause_reason",
		"pending_contacts[].note", "contacts[].note",
	},
	CollContacts: {"note"},
}

// erased is what a read or write for an erased client answers.
const erased = "this client's plans were erased: nothing can be read or written for them"

// SealedKeys are the field names a query would use for the sealed paths
// of coll ("boundaries.label"), for the check that no query uses one.
func SealedKeys(coll string) []string {
	var out []string
	for _, p := range SealedPaths[coll] {
		out = append(out, strings.NewReplacer("[]", "", "{}", "").Replace(p))
	}
	return out
}
