// Command benchtable reads `go test -bench` output on stdin and prints the
// ratio table of docs/performance.md: for each benchmark with a baseline
// sub-benchmark (bare, direct, driver) and a measured one (shared,
// gateway, app), the medians of req/s and p99-ms of each, their ratios
// and the goal. Lines it does not know are ignored.
//
//	go test -run '^$' -bench . ./... | (cd tools/benchtable && GOWORK=off go run .)
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// goal is a benchmark's goal: measured throughput at least minRatio of the
// baseline's, and (when maxP99 > 0) its p99 at most maxP99 times.
type goal struct {
	what     string
	minRatio float64
	maxP99   float64
}

var goals = map[string]goal{
	"ChainVsBare":           {"interceptor chain vs bare grpc-go (GetPlan, no store)", 0.60, 2},
	"RefusedVsBare":         {"RPC refused by validation vs bare grpc-go", 0.60, 2},
	"GatewayVsDirect":       {"gateway vs direct gRPC (GetPlan)", 0.50, 0},
	"RecordCheckInVsDriver": {"RecordCheckIn vs raw driver insert (same FerretDB)", 0.70, 0},
	"RecordContactVsDriver": {"RecordContact vs raw driver insert+update (same FerretDB)", 0.70, 0},
}

var baselines = []string{"bare", "direct", "driver"}

var line = regexp.MustCompile(`^Benchmark([^/\s]+)/(\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

type sample struct{ reqs, p99 []float64 }

func run(in io.Reader, out io.Writer) error {
	data := map[string]map[string]*sample{}
	var order []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		m := line.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		name, sub := m[1], m[2]
		if data[name] == nil {
			data[name] = map[string]*sample{}
			order = append(order, name)
		}
		s := data[name][sub]
		if s == nil {
			s = &sample{}
			data[name][sub] = s
		}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "req/s":
				s.reqs = append(s.reqs, v)
			case "p99-ms":
				s.p99 = append(s.p99, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out, "| benchmark | baseline req/s | measured req/s | ratio | goal | baseline p99 | measured p99 | p99 ratio | goal | met |")
	fmt.Fprintln(out, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, name := range order {
		subs := data[name]
		var base string
		for _, b := range baselines {
			if subs[b] != nil {
				base = b
			}
		}
		if base == "" {
			continue
		}
		var others []string
		for sub := range subs {
			if sub != base {
				others = append(others, sub)
			}
		}
		sort.Strings(others)
		g := goals[name]
		for _, sub := range others {
			b, s := subs[base], subs[sub]
			br, sr, bp, sp := median(b.reqs), median(s.reqs), median(b.p99), median(s.p99)
			ratio, p99r := sr/br, sp/bp
			met := ratio >= g.minRatio
			p99goal := "-"
			if g.maxP99 > 0 {
				p99goal = fmt.Sprintf("≤ %.1fx", g.maxP99)
				met = met && p99r <= g.maxP99
			}
			verdict := "yes"
			if !met {
				verdict = "**no**"
			}
			fmt.Fprintf(out, "| %s (%s vs %s, n=%d) | %.0f | %.0f | %.2f | ≥ %.2f | %.2f ms | %.2f ms | %.2fx | %s | %s |\n",
				name, sub, base, len(s.reqs), br, sr, ratio, g.minRatio, bp, sp, p99r, p99goal, verdict)
		}
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
