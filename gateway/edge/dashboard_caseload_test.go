package edge

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/auth"
)

// The roster's caseload statistics count clients by need group, and never
// a group of fewer than 10 (minimum counts): such a group says hidden and
// has no count. With exactly one small group, the next smallest is hidden
// too, since the roster's size would give the small one away.
func TestDashboardCaseloadHidesGroupsOfFewerThanTen(t *testing.T) {
	type group struct {
		need string
		n    int
	}
	tests := []struct {
		name   string
		groups []group
		want   map[string]string // need -> count or "hidden"
	}{
		{
			"small groups hidden",
			[]group{{"risk", 3}, {"slip", 11}, {"silence", 12}, {"none", 14}},
			map[string]string{"NEED_REASON_RISK_FLAG": "hidden", "NEED_REASON_RECENT_SLIP": "11", "NEED_REASON_FALLING_MOOD": "hidden",
				"NEED_REASON_SILENCE": "12", "NEED_REASON_UNSPECIFIED": "14"},
		},
		{
			"one small group hides the next smallest",
			[]group{{"risk", 10}, {"slip", 11}, {"falling", 12}, {"silence", 13}, {"none", 2}},
			map[string]string{"NEED_REASON_RISK_FLAG": "hidden", "NEED_REASON_RECENT_SLIP": "11", "NEED_REASON_FALLING_MOOD": "12",
				"NEED_REASON_SILENCE": "13", "NEED_REASON_UNSPECIFIED": "hidden"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDashStack(t, stackOpts{})
			active := testNow.Add(-2 * time.Hour)
			for _, g := range tt.groups {
				for i := range g.n {
					c := client{id: fmt.Sprintf("c-%s-%02d", g.need, i), scopes: allGranted, lastActive: active, trend: journalv1.MoodTrend_MOOD_TREND_STEADY}
					switch g.need {
					case "risk":
						c.flags, c.severity = 1, journalv1.RiskSeverity_RISK_SEVERITY_MODERATE
					case "slip":
						c.slips, c.lastSlip = 1, testNow.Add(-day(2))
					case "falling":
						c.trend = journalv1.MoodTrend_MOOD_TREND_FALLING
					case "silence":
						c.lastActive = testNow.Add(-day(9))
					}
					s.add(c)
				}
			}
			code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, body)
			}
			caseload, _ := body["caseload"].(map[string]any)
			groups, _ := caseload["groups"].([]any)
			got := map[string]string{}
			for _, g := range groups {
				g := g.(map[string]any)
				switch n, ok := g["clients"]; {
				case g["hidden"] == true && !ok:
					got[g["need"].(string)] = "hidden"
				case g["hidden"] == false && ok:
					got[g["need"].(string)] = fmt.Sprint(n)
				default:
					t.Errorf("group %v: hidden and clients disagree", g)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("caseload = %v, want %v", got, tt.want)
			}
		})
	}
}
