package app

import "time"

// storedNow is the clock's now at the precision MongoDB stores (ms), so a
// time a write answers equals the time a later read answers.
func storedNow(clk interface{ Now() time.Time }) time.Time {
	return clk.Now().UTC().Truncate(time.Millisecond)
}
