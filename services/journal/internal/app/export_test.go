package app

// SetAfterClaim installs a hook that runs between EscalateNext's claim and
// its write, to force the interleavings of two replicas.
func (j *Journal) SetAfterClaim(fn func(flagID string)) { j.afterClaim = fn }

// SetBeforeCreate installs a hook that runs before a keyed create inserts,
// to force the interleavings of two replicas.
func (j *Journal) SetBeforeCreate(fn func(id string)) { j.beforeCreate = fn }
