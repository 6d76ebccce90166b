package fieldcrypt

// Test hooks between the steps of the read-modify-writes.

func (k *Keyring) SetBeforeInsert(f func(client string))  { k.hooks.beforeInsert = f }
func (k *Keyring) SetBeforeReplace(f func(client string)) { k.hooks.beforeReplace = f }

func AAD(r Ref) []byte { return r.aad() }
