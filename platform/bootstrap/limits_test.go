package bootstrap_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nocontact/backend/platform/bootstrap"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

func base(t *testing.T, natsURL string, environ map[string]string) bootstrap.Base {
	t.Helper()
	env := map[string]string{"NATS_URL": natsURL, "NOCONTACT_JWT_SECRET": "a-test-secret-of-the-bootstrap-tests", "METRICS_ADDR": "off"}
	for k, v := range environ {
		env[k] = v
	}
	var b bootstrap.Base
	if err := config.LoadFrom(&b, env); err != nil {
		t.Fatal(err)
	}
	return b
}

// NATS_STREAM_MAX_AGE/MAX_BYTES reach the service's streams on the server,
// and NATS_DEADLETTER_* the dead-letter stream its consumers ensure.
func TestStartGivesStreamsTheirConfiguredLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, js := testenv.NATS(t)
	b := base(t, url, map[string]string{
		"NATS_STREAM_MAX_AGE": "96h", "NATS_STREAM_MAX_BYTES": "2097152",
		"NATS_DEADLETTER_MAX_AGE": "72h", "NATS_DEADLETTER_MAX_BYTES": "65536",
	})
	d, err := bootstrap.Start(ctx, b, bootstrap.Spec{
		Name: "journal", Database: testenv.Mongo(t).Name(), Mongo: testenv.MongoClient(t),
		Streams: map[string][]string{"JOURNAL": {"journal.>"}},
	}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.NC.Close()
	stop, err := d.Consumer(natsx.ConsumerSpec{Stream: "JOURNAL", Durable: "limits-test"}, func(context.Context, jetstream.Msg) error { return nil })(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	for name, want := range map[string]natsx.StreamLimits{
		"JOURNAL":              {MaxAge: 96 * time.Hour, MaxBytes: 2 << 20},
		natsx.DeadLetterStream: {MaxAge: 72 * time.Hour, MaxBytes: 64 << 10},
	} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := (natsx.StreamLimits{MaxAge: info.Config.MaxAge, MaxBytes: info.Config.MaxBytes}); got != want {
			t.Errorf("%s on the server: %+v, want %+v", name, got, want)
		}
	}
}

// A dead-letter stream that would keep the journal's events longer than
// the journal's stream stops the service at start-up, before it connects.
func TestStartRefusesDeadLettersOutlivingTheStream(t *testing.T) {
	b := base(t, "nats://127.0.0.1:1", map[string]string{"NATS_STREAM_MAX_AGE": "72h", "NATS_DEADLETTER_MAX_AGE": "96h"})
	_, err := bootstrap.Start(context.Background(), b, bootstrap.Spec{Name: "journal", Database: "journal"}, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "NATS_DEADLETTER_MAX_AGE") {
		t.Fatalf("Start = %v, want a config error naming NATS_DEADLETTER_MAX_AGE", err)
	}
}
