package main

// Load tests (issue 15; the figures go to docs/performance.md): milestone
// due → notification stored at half the store's write ceiling, the live
// feed's fan-out to 1,000 streams, idle CPU and memory under a soak, and
// keyed reads through the gateway at a constant rate (vegeta). They assert
// only the issue's goals, and never run in `make test`: skipped with
// -short and unless NOCONTACT_LOAD=1, which `make load` sets. Every wait
// is on a positive signal (a live-feed signal, a consumer's ack count, an
// empty outbox); the only timers are the load's own pacing and the
// measurement windows.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/outbox"
)

// skipLoadUnlessAsked skips a load test unless NOCONTACT_LOAD=1 (make
// load), and always with -short.
func skipLoadUnlessAsked(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("load test: skipped with -short (make load runs it)")
	}
	if os.Getenv("NOCONTACT_LOAD") != "1" {
		t.Skip("load test: set NOCONTACT_LOAD=1 (make load does)")
	}
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}

func envFloat(t *testing.T, name string, def float64) float64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return f
}

// loadOut is where a load test leaves its profiles: NOCONTACT_LOAD_OUT
// (make load sets it), else the test's artifact directory.
func loadOut(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NOCONTACT_LOAD_OUT")
	if dir == "" {
		return t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	return dir
}

// latencies summarises a set of durations.
type latencies struct {
	n             int
	p50, p99, max time.Duration
}

func summarize(d []time.Duration) latencies {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return latencies{}
	}
	return latencies{n: len(s), p50: percentile(s, 50), p99: percentile(s, 99), max: s[len(s)-1]}
}

func (l latencies) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", l.n, r(l.p50), r(l.p99), r(l.max))
}

// uptime is the machine's load average, logged with each figure (other
// sessions share the machine).
func uptime() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}

// tokenAt is token signed at clk's now (a suite on a fake clock verifies
// iat and exp against it).
func tokenAt(t testing.TB, sub string, role auth.Role, clk clock.Clock) string {
	t.Helper()
	tok, err := auth.IssueHS256([]byte(testSecret), "nocontact", "nocontact", sub, role, time.Hour, clk)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitQuiet waits until the suite has nothing left to do from what it was
// asked before: no event waiting in any outbox of the three databases and
// every durable consumer of every stream through its messages.
func waitQuiet(t *testing.T, db *mongo.Client, natsURL string, within time.Duration) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, name := range []string{"plans", "journal", "notify"} {
			colls, err := db.Database(name).ListCollectionNames(ctx, bson.D{})
			if err != nil {
				return fmt.Sprintf("list %s: %v", name, err)
			}
			for _, c := range colls {
				n, err := db.Database(name).Collection(c).CountDocuments(ctx, bson.D{{Key: outbox.FieldPending, Value: true}})
				if err != nil {
					return fmt.Sprintf("count %s.%s: %v", name, c, err)
				}
				if n > 0 {
					return fmt.Sprintf("%d documents in %s.%s hold unpublished events", n, name, c)
				}
			}
		}
		streams := js.ListStreams(ctx)
		for si := range streams.Info() {
			st, err := js.Stream(ctx, si.Config.Name)
			if err != nil {
				return err.Error()
			}
			consumers := st.ListConsumers(ctx)
			for ci := range consumers.Info() {
				if ci.NumPending > 0 || ci.NumAckPending > 0 {
					return fmt.Sprintf("consumer %s on %s: %d pending, %d waiting for an ack", ci.Name, si.Config.Name, ci.NumPending, ci.NumAckPending)
				}
			}
			if err := consumers.Err(); err != nil {
				return err.Error()
			}
		}
		if err := streams.Err(); err != nil {
			return err.Error()
		}
		return ""
	})
}

// loadChildEnv makes the test binary run the whole devstack as a child
// process (runLoadChild) for the tests that measure a process: its CPU
// time and resident memory are then the devstack's alone, not the load
// generator's.
const loadChildEnv = "NOCONTACT_LOAD_CHILD"

// runLoadChild runs the devstack as `go run ./devstack` does (its own
// embedded NATS and FerretDB, the settings' defaults from the
// environment) in the data folder NOCONTACT_LOAD_CHILD names, prints
// "READY <http> <nats> <mongo uri> <control addr>" and runs until a
// signal. The control listener serves GET /cpu?seconds=N (a CPU profile
// of the next N seconds) and GET /stats (goroutines, live heap).
func runLoadChild() int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	var s Settings
	if err := config.Load(&s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s.HTTPAddr, s.DataDir, s.JWTSecret = "127.0.0.1:0", os.Getenv(loadChildEnv), config.Secret(testSecret)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	cmds := &commandCounts{byKey: map[string]commandCount{}, inFlight: map[int64]string{}}
	st, err := start(ctx, s, log, clock.Real(), options.Client().SetMonitor(cmds.monitor()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctl := &http.Server{Handler: childControl(cmds), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ctl.Serve(lis) }()
	fmt.Printf("READY %s %s %s %s\n", st.HTTPAddr, st.NATSURL, st.MongoURI, lis.Addr())
	err = st.Wait()
	_ = ctl.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func childControl(cmds *commandCounts) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /commands", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(cmds.snapshot())
	})
	mux.HandleFunc("GET /cpu", func(w http.ResponseWriter, r *http.Request) {
		secs, err := strconv.Atoi(r.URL.Query().Get("seconds"))
		if err != nil || secs <= 0 {
			http.Error(w, "seconds", http.StatusBadRequest)
			return
		}
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// The profile's window, not a wait for something to happen.
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-r.Context().Done():
		}
		pprof.StopCPUProfile()
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		var live uint64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		_ = json.NewEncoder(w).Encode(childStats{Goroutines: runtime.NumGoroutine(), HeapLive: live})
	})
	return mux
}

// commandCounts counts the MongoDB commands the devstack sends, by
// command and collection ("find notify.notifications"), with the time
// each took to answer: who is asking the store for what, where a CPU
// profile shows only the store's side.
type commandCounts struct {
	mu       sync.Mutex
	byKey    map[string]commandCount
	inFlight map[int64]string
}

type commandCount struct {
	N     int           `json:"n"`
	Total time.Duration `json:"total"`
}

func (c *commandCounts) monitor() *event.CommandMonitor {
	done := func(id int64, took time.Duration) {
		c.mu.Lock()
		defer c.mu.Unlock()
		key, ok := c.inFlight[id]
		if !ok {
			return
		}
		delete(c.inFlight, id)
		n := c.byKey[key]
		n.N++
		n.Total += took
		c.byKey[key] = n
	}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			coll := ""
			if el, err := e.Command.IndexErr(0); err == nil {
				coll, _ = el.Value().StringValueOK()
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.inFlight[e.RequestID] = e.CommandName + " " + e.DatabaseName + "." + coll
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { done(e.RequestID, e.Duration) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { done(e.RequestID, e.Duration) },
	}
}

func (c *commandCounts) snapshot() map[string]commandCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byKey)
}

type childStats struct {
	Goroutines int    `json:"goroutines"`
	HeapLive   uint64 `json:"heapLiveBytes"`
}

// loadChild is a devstack running as a child process.
type loadChild struct {
	t                  *testing.T
	cmd                *exec.Cmd
	base, natsURL, ctl string
	mongo              *mongo.Client
	http               *http.Client
	exited             chan struct{}
	exitErr            error
}

// startLoadChild starts the devstack in a child process on a data folder
// of its own; env adds to the devstack's settings (NOCONTACT_*).
func startLoadChild(t *testing.T, env ...string) *loadChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadChildEnv+"="+t.TempDir(), "LOG_LEVEL=error")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &loadChild{t: t, cmd: cmd, http: &http.Client{Timeout: time.Minute}, exited: make(chan struct{})}
	go func() {
		c.exitErr = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = cmd.Process.Kill()
			<-c.exited
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 5 || f[0] != "READY" {
		t.Fatalf("child devstack did not start: %q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	c.base, c.natsURL, c.ctl = "http://"+f[1], f[2], f[4]
	if c.mongo, err = mongox.Connect(context.Background(), f[3], 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.mongo.Disconnect(context.Background()) })
	eventually(t, 30*time.Second, func() string {
		resp, err := c.http.Get(c.base + "/healthz")
		if err != nil {
			return err.Error()
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("/healthz = %d", resp.StatusCode)
		}
		return ""
	})
	return c
}

// stop sends SIGTERM and waits for a clean exit.
func (c *loadChild) stop() {
	c.t.Helper()
	c.http.CloseIdleConnections()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.t.Fatal("the child devstack did not stop within 30 s of SIGTERM")
	}
	if c.exitErr != nil {
		c.t.Errorf("the child devstack exited with %v", c.exitErr)
	}
}

func (c *loadChild) commands() map[string]commandCount {
	c.t.Helper()
	resp, err := c.http.Get("http://" + c.ctl + "/commands")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]commandCount{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// commandsBetween lists the commands sent between two snapshots, most
// store time first.
func commandsBetween(before, after map[string]commandCount, n int) string {
	type row struct {
		key string
		commandCount
	}
	var rows []row
	var total time.Duration
	for k, a := range after {
		d := commandCount{N: a.N - before[k].N, Total: a.Total - before[k].Total}
		if d.N > 0 {
			rows = append(rows, row{k, d})
			total += d.Total
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return int(b.Total - a.Total) })
	var b strings.Builder
	fmt.Fprintf(&b, "store commands, %v answering in all:", total.Round(time.Millisecond))
	for i, r := range rows {
		if i == n {
			fmt.Fprintf(&b, "\n  ... %d more", len(rows)-n)
			break
		}
		fmt.Fprintf(&b, "\n  %-50s %6d × %8v = %v", r.key, r.N, (r.Total / time.Duration(r.N)).Round(10*time.Microsecond), r.Total.Round(time.Millisecond))
	}
	return b.String()
}

// cpu is the child's CPU time so far (user and system, every thread).
func (c *loadChild) cpu() time.Duration {
	c.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		c.t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 14th and 15th fields of the line, in clock ticks
	// (USER_HZ, 100 on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rss is the child's resident set in bytes (VmRSS).
func (c *loadChild) rss() int64 {
	c.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	c.t.Fatal("no VmRSS in /proc/<pid>/status")
	return 0
}

func (c *loadChild) stats() childStats {
	c.t.Helper()
	resp, err := c.http.Get("http://" + c.ctl + "/stats")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s childStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// profileCPU takes a CPU profile of the child over the next window,
// writes it to path and returns the CPU time the child used in that
// window and the window's wall time.
func (c *loadChild) profileCPU(window time.Duration, path string) (cpu, wall time.Duration) {
	c.t.Helper()
	cl := &http.Client{Timeout: window + time.Minute}
	cpu0, wall0 := c.cpu(), time.Now()
	resp, err := cl.Get(fmt.Sprintf("http://%s/cpu?seconds=%d", c.ctl, int(window.Seconds())))
	if err != nil {
		c.t.Fatal(err)
	}
	prof, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	cpu, wall = c.cpu()-cpu0, time.Since(wall0)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(path, prof, 0o640); err != nil {
		c.t.Fatal(err)
	}
	return cpu, wall
}

// pprofTop logs the top of a CPU profile (go tool pprof -top), best effort.
func pprofTop(t *testing.T, path string, n int) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Logf("profile %s (no go tool to summarise it)", path)
		return
	}
	out, err := exec.Command(goBin, "tool", "pprof", "-top", "-cum", "-nodecount="+strconv.Itoa(n), path).CombinedOutput()
	if err != nil {
		t.Logf("go tool pprof %s: %v", path, err)
	}
	t.Logf("profile %s:\n%s", path, out)
}

// repoRoot is the repository's root (tests run in devstack/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
