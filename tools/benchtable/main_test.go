package main

import (
	"strings"
	"testing"
)

func TestRatioTable(t *testing.T) {
	in := `BenchmarkChainVsBare/bare-2   3000  306951 ns/op  0.50 p50-ms  20.00 p99-ms  3000 req/s  10834 B/op  154 allocs/op
BenchmarkChainVsBare/shared-2 3000  741241 ns/op  1.14 p50-ms  30.00 p99-ms  2100 req/s  22123 B/op  321 allocs/op
BenchmarkGatewayVsDirect/direct-2 3000 1 ns/op 1 p50-ms 10 p99-ms 1000 req/s
BenchmarkGatewayVsDirect/gateway-2 3000 1 ns/op 1 p50-ms 50 p99-ms 400 req/s
unrelated line
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| ChainVsBare (shared vs bare, n=1) | 3000 | 2100 | 0.70 | ≥ 0.60 | 20.00 ms | 30.00 ms | 1.50x | ≤ 2.0x | yes |",
		"| GatewayVsDirect (gateway vs direct, n=1) | 1000 | 400 | 0.40 | ≥ 0.50 |", "**no** |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
