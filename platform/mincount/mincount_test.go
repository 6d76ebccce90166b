package mincount_test

import (
	"testing"

	"github.com/nocontact/backend/platform/mincount"
)

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "fewer than 10"}, {1, "fewer than 10"}, {9, "fewer than 10"}, {10, "10"}, {137, "137"}} {
		c := mincount.Of(tt.n)
		if got := c.String(); got != tt.want {
			t.Errorf("Of(%d) = %q, want %q", tt.n, got, tt.want)
		}
		v, ok := c.Value()
		if ok != (tt.n >= 10) || (ok && v != tt.n) || (!ok && v != 0) {
			t.Errorf("Of(%d).Value() = %d, %v", tt.n, v, ok)
		}
	}
}

func TestPartition(t *testing.T) {
	tests := []struct {
		name   string
		groups map[string]int
		want   map[string]string
	}{
		{"all large", map[string]int{"a": 10, "b": 25}, map[string]string{"a": "10", "b": "25"}},
		{"two small stay two", map[string]int{"a": 3, "b": 0, "c": 40}, map[string]string{"a": "fewer than 10", "b": "fewer than 10", "c": "40"}},
		{
			// 30 clients, slips 12, risk 15, silence 3: silence would be
			// 30 - 12 - 15; the smallest shown (slips) goes too.
			"one small hides the next smallest", map[string]int{"risk": 15, "slip": 12, "silence": 3},
			map[string]string{"risk": "15", "slip": "fewer than 10", "silence": "fewer than 10"},
		},
		{"ties break by key", map[string]int{"a": 12, "b": 12, "c": 1}, map[string]string{"a": "fewer than 10", "b": "12", "c": "fewer than 10"}},
		{"only one group, small", map[string]int{"a": 4}, map[string]string{"a": "fewer than 10"}},
		{"zero counts as small", map[string]int{"a": 0, "b": 11, "c": 20}, map[string]string{"a": "fewer than 10", "b": "fewer than 10", "c": "20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mincount.Partition(tt.groups)
			if len(got) != len(tt.want) {
				t.Fatalf("Partition = %v, want %v", got, tt.want)
			}
			for k, w := range tt.want {
				if got[k].String() != w {
					t.Errorf("group %s = %q, want %q", k, got[k], w)
				}
			}
		})
	}
}
