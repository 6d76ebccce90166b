package app

// SetAfterClaim installs a hook that runs between EscalateNext's claim and
// its write, to force the interleavings of two replicas.
func (j *Journal) SetAfterClaim(fn func(flagID string)) { j.afterClaim = fn }

// SetBeforeLowMood installs a hook that runs before each low-mood read
// (phase "answer" or "flag"); its error is the read's.
func (j *Journal) SetBeforeLowMood(fn func(phase string) error) { j.beforeLowMood = fn }

// SetBeforeFlagWrite installs a hook that runs before a flag is stored;
// its error is the write's.
func (j *Journal) SetBeforeFlagWrite(fn func(flagID string) error) { j.beforeFlagWrite = fn }

// SetBeforeCreate installs a hook that runs before a keyed create inserts,
// to force the interleavings of two replicas.
func (j *Journal) SetBeforeCreate(fn func(id string)) { j.beforeCreate = fn }
