package main

// Positive signals for tests that must know that work was done (or that
// nothing more will happen) before they assert: never a sleep.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/outbox"
)

// replicasFromEnv is NOCONTACT_REPLICAS for tests that do not choose
// (0 when unset: one replica).
func replicasFromEnv() int {
	n, _ := strconv.Atoi(os.Getenv("NOCONTACT_REPLICAS"))
	return n
}

// atReplicas is a startSuiteWith adjustment that runs n replicas of each
// service.
func atReplicas(n int) func(*Settings) { return func(s *Settings) { s.Replicas = n } }

// waitScans waits until every replica of plans has completed a milestone
// scan that started after after (nocontact_scheduler_last_run_timestamp_seconds):
// whatever a scan would record, it has been recorded.
func (s *suite) waitScans(after time.Time) {
	s.t.Helper()
	s.waitSchedulerRuns(s.stack.PlansMetricsAddrs, "milestones", after)
}

func (s *suite) waitSchedulerRuns(addrs []string, scheduler string, after time.Time) {
	s.t.Helper()
	if len(addrs) == 0 {
		s.t.Fatal("metrics are off: no scheduler signal to wait for")
	}
	want := float64(after.UnixNano()) / 1e9
	eventually(s.t, 20*time.Second, func() string {
		for i, addr := range addrs {
			if v := metricValue(s.t, scrape(s.t, addr), "nocontact_scheduler_last_run_timestamp_seconds", map[string]string{"scheduler": scheduler}); v <= want {
				return fmt.Sprintf("replica %d's %s scheduler has not completed a scan since %v", i, scheduler, after)
			}
		}
		return ""
	})
}

// waitPublished waits until no document in the named collections of db
// holds an unpublished event: every event written so far is on its stream.
func (s *suite) waitPublished(db string, colls ...string) {
	s.t.Helper()
	eventually(s.t, 20*time.Second, func() string {
		for _, c := range colls {
			n, err := s.stack.Mongo.Database(db).Collection(c).CountDocuments(context.Background(), bson.D{{Key: outbox.FieldPending, Value: true}})
			if err != nil {
				s.t.Fatal(err)
			}
			if n > 0 {
				return fmt.Sprintf("%d documents in %s.%s still hold unpublished events", n, db, c)
			}
		}
		return ""
	})
}

// waitConsumed waits until the durable consumer has handled (acked or
// terminated) every message on its stream: nothing pending, nothing
// waiting for an ack.
func (s *suite) waitConsumed(stream, durable string) {
	s.t.Helper()
	s.waitConsumedWithin(stream, durable, 20*time.Second)
}

// jetStream connects to the suite's NATS; call closeJS when done.
func (s *suite) jetStream() (js jetstream.JetStream, closeJS func()) {
	s.t.Helper()
	nc, err := nats.Connect(s.nats)
	if err != nil {
		s.t.Fatal(err)
	}
	js, err = jetstream.New(nc)
	if err != nil {
		nc.Close()
		s.t.Fatal(err)
	}
	return js, nc.Close
}

// waitConsumedWithin is waitConsumed with a given patience (a fault test
// whose acks were lost waits out the consumer's AckWait).
func (s *suite) waitConsumedWithin(stream, durable string, within time.Duration) {
	s.t.Helper()
	js, closeJS := s.jetStream()
	defer closeJS()
	eventually(s.t, within, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, stream, durable)
		if err != nil {
			return fmt.Sprintf("consumer %s on %s: %v", durable, stream, err)
		}
		info := c.CachedInfo()
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return fmt.Sprintf("consumer %s: %d pending, %d waiting for an ack", durable, info.NumPending, info.NumAckPending)
		}
		return ""
	})
}

// settle waits until everything the suite was asked to do before now has
// been done: a milestone scan on every plans replica, every plans event
// published, and notify's consumers through them.
func (s *suite) settle() {
	s.t.Helper()
	s.waitScans(time.Now())
	s.waitPublished("plans", "plans", "care_assignments", "consents")
	s.waitConsumed("PLANS", "notify-plans")
}
