package dashboard

import (
	dashboardv1 "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"

	"github.com/nocontact/backend/platform/mincount"
)

// needOrder lists the need groups of CaseloadStatistics, in need order.
var needOrder = []dashboardv1.NeedReason{
	dashboardv1.NeedReason_NEED_REASON_RISK_FLAG,
	dashboardv1.NeedReason_NEED_REASON_RECENT_SLIP,
	dashboardv1.NeedReason_NEED_REASON_FALLING_MOOD,
	dashboardv1.NeedReason_NEED_REASON_SILENCE,
	dashboardv1.NeedReason_NEED_REASON_UNSPECIFIED,
}

// Caseload counts rows by need group under minimum counts
// (platform/mincount): the groups partition the roster, whose size the
// caller sees, so Partition's complementary hiding applies.
func Caseload(rows []Row) *dashboardv1.CaseloadStatistics {
	groups := make(map[int32]int, len(needOrder))
	for _, n := range needOrder {
		groups[int32(n)] = 0
	}
	for _, r := range rows {
		groups[int32(r.Proto.GetNeed())]++
	}
	counts := mincount.Partition(groups)
	out := &dashboardv1.CaseloadStatistics{Groups: make([]*dashboardv1.NeedGroupCount, 0, len(needOrder))}
	for _, n := range needOrder {
		g := &dashboardv1.NeedGroupCount{Need: n, Hidden: true}
		if v, ok := counts[int32(n)].Value(); ok {
			c := int32(v)
			g.Clients, g.Hidden = &c, false
		}
		out.Groups = append(out.Groups, g)
	}
	return out
}
