package app

// RaceHooks are the test hooks between a read and the write that depends
// on it (see raceHooks).
type RaceHooks struct {
	PrefsWrite, CapCounted, WebhookCounted func(userID string)
	SecretRead, WebhookDisabling           func(webhookID string)
}

// SetRaceHooks sets the hooks; call it before the replica is used.
func (n *Notify) SetRaceHooks(h RaceHooks) *Notify {
	n.race = raceHooks{prefsWrite: h.PrefsWrite, capCounted: h.CapCounted, webhookCounted: h.WebhookCounted,
		secretRead: h.SecretRead, webhookDisabling: h.WebhookDisabling}
	return n
}
