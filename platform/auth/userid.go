package auth

import "regexp"

// UserIDRule is the charset of every user id in the suite (a token's sub,
// and every client_id, counsellor_id, user_id and actor_id of a request):
// 1 to 128 characters, letters, digits and . _ @ : -, starting with a letter
// or a digit. It holds uuids, e-mail-like ids and what identity providers
// issue, and keeps out NUL, whitespace, "/" and "|", so an id can never
// break a path, a NATS subject or a composite key.
const UserIDRule = "1 to 128 letters, digits or . _ @ : - starting with a letter or digit"

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$`)

// ValidUserID reports whether id is in the user-id charset (UserIDRule).
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }
