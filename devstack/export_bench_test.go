package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/outbox"
)

// BenchmarkExportAYearOfData times an export of one client with a year of
// data, through the real suite (gateway, plans, journal and notify on the
// embedded FerretDB and NATS, or MONGODB_URI): a plan started 364 days ago
// with 365 contacts over the year (every 30th a slip), 365 check-ins, 365
// journal entries of about 1,000 characters (sealed at rest) and 100
// urges, all made through the public API, and the notifications they
// cause. One op is the whole export as the client sees it: the request,
// the wait until every service's part is ready (GET polled every 50 ms),
// and the archive downloaded and unzipped. It reports the wait and the
// download apart, and the archive's size.
//
//	go test -run '^$' -bench BenchmarkExportAYearOfData -benchtime=5x ./devstack/
func BenchmarkExportAYearOfData(b *testing.B) {
	s := startSuiteWith(b, b.TempDir(), func(st *Settings) {
		st.RateLimitPerSecond = "100000"
		st.RateLimitBurst = "100000"
		st.MilestoneScanInterval = "1m"
		if lvl := os.Getenv("NOCONTACT_BENCH_LOG"); lvl != "" {
			st.LogLevel = lvl
		}
	})
	s.http.Timeout = time.Minute
	c := &exportClient{id: "bench-year", tok: token(b, "bench-year", auth.RoleClient)}
	r := &benchRoster{s: s}
	start := time.Now()
	now := time.Now().UTC()
	plan, err := r.post("/v1/plans", c.tok, map[string]any{"timeZone": "Europe/Berlin", "targetDays": 365, "startTime": now.Add(-364 * 24 * time.Hour).Format(time.RFC3339)})
	if err != nil {
		b.Fatal(err)
	}
	planID := plan["id"].(string)
	if _, err := r.post("/v1/plans/"+planID+":activate", c.tok, map[string]any{}); err != nil {
		b.Fatal(err)
	}
	// Contacts in time order (a slip's recommit follows it).
	step := 364 * 24 * time.Hour / 366
	days := 365
	if n, err := strconv.Atoi(os.Getenv("NOCONTACT_EXPORT_DAYS")); err == nil && n > 0 {
		days = n
	}
	for d := range days {
		body := map[string]any{"direction": "INBOUND", "channel": "TEXT", "response": "NONE",
			"occurredAt": now.Add(-364*24*time.Hour + time.Duration(d+1)*step).Format(time.RFC3339), "note": "they wrote again; I did not answer"}
		if d%30 == 29 {
			body["direction"], body["note"] = "OUTBOUND", "I wrote back, and I know why"
			delete(body, "response")
		}
		if _, err := r.post("/v1/plans/"+planID+"/contacts", c.tok, body); err != nil {
			b.Fatal(err)
		}
	}
	text := strings.Repeat("Today was quieter than yesterday. ", 30) // ~1,000 characters
	jobs := make(chan func() error)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for job := range jobs {
				if err := job(); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range days {
		jobs <- func() error {
			_, err := r.post("/v1/clients/"+c.id+"/checkins", c.tok, map[string]any{"kind": "MOMENTARY", "timeZone": "Europe/Berlin",
				"mood": i%7 - 3, "note": fmt.Sprintf("check-in %d", i), "occurredAt": now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339)})
			return err
		}
		jobs <- func() error {
			_, err := r.post("/v1/clients/"+c.id+"/entries", c.tok, map[string]any{"kind": "FREE", "title": fmt.Sprintf("day %d", i), "body": text, "timeZone": "Europe/Berlin"})
			return err
		}
		if i < 100 {
			jobs <- func() error {
				_, err := r.post("/v1/clients/"+c.id+"/urges", c.tok, map[string]any{"intensity": i % 9, "trigger": "loneliness", "timeZone": "Europe/Berlin"})
				return err
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatalf("set-up: %v", err)
	default:
	}
	b.Logf("a year of data made in %v", time.Since(start).Round(time.Millisecond))
	// The export is timed on a suite that has caught up with the set-up
	// (notifications made, risk screening done, everything published):
	// FerretDB runs one command at a time, so a backlog would be timed too.
	start = time.Now()
	for db, colls := range map[string][]string{"plans": {"plans"}, "journal": {"checkins", "entries", "urges", "risk_flags"}} {
		eventually(b, 5*time.Minute, func() string {
			for _, c := range colls {
				n, err := s.stack.Mongo.Database(db).Collection(c).CountDocuments(context.Background(), bson.D{{Key: outbox.FieldPending, Value: true}})
				if err != nil {
					b.Fatal(err)
				}
				if n > 0 {
					return fmt.Sprintf("%d documents in %s.%s still hold unpublished events", n, db, c)
				}
			}
			return ""
		})
	}
	for _, c := range [][2]string{{"PLANS", "notify-plans"}, {"JOURNAL", "notify-journal"}, {"JOURNAL", "journal-risk-flags"}, {"JOURNAL", "plans-journal"}} {
		s.waitConsumedWithin(c[0], c[1], 5*time.Minute)
	}
	b.Logf("the suite caught up in %v", time.Since(start).Round(time.Millisecond))

	b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
		var wait, fetch time.Duration
		var size, recs int
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			ex, _ := requestExport(b, s, c, time.Minute)
			t1 := time.Now()
			code, files := download(b, s, c.id, ex["id"].(string), c.tok)
			if code != 200 {
				b.Fatalf("download = %d %s", code, files["error"])
			}
			t2 := time.Now()
			wait += t1.Sub(t0)
			fetch += t2.Sub(t1)
			size, recs = 0, 0
			for name, f := range files {
				size += len(f)
				if strings.HasSuffix(name, ".json") && name != "export.json" {
					recs += len(records(b, files, name))
				}
			}
			if n := len(records(b, files, "entries.json")); n != days {
				b.Fatalf("entries.json has %d entries, want %d", n, days)
			}
		}
		b.ReportMetric(float64(wait.Milliseconds())/float64(b.N), "ready-ms/op")
		b.ReportMetric(float64(fetch.Milliseconds())/float64(b.N), "download-ms/op")
		b.ReportMetric(float64(size)/1e6, "unzipped-MB")
		b.ReportMetric(float64(recs), "records")
	})
}
