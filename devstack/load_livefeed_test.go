package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcclient"
)

// TestLoadLiveFeedFanout measures issue 15's "1,000 open notification
// streams, a notification to each within 1 s p99": NOCONTACT_LOAD_STREAMS
// (1,000) live feeds held open at once, then notifications made for them
// (milestone events published to PLANS as the plans relay would, so the
// store's work is notify's alone). A notification's latency on a stream
// is from its create_time (notify's clock, set just before the insert) to
// the moment the stream's reader has it. Three shapes, on one suite:
//
//   - grpc/one-each: StreamNotifications straight to notify (gRPC, ten
//     connections), one stream for each of 1,000 users, one notification
//     each, all published at once;
//   - gateway/one-each: the same through the gateway's HTTP feed
//     (GET /v1/notifications:stream, newline-delimited JSON, a connection
//     per feed);
//   - gateway/one-user: 1,000 feeds of one user (a fan-out of each
//     notification to every feed), NOCONTACT_LOAD_FANOUT_ROUNDS (3)
//     notifications one after the other.
//
// Every feed must receive each of its notifications exactly once.
func TestLoadLiveFeedFanout(t *testing.T) {
	skipLoadUnlessAsked(t)
	n := envInt(t, "NOCONTACT_LOAD_STREAMS", 1000)
	rounds := envInt(t, "NOCONTACT_LOAD_FANOUT_ROUNDS", 3)
	drain := envDuration(t, "NOCONTACT_LOAD_DRAIN", 10*time.Minute)
	t.Logf("start: %s", uptime())
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) {
		st.RateLimitPerSecond, st.RateLimitBurst = "100000", "100000"
		st.MilestoneScanInterval = "1m"
	})
	js := jetStream(t, s.nats)
	for _, tc := range []struct {
		name, via     string
		users, rounds int
	}{
		{"grpc/one-each", "grpc", n, 1},
		{"gateway/one-each", "gateway", n, 1},
		{"gateway/one-user", "gateway", 1, rounds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fanout{t: t, s: s, prefix: "fan-" + strings.ReplaceAll(tc.name, "/", "-"), users: tc.users, got: map[int]map[string]int{}}
			f.open(tc.via, n)
			var took []time.Duration
			start := time.Now()
			for r := range tc.rounds {
				f.publish(js, r)
				want := (r + 1) * n
				eventually(t, drain, func() string {
					if got := f.received(); got < want {
						return fmt.Sprintf("%d of %d notifications on the feeds (round %d)", got, want, r+1)
					}
					return ""
				})
			}
			spread := time.Since(start)
			f.close()
			f.mu.Lock()
			took = append(took, f.took...)
			doubled, missing := 0, 0
			for i := range n {
				for _, c := range f.got[i] {
					doubled += c - 1
				}
				missing += tc.rounds - len(f.got[i])
			}
			f.mu.Unlock()
			lat := summarize(took)
			t.Logf("%s: %d feeds open in %v; notification stored → on the feed: %s; all %d deliveries in %v; missing %d, doubled %d; %s",
				tc.name, n, f.opened.Round(time.Millisecond), lat, len(took), spread.Round(time.Millisecond), missing, doubled, uptime())
			if missing > 0 || doubled > 0 {
				t.Errorf("%d deliveries missing, %d doubled: want each notification once on each of its feeds", missing, doubled)
			}
			if lat.p99 >= time.Second {
				t.Errorf("notification → live feed p99 = %v over %d feeds, want under 1 s", lat.p99.Round(time.Millisecond), n)
			}
		})
	}
}

// fanout is one shape's feeds and what they received.
type fanout struct {
	t      *testing.T
	s      *suite
	prefix string
	users  int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	opened time.Duration

	mu   sync.Mutex
	got  map[int]map[string]int // feed → notification id → times received
	took []time.Duration
	n    int
}

func (f *fanout) user(i int) string { return fmt.Sprintf("%s-client-%04d", f.prefix, i%f.users) }

func (f *fanout) deliver(feed int, id string, created time.Time) {
	at := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got[feed] == nil {
		f.got[feed] = map[string]int{}
	}
	f.got[feed][id]++
	f.took = append(f.took, at.Sub(created))
	f.n++
}

func (f *fanout) received() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// open opens n feeds, 50 at a time, and returns once every one is
// subscribed (its response headers are in).
func (f *fanout) open(via string, n int) {
	t := f.t
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	t.Cleanup(f.close)
	var conns []*grpc.ClientConn
	var hc *http.Client
	if via == "grpc" {
		target, list := grpcclient.ListTarget(f.s.stack.NotifyAddr)
		for range 10 {
			conn, err := grpc.NewClient(target, append(list, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(grpcclient.RoundRobin))...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			conns = append(conns, conn)
		}
	} else {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
		t.Cleanup(hc.CloseIdleConnections)
	}
	start := time.Now()
	sem := make(chan struct{}, 50)
	errs := make(chan error, n)
	var opening sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		opening.Add(1)
		tok := token(t, f.user(i), auth.RoleClient)
		go func() {
			defer opening.Done()
			defer func() { <-sem }()
			var err error
			if via == "grpc" {
				err = f.openGRPC(ctx, conns[i%len(conns)], i, tok)
			} else {
				err = f.openHTTP(ctx, hc, i, tok)
			}
			if err != nil {
				errs <- fmt.Errorf("feed %d: %w", i, err)
			}
		}()
	}
	opening.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	f.opened = time.Since(start)
}

func (f *fanout) openGRPC(ctx context.Context, conn *grpc.ClientConn, i int, tok string) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	st, err := notifyv1.NewNotifyServiceClient(conn).StreamNotifications(ctx, &notifyv1.StreamNotificationsRequest{})
	if err != nil {
		return err
	}
	if _, err := st.Header(); err != nil { // sent once the feed is subscribed
		return err
	}
	f.wg.Go(func() {
		for {
			m, err := st.Recv()
			if err != nil {
				return
			}
			f.deliver(i, m.GetNotification().GetId(), m.GetNotification().GetCreateTime().AsTime())
		}
	})
	return nil
}

func (f *fanout) openHTTP(ctx context.Context, hc *http.Client, i int, tok string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", f.s.base+"/v1/notifications:stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return fmt.Errorf("live feed answered %d", resp.StatusCode)
	}
	f.wg.Go(func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var line struct {
				Result struct {
					Notification struct {
						ID         string    `json:"id"`
						CreateTime time.Time `json:"createTime"`
					} `json:"notification"`
				} `json:"result"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Result.Notification.ID != "" {
				f.deliver(i, line.Result.Notification.ID, line.Result.Notification.CreateTime)
			}
		}
	})
	return nil
}

func (f *fanout) close() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
}

// publish publishes round r: a milestone event for each user, as the
// plans relay would.
func (f *fanout) publish(js jetstream.JetStream, r int) {
	t := f.t
	now := time.Now()
	for u := range f.users {
		id := fmt.Sprintf("evt-%s-%d-%04d", f.prefix, r, u)
		env := &eventsv1.Envelope{
			EventId: id, Type: "plans.milestone.reached", OccurredAt: timestamppb.New(now),
			ClientId: f.user(u), LocalDate: now.UTC().Format("2006-01-02"), TimeZone: "UTC", Producer: "plans",
			Payload: &eventsv1.Envelope_MilestoneReached{MilestoneReached: &eventsv1.MilestoneReached{PlanId: "plan-" + f.prefix, MilestoneId: id, Day: int32(r + 1)}},
		}
		data, err := proto.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishAsync("plans.milestone.reached", data, jetstream.WithMsgID(id)); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("the events were not all acknowledged by JetStream within a minute")
	}
}
