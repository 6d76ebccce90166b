package exportpart

// SetBeforeCreate installs a hook that runs between a build's count and
// its insert, to force the interleaving of two replicas.
func (b *Builder) SetBeforeCreate(fn func(exportID string)) { b.beforeCreate = fn }
