package erasure

// SetAfterCreate installs a test hook that runs in Guard between the
// create and the second check (to force the erasure in between).
func (m *Marks) SetAfterCreate(f func(clientID string)) { m.afterCreate = f }
