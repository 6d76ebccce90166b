package app

// SetBeforeReleaseWebhooks installs a hook that runs in ReleaseDue after a
// held notification is released and before its webhook deliveries are
// enqueued; its error is the pass's, to force a failure between the steps.
func (n *Notify) SetBeforeReleaseWebhooks(fn func(noteID string) error) { n.beforeReleaseWebhooks = fn }
