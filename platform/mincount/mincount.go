// Package mincount hides small groups in aggregates across clients: a count
// of fewer than Threshold clients is never shown, because a small group can
// point at a person ("the one client of this counsellor who slipped"). The
// suite shows such a group as "fewer than 10".
//
// A partition (groups that add up to a known total) needs more than hiding
// each small group: with exactly one group hidden, it is the total minus the
// others. Partition then also hides the smallest shown group (complementary
// suppression, as statistical offices do), so no hidden group can be
// worked out from the rest.
package mincount

import (
	"cmp"
	"slices"
	"strconv"
)

// Threshold is the smallest group that is shown.
const Threshold = 10

// Count is a group's size as it may be shown.
type Count struct {
	n     int
	shown bool
}

// Of is n as it may be shown on its own: n when at least Threshold, else
// hidden.
func Of(n int) Count { return Count{n: n, shown: n >= Threshold} }

// Value is the count and true when it may be shown; 0 and false when it is
// hidden.
func (c Count) Value() (int, bool) {
	if !c.shown {
		return 0, false
	}
	return c.n, true
}

// Shown reports whether the count may be shown.
func (c Count) Shown() bool { return c.shown }

// String is the count, or "fewer than 10" when hidden. A group hidden only
// to protect another (Partition) is not fewer than 10, but saying so would
// tell which one it is, so it reads the same.
func (c Count) String() string {
	if !c.shown {
		return "fewer than " + strconv.Itoa(Threshold)
	}
	return strconv.Itoa(c.n)
}

// Partition returns each group's count as it may be shown, for groups that
// partition a total the reader knows. Groups below Threshold are hidden;
// when that leaves exactly one hidden group with others shown, the
// smallest shown group is hidden too (ties by key order, so the answer is
// stable). An empty group (0) is hidden like any small one: telling 0
// from 1 tells too much.
func Partition[K cmp.Ordered](groups map[K]int) map[K]Count {
	out := make(map[K]Count, len(groups))
	hidden := 0
	for k, n := range groups {
		c := Of(n)
		out[k] = c
		if !c.shown {
			hidden++
		}
	}
	if hidden != 1 || hidden == len(groups) {
		return out
	}
	var shown []K
	for k, c := range out {
		if c.shown {
			shown = append(shown, k)
		}
	}
	slices.SortFunc(shown, func(a, b K) int {
		return cmp.Or(cmp.Compare(groups[a], groups[b]), cmp.Compare(a, b))
	})
	out[shown[0]] = Count{n: groups[shown[0]]}
	return out
}
