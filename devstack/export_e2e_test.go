package main

// End-to-end tests of the export (GDPR Art. 20, issue 13) through the
// gateway: the client asks, every service builds its part, the archive
// gathers them.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/auth"
)

// exportClient is one client's data made through the API, with the ids of
// every record and a marker written into their free text.
type exportClient struct {
	id, tok, marker string
	// ids by the archive file they must appear in.
	ids map[string][]string
	// webhookSecret must not appear in any archive.
	webhookSecret string
}

// seedExportClient makes a plan with contacts, check-ins, entries (a
// letter among them), an urge, preferences and a webhook for id.
func seedExportClient(t *testing.T, s *suite, id string) *exportClient {
	t.Helper()
	c := &exportClient{id: id, tok: token(t, id, auth.RoleClient), marker: "marker-" + id, ids: map[string][]string{}}
	start := time.Now().Add(-10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", c.tok, map[string]any{
		"timeZone": "Europe/Berlin", "startTime": start, "reasons": []string{"reason " + c.marker},
	})
	planID := plan["id"].(string)
	c.ids["plans"] = append(c.ids["plans"], planID)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+planID+":activate", c.tok, map[string]any{})
	for i, dir := range []string{"INBOUND", "OUTBOUND"} {
		ct := s.mustCall(http.StatusOK, "POST", "/v1/plans/"+planID+"/contacts", c.tok, map[string]any{
			"direction": dir, "channel": "TEXT", "occurredAt": time.Now().Add(-time.Duration(3-i) * time.Hour).UTC().Format(time.RFC3339),
			"note": fmt.Sprintf("contact %d %s", i, c.marker),
		})
		c.ids["contacts"] = append(c.ids["contacts"], ct["id"].(string))
	}
	for i := range 2 {
		ci := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+id+"/checkins", c.tok, map[string]any{
			"kind": "DAILY", "occurredAt": time.Now().Add(-time.Duration(24*(i+1)) * time.Hour).UTC().Format(time.RFC3339),
			"timeZone": "Europe/Berlin", "mood": 1, "note": fmt.Sprintf("check-in %d %s", i, c.marker),
		})
		c.ids["check_ins"] = append(c.ids["check_ins"], ci["checkIn"].(map[string]any)["id"].(string))
	}
	for _, kind := range []string{"FREE", "UNSENT_LETTER"} {
		en := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+id+"/entries", c.tok, map[string]any{
			"kind": kind, "title": "title " + c.marker, "body": kind + " body " + c.marker, "timeZone": "Europe/Berlin",
		})
		c.ids["entries"] = append(c.ids["entries"], en["entry"].(map[string]any)["id"].(string))
	}
	ur := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+id+"/urges", c.tok, map[string]any{
		"intensity": 4, "trigger": "loneliness", "note": "urge " + c.marker, "timeZone": "Europe/Berlin",
	})
	c.ids["urges"] = append(c.ids["urges"], ur["urge"].(map[string]any)["id"].(string))
	// A high urge raises a risk flag (the journal's consumer of its own
	// events, a moment later).
	high := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+id+"/urges", c.tok, map[string]any{"intensity": 9, "trigger": "loneliness", "timeZone": "Europe/Berlin"})
	c.ids["urges"] = append(c.ids["urges"], high["urge"].(map[string]any)["id"].(string))
	eventually(t, 20*time.Second, func() string {
		flags, _ := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+id+"/risk-flags", c.tok, nil)["riskFlags"].([]any)
		if len(flags) == 0 {
			return "no risk flag raised for the high urge yet"
		}
		c.ids["risk_flags"] = []string{flags[0].(map[string]any)["id"].(string)}
		return ""
	})
	s.mustCall(http.StatusOK, "PATCH", "/v1/users/"+id+"/notification-preferences", c.tok, map[string]any{"dailyCap": 4})
	c.ids["preferences"] = append(c.ids["preferences"], id)
	hook := s.mustCall(http.StatusOK, "POST", "/v1/users/"+id+"/webhooks", c.tok, map[string]any{"url": "http://127.0.0.1:9/hook-" + id})
	if w, ok := hook["webhook"].(map[string]any); ok {
		hook = w
	}
	c.ids["webhooks"] = append(c.ids["webhooks"], hook["id"].(string))
	c.webhookSecret, _ = hook["secret"].(string)
	if c.webhookSecret == "" {
		t.Fatalf("created webhook = %v, want its secret once", hook)
	}
	return c
}

// requestExport asks for an export and waits until every part is ready,
// returning the export and each service's readiness as it was first seen.
func requestExport(t testing.TB, s *suite, c *exportClient, within time.Duration) (map[string]any, []string) {
	t.Helper()
	ex := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+c.id+"/exports", c.tok, map[string]any{})
	if e, ok := ex["export"].(map[string]any); ok {
		ex = e
	}
	id, _ := ex["id"].(string)
	if id == "" || ex["state"] != "EXPORT_STATE_RUNNING" {
		t.Fatalf("requested export = %v, want a running one", ex)
	}
	got, progress := waitExport(t, s, c, id, within, func(ex map[string]any) bool { return ex["state"] == "EXPORT_STATE_READY" })
	return got, progress
}

// waitExport polls the export until done holds (or the deadline passes),
// recording the order the parts became ready in.
func waitExport(t testing.TB, s *suite, c *exportClient, id string, within time.Duration, done func(map[string]any) bool) (map[string]any, []string) {
	t.Helper()
	var progress []string
	seen := map[string]bool{}
	var ex map[string]any
	eventually(t, within, func() string {
		out := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+c.id+"/exports/"+id, c.tok, nil)
		ex = out
		if e, ok := out["export"].(map[string]any); ok {
			ex = e
		}
		for _, p := range ex["parts"].([]any) {
			pm := p.(map[string]any)
			if pm["ready"] == true && !seen[pm["service"].(string)] {
				seen[pm["service"].(string)] = true
				progress = append(progress, pm["service"].(string))
			}
		}
		if done(ex) {
			return ""
		}
		return fmt.Sprintf("export %s after %v: %v", id, within, ex)
	})
	return ex, progress
}

// lastExportRequest is the newest ExportRequested event on the PLANS
// stream, to publish again as a replay.
func lastExportRequest(ctx context.Context, t testing.TB, js jetstream.JetStream) *jetstream.RawStreamMsg {
	t.Helper()
	stream, err := js.Stream(ctx, "PLANS")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := stream.GetLastMsgForSubject(ctx, "plans.export.requested")
	if err != nil {
		t.Fatal(err)
	}
	return orig
}

// download fetches the archive and answers its files by name.
func download(t testing.TB, s *suite, clientID, exportID, tok string) (int, map[string][]byte) {
	t.Helper()
	req, err := http.NewRequest("GET", s.base+"/v1/clients/"+clientID+"/exports/"+exportID+":download", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	hc := &http.Client{Timeout: 2 * time.Minute}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("download body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, map[string][]byte{"error": body}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
		t.Fatalf("archive content type %q", ct)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the archive does not unzip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return resp.StatusCode, files
}

// records parses one of the archive's JSON files.
func records(t testing.TB, files map[string][]byte, name string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(files[name], &out); err != nil {
		t.Fatalf("%s is not a JSON array of records: %v\n%s", name, err, files[name])
	}
	return out
}

var archiveFileNames = []string{
	"README.md", "export.json",
	"plans.json", "contacts.json", "milestones.json", "attempts.json", "care_assignments.json", "consents.json", "access_log.json",
	"entries.json", "check_ins.json", "urges.json", "risk_flags.json",
	"notifications.json", "preferences.json", "webhooks.json",
}

func TestExportArchiveHoldsEverythingOfTheClientsAndNothingElse(t *testing.T) {
	s := startSuite(t)
	a := seedExportClient(t, s, "export-a")
	b := seedExportClient(t, s, "export-b")
	admin := token(t, "export-admin", auth.RoleAdmin)
	counsellor := token(t, "export-counsellor", auth.RoleCounsellor)

	// A counsellor with every consent, who reads the client's plan: the
	// read is in the client's access log (and so in the archive).
	as := s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", admin, map[string]any{"clientId": a.id, "counsellorId": "export-counsellor"})
	if x, ok := as["assignment"].(map[string]any); ok {
		as = x
	}
	a.ids["care_assignments"] = append(a.ids["care_assignments"], as["id"].(string))
	for _, scope := range []string{"PLAN_PROGRESS", "MOOD_INSIGHTS", "SHARED_JOURNAL", "RISK_ALERTS"} {
		s.mustCall(http.StatusOK, "POST", "/v1/clients/"+a.id+"/consents", a.tok, map[string]any{"scope": scope})
	}
	s.mustCall(http.StatusOK, "GET", "/v1/plans/"+a.ids["plans"][0], counsellor, nil)

	// Neither the counsellor nor an admin may export the client's data.
	for who, tok := range map[string]string{"counsellor": counsellor, "admin": admin} {
		code, out := s.call("POST", "/v1/clients/"+a.id+"/exports", tok, map[string]any{})
		if code != http.StatusForbidden {
			t.Errorf("%s's export request = %d %v, want 403", who, code, out)
		}
	}

	ex, progress := requestExport(t, s, a, 30*time.Second)
	exportID := ex["id"].(string)
	if fmt.Sprint(sortedCopy(progress)) != "[journal notify plans]" {
		t.Errorf("parts seen ready = %v, want every service's", progress)
	}
	counts := map[string]float64{}
	for _, p := range ex["parts"].([]any) {
		for k, v := range p.(map[string]any)["counts"].(map[string]any) {
			counts[k], _ = v.(float64)
		}
	}
	if counts["entries"] != 2 || counts["check_ins"] != 2 || counts["contacts"] != 2 || counts["urges"] != 2 || counts["risk_flags"] != 1 || counts["webhooks"] != 1 {
		t.Errorf("counts = %v, want 2 entries, 2 check-ins, 2 contacts, 2 urges, 1 risk flag, 1 webhook", counts)
	}

	// Nobody else gets the export, its parts or its archive.
	for who, tok := range map[string]string{"counsellor": counsellor, "admin": admin} {
		for _, path := range []string{"", "/parts/plans", "/parts/journal", "/parts/notify"} {
			if code, out := s.call("GET", "/v1/clients/"+a.id+"/exports/"+exportID+path, tok, nil); code != http.StatusForbidden {
				t.Errorf("%s GET export%s = %d %v, want 403", who, path, code, out)
			}
		}
		if code, _ := download(t, s, a.id, exportID, tok); code != http.StatusForbidden {
			t.Errorf("%s's download = %d, want 403", who, code)
		}
	}
	if code, _ := download(t, s, a.id, exportID, b.tok); code != http.StatusNotFound {
		t.Errorf("another client's download = %d, want 404", code)
	}
	if code, _ := download(t, s, b.id, exportID, b.tok); code != http.StatusNotFound {
		t.Errorf("another client's download under their own id = %d, want 404", code)
	}

	code, files := download(t, s, a.id, exportID, a.tok)
	if code != http.StatusOK {
		t.Fatalf("download = %d %s", code, files["error"])
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	if fmt.Sprint(sortedCopy(names)) != fmt.Sprint(sortedCopy(archiveFileNames)) {
		t.Errorf("archive files = %v, want %v", sortedCopy(names), sortedCopy(archiveFileNames))
	}
	readme := string(files["README.md"])
	for _, n := range archiveFileNames[2:] {
		if !strings.Contains(readme, "| "+n+" |") {
			t.Errorf("README.md does not describe %s", n)
		}
	}
	// Every record the client made is in its file, whole.
	for file, want := range a.ids {
		got := map[string]bool{}
		for _, r := range records(t, files, file+".json") {
			if id, _ := r["id"].(string); id != "" {
				got[id] = true
			}
			if id, _ := r["userId"].(string); file == "preferences" {
				got[id] = true
			}
		}
		for _, id := range want {
			if !got[id] {
				t.Errorf("%s.json lacks %s (has %v)", file, id, got)
			}
		}
	}
	entries := records(t, files, "entries.json")
	for _, e := range entries {
		if !strings.Contains(e["body"].(string), a.marker) {
			t.Errorf("entry %v is not the client's words, opened", e)
		}
	}
	if n := len(records(t, files, "milestones.json")); n == 0 {
		t.Errorf("milestones.json is empty")
	}
	if n := len(records(t, files, "attempts.json")); n == 0 {
		t.Errorf("attempts.json is empty")
	}
	var sawCounsellor bool
	for _, e := range records(t, files, "access_log.json") {
		sawCounsellor = sawCounsellor || e["actorId"] == "export-counsellor"
	}
	if !sawCounsellor {
		t.Errorf("access_log.json does not show the counsellor's read")
	}
	// Nothing of the other client's, and no webhook secret, anywhere. (The
	// access log names the other client as an actor: their refused
	// download of this export is the client's to know about.)
	for name, body := range files {
		for _, bad := range append([]string{b.id, b.marker, a.webhookSecret, b.webhookSecret}, flatten(b.ids)...) {
			if bad == b.id && name == "access_log.json" {
				continue
			}
			if bytes.Contains(body, []byte(bad)) {
				t.Errorf("%s holds %q, which is not the client's to get", name, bad)
			}
		}
	}
	// The client's own notifications only: the counsellor's about the
	// client are the counsellor's.
	notes := records(t, files, "notifications.json")
	if len(notes) == 0 {
		t.Errorf("notifications.json is empty")
	}
	for _, n := range notes {
		if n["userId"] != a.id {
			t.Errorf("notifications.json has a notification for %v", n["userId"])
		}
	}
	for _, kind := range []string{"plans", "contacts", "entries", "check_ins", "urges", "risk_flags"} {
		for _, r := range records(t, files, kind+".json") {
			if cid, ok := r["clientId"]; ok && cid != a.id {
				t.Errorf("%s.json has a record of %v", kind, cid)
			}
		}
	}

	// The other client's own export holds their data, not the first's.
	exB, _ := requestExport(t, s, b, 30*time.Second)
	code, filesB := download(t, s, b.id, exB["id"].(string), b.tok)
	if code != http.StatusOK {
		t.Fatalf("B's download = %d", code)
	}
	if got := records(t, filesB, "entries.json"); len(got) != 2 {
		t.Errorf("B's entries.json has %d records, want 2", len(got))
	}
	for name, body := range filesB {
		if bytes.Contains(body, []byte(a.marker)) || bytes.Contains(body, []byte(a.ids["entries"][0])) {
			t.Errorf("B's %s holds A's data", name)
		}
	}
}

func flatten(m map[string][]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v...)
	}
	return out
}

func sortedCopy(in []string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	return out
}

// partEvents counts, on each service's stream, the ExportPartReady events
// of one export.
func partEvents(t *testing.T, url, exportID string) map[string]int {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, svc := range []string{"plans", "journal", "notify"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cons, err := js.OrderedConsumer(ctx, strings.ToUpper(svc), jetstream.OrderedConsumerConfig{FilterSubjects: []string{svc + ".export.part_ready"}})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		info, err := cons.Info(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(info.NumPending); i++ {
			msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
			if err != nil {
				t.Fatalf("read %s event %d: %v", svc, i+1, err)
			}
			var env eventsv1.Envelope
			if err := proto.Unmarshal(msg.Data(), &env); err != nil {
				t.Fatal(err)
			}
			if env.GetExportPartReady().GetExportId() == exportID {
				got[svc]++
			}
		}
	}
	return got
}

// A redelivered (or replayed) ExportRequested builds no second part: each
// service, on every replica, publishes one ExportPartReady per export.
func TestExportRequestRedeliveredBuildsOnePart(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	a := seedExportClient(t, s, "export-r")
	ex, _ := requestExport(t, s, a, 30*time.Second)
	id := ex["id"].(string)

	js, closeJS := s.jetStream()
	defer closeJS()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	orig := lastExportRequest(ctx, t, js)
	// The same event again, past the duplicate window (a new message id):
	// twice, so that both replicas of each consumer may take one.
	for i := range 2 {
		if _, err := js.Publish(ctx, "plans.export.requested", orig.Data, jetstream.WithMsgID(fmt.Sprintf("replay-%d-%s", i, id))); err != nil {
			t.Fatal(err)
		}
	}
	for _, durable := range []string{"plans-export", "journal-export", "notify-export"} {
		s.waitConsumed("PLANS", durable)
	}
	s.waitPublished("plans", "export_parts")
	s.waitPublished("journal", "export_parts")
	s.waitPublished("notify", "export_parts")
	if got := partEvents(t, s.nats, id); fmt.Sprint(got) != "map[journal:1 notify:1 plans:1]" {
		t.Errorf("ExportPartReady events after a replayed request = %v, want one per service", got)
	}
	// A retried request under the same request id answers the same export.
	first := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+a.id+"/exports?requestId=again", a.tok, map[string]any{})
	second := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+a.id+"/exports?requestId=again", a.tok, map[string]any{})
	if fmt.Sprint(first["export"].(map[string]any)["id"]) != fmt.Sprint(second["export"].(map[string]any)["id"]) {
		t.Errorf("a retried request made a second export: %v, %v", first, second)
	}
	after := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+a.id+"/exports/"+id, a.tok, nil)
	if fmt.Sprint(after) != fmt.Sprint(map[string]any{"export": ex}) && fmt.Sprint(after) != fmt.Sprint(ex) {
		t.Errorf("the export changed after a replayed request:\n%v\nwas\n%v", after, ex)
	}
}

// A service that is down when the export is asked for builds its part
// when it is back: the export shows the parts that arrived, refuses the
// download meanwhile, and completes after the restart.
func TestExportCompletesAfterAServiceThatWasDown(t *testing.T) {
	dir := t.TempDir()
	first := startSuiteIn(t, dir)
	a := seedExportClient(t, first, "export-d")
	// Every journal replica (one, or NOCONTACT_REPLICAS of them).
	stopped := first.stack.StopReplica("journal")
	for i := 0; first.stack.StopReplica(fmt.Sprintf("journal-%d", i)); i++ {
		stopped = true
	}
	if !stopped {
		t.Fatal("no journal replica to stop")
	}
	out := first.mustCall(http.StatusOK, "POST", "/v1/clients/"+a.id+"/exports", a.tok, map[string]any{})
	ex := out
	if e, ok := out["export"].(map[string]any); ok {
		ex = e
	}
	id := ex["id"].(string)
	partial, progress := waitExport(t, first, a, id, 30*time.Second, func(ex map[string]any) bool {
		n := 0
		for _, p := range ex["parts"].([]any) {
			if p.(map[string]any)["ready"] == true {
				n++
			}
		}
		return n == 2
	})
	if fmt.Sprint(sortedCopy(progress)) != "[notify plans]" || partial["state"] != "EXPORT_STATE_RUNNING" {
		t.Fatalf("with the journal down: parts %v, state %v; want plans and notify, running", progress, partial["state"])
	}
	if code, files := download(t, first, a.id, id, a.tok); code != http.StatusBadRequest {
		t.Errorf("download before every part is ready = %d %s, want 400 (FAILED_PRECONDITION)", code, files["error"])
	}
	first.waitConsumed("PLANS", "notify-export")
	first.stop()

	second := startSuiteIn(t, dir)
	done, _ := waitExport(t, second, a, id, 30*time.Second, func(ex map[string]any) bool { return ex["state"] == "EXPORT_STATE_READY" })
	if done["id"] != id {
		t.Fatalf("export after the restart = %v", done)
	}
	code, files := download(t, second, a.id, id, a.tok)
	if code != http.StatusOK {
		t.Fatalf("download after the restart = %d %s", code, files["error"])
	}
	if got := records(t, files, "entries.json"); len(got) != 2 {
		t.Errorf("entries.json after the journal came back has %d records, want 2", len(got))
	}
}

// Entries at their largest (20,000 four-byte characters and a 200-character
// title) travel in pages that stay under gRPC's 4 MB message limit: more
// of them than fit in one message reach the archive whole.
func TestExportOfTheLargestEntriesStaysUnderTheMessageLimit(t *testing.T) {
	s := startSuite(t)
	c := &exportClient{id: "export-big", tok: token(t, "export-big", auth.RoleClient)}
	body := strings.Repeat("😀", 20000) // 80,000 bytes
	title := strings.Repeat("😀", 200)
	const n = 60 // 4.8 MB of bodies: more than one message may hold
	for range n {
		s.mustCall(http.StatusOK, "POST", "/v1/clients/"+c.id+"/entries", c.tok, map[string]any{
			"kind": "FREE", "title": title, "body": body, "timeZone": "UTC",
		})
	}
	ex, _ := requestExport(t, s, c, time.Minute)
	code, files := download(t, s, c.id, ex["id"].(string), c.tok)
	if code != http.StatusOK {
		t.Fatalf("download = %d %s", code, files["error"])
	}
	got := records(t, files, "entries.json")
	if len(got) != n {
		t.Fatalf("entries.json has %d entries, want %d", len(got), n)
	}
	for _, e := range got {
		if e["body"] != body || e["title"] != title {
			t.Fatalf("an entry did not arrive whole (%d bytes of body)", len(e["body"].(string)))
		}
	}
}

// An erasure takes the client's exports with it, a replayed request of an
// erased client builds no part again, and an erased client cannot ask for
// a new export.
func TestExportOfAnErasedClientBuildsNothing(t *testing.T) {
	s := startSuite(t)
	a := seedExportClient(t, s, "export-e")
	requestExport(t, s, a, 30*time.Second)
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+a.id+"/erasure", a.tok, map[string]any{})
	eventually(t, 30*time.Second, func() string {
		if er := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+a.id+"/erasure", a.tok, nil); er["state"] != "ERASURE_STATE_COMPLETED" {
			return fmt.Sprintf("erasure %v", er["state"])
		}
		return ""
	})
	parts := func() map[string]int64 {
		out := map[string]int64{}
		for _, db := range []string{"plans", "journal", "notify"} {
			for _, coll := range []string{"export_parts", "exports"} {
				n, err := s.stack.Mongo.Database(db).Collection(coll).CountDocuments(context.Background(), bson.D{{Key: "client_id", Value: a.id}})
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					out[db+"."+coll] = n
				}
			}
		}
		return out
	}
	if got := parts(); len(got) > 0 {
		t.Fatalf("after the erasure the client still has export documents: %v", got)
	}

	js, closeJS := s.jetStream()
	defer closeJS()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	orig := lastExportRequest(ctx, t, js)
	if _, err := js.Publish(ctx, "plans.export.requested", orig.Data, jetstream.WithMsgID("replay-after-erasure")); err != nil {
		t.Fatal(err)
	}
	for _, durable := range []string{"plans-export", "journal-export", "notify-export"} {
		s.waitConsumed("PLANS", durable)
	}
	if got := parts(); len(got) > 0 {
		t.Fatalf("a replayed request re-created export documents of an erased client: %v", got)
	}
	if code, out := s.call("POST", "/v1/clients/"+a.id+"/exports", a.tok, map[string]any{}); code != http.StatusBadRequest {
		t.Fatalf("an erased client's export request = %d %v, want 400 (FAILED_PRECONDITION)", code, out)
	}
}
