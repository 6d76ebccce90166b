package screening

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkScreen screens the labelled texts one after another (one op is
// one text) and reports the 99th percentile of a single Screen call, which
// must stay under 1 ms (docs/benchmarks.md):
//
//	go test -run xxx -bench BenchmarkScreen -benchmem ./services/journal/internal/screening/
func BenchmarkScreen(b *testing.B) {
	set := readLabelled(&testing.T{}, "testdata/labelled")
	texts := make([]string, len(set))
	for i, l := range set {
		texts[i] = l.text
	}
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		Screen(texts[i%len(texts)])
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(durs[len(durs)-1].Nanoseconds()), "max-ns")
}
