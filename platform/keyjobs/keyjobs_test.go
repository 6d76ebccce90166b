package keyjobs_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/keyjobs"
	"github.com/nocontact/backend/platform/sealcodec"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	oldKEK = "a2V5am9icy10ZXN0LW9sZC1rZWstMzItYnl0ZXMhISE="
	newKEK = "a2V5am9icy10ZXN0LW5ldy1rZWstMzItYnl0ZXMhISE="
)

type note struct {
	ClientID string `bson:"client_id"`
	Text     string `bson:"text"`
}

var spec = sealcodec.Spec{Paths: []string{"text"}}

func keyring(t *testing.T, db *mongo.Database, clk clock.Clock, cfg fieldcrypt.Config) *fieldcrypt.Keyring {
	t.Helper()
	keks, err := cfg.KEKs(false)
	if err != nil {
		t.Fatal(err)
	}
	k, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func defaults(t *testing.T, env map[string]string) keyjobs.Config {
	t.Helper()
	var c keyjobs.Config
	if err := config.LoadFrom(&c, env); err != nil {
		t.Fatal(err)
	}
	return c
}

// After a KEK rotation and a data-key rotation, the service's rotation
// jobs, run by two replicas, re-wrap every keyset and re-encrypt every
// value exactly once between them, and then everything reads with the new
// KEK alone (the old one can leave the configuration).
func TestRotationJobsRunOnceAcrossReplicasAndLetTheOldKEKGo(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	clk := clock.NewFake(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := db.Collection("notes")

	old := keyring(t, db, clk, fieldcrypt.Config{KEK: oldKEK})
	store := sealcodec.Sealed(docstore.New[note](coll, nil), old, spec)
	clients := []string{"client-a", "client-b", "client-c"}
	for _, c := range clients {
		for _, n := range []string{"1", "2"} {
			if err := store.Create(ctx, c+"-"+n, note{ClientID: c, Text: "words of " + c}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The new KEK is current, the old one previous; one client gets a new
	// data key (its values are still under the old one).
	rotated := keyring(t, db, clk, fieldcrypt.Config{KEK: newKEK, KEKPrevious: oldKEK})
	if err := rotated.RotateDEK(ctx, "client-b"); err != nil {
		t.Fatal(err)
	}
	// A client who arrives later; the operator asks for new data keys for
	// every keyset whose key was made before that (clients a, b and c).
	clk.Advance(time.Minute)
	if err := store.Create(ctx, "client-d-1", note{ClientID: "client-d", Text: "words of client-d"}); err != nil {
		t.Fatal(err)
	}
	cfg := defaults(t, map[string]string{"KEY_RESEAL": "true", "KEY_JOB_BATCH": "2", "KEY_ROTATE_DEKS_BEFORE": "2026-12-04T10:00:30Z"})
	var passes []map[string]docstore.ResealResult
	reseal := func(ctx context.Context, opts docstore.ResealOptions) (map[string]docstore.ResealResult, error) {
		r, err := docstore.Reseal(ctx, coll, sealcodec.New(rotated, sealcodec.Spec{Collection: "notes", Paths: spec.Paths}), opts)
		passes = append(passes, map[string]docstore.ResealResult{"notes": r})
		return passes[len(passes)-1], err
	}
	a := jobs.New(db, clk, quiet, jobs.Options{Holder: "a"}, keyjobs.Jobs(cfg, rotated, reseal, quiet)...)
	b := jobs.New(db, clk, quiet, jobs.Options{Holder: "b"}, keyjobs.Jobs(cfg, rotated, reseal, quiet)...)
	ranA, errA := a.RunDue(ctx)
	ranB, errB := b.RunDue(ctx)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	slices.Sort(ranA)
	if !slices.Equal(ranA, []string{keyjobs.ResealJob, keyjobs.RewrapJob}) || len(ranB) != 0 {
		t.Fatalf("a ran %v, b ran %v; want both jobs once, on one replica", ranA, ranB)
	}
	if len(passes) != 1 || passes[0]["notes"].Resealed != 6 || passes[0]["notes"].Current != 1 {
		t.Fatalf("re-encryption passes %+v; want one pass re-sealing the six notes of clients a, b and c (new keys from the job), client-d's current", passes)
	}

	// Every keyset is wrapped by the new KEK: a second re-wrap finds
	// nothing left to do.
	if res, err := rotated.Rewrap(ctx, 10); err != nil || res != (fieldcrypt.RewrapResult{}) {
		t.Fatalf("a re-wrap after the job: %+v, %v; want nothing left", res, err)
	}
	newOnly := keyring(t, db, clk, fieldcrypt.Config{KEK: newKEK})
	// The old KEK removed: everything still reads, and every value is
	// under its client's current primary.
	all, err := sealcodec.Sealed(docstore.New[note](coll, nil), newOnly, spec).Find(ctx, bson.D{})
	if err != nil || len(all) != 7 {
		t.Fatalf("read with the new KEK alone: %d notes, %v", len(all), err)
	}
	for _, n := range all {
		if n.Text != "words of "+n.ClientID {
			t.Fatalf("note of %s reads %q", n.ClientID, n.Text)
		}
	}
	raws, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for raws.Next(ctx) {
		client := raws.Current.Lookup("client_id").StringValue()
		_, data := raws.Current.Lookup("text").Binary()
		id, _ := fieldcrypt.KeyID(data)
		primary, err := newOnly.Primary(ctx, client)
		if err != nil || id != primary {
			t.Fatalf("%s: value under key %d, primary %d (%v)", raws.Current.Lookup("_id"), id, primary, err)
		}
	}
	_ = raws.Close(ctx)

	// The next period is an hour on for the re-wrap, a day for the
	// re-encryption.
	clk.Advance(time.Hour)
	if ran, err := b.RunDue(ctx); err != nil || !slices.Equal(ran, []string{keyjobs.RewrapJob}) {
		t.Fatalf("an hour later b ran %v (%v); want the re-wrap alone", ran, err)
	}
}

// By default only the re-wrap runs: the re-encryption reads every sealed
// document, so an operator turns it on after a data-key rotation.
func TestReencryptionIsOffUnlessAsked(t *testing.T) {
	cfg := defaults(t, nil)
	if cfg.RewrapInterval != time.Hour || cfg.Reseal || cfg.ResealInterval != 24*time.Hour || cfg.Batch != 100 {
		t.Fatalf("defaults %+v", cfg)
	}
	js := keyjobs.Jobs(cfg, nil, func(context.Context, docstore.ResealOptions) (map[string]docstore.ResealResult, error) {
		t.Fatal("re-encryption ran while off")
		return nil, nil
	}, nil)
	if len(js) != 1 || js[0].Name != keyjobs.RewrapJob {
		t.Fatalf("jobs %v; want the re-wrap alone", js)
	}
}

func TestConfigRefusesWhatCannotRun(t *testing.T) {
	for _, env := range []map[string]string{
		{"KEY_REWRAP_INTERVAL": "0s"},
		{"KEY_RESEAL": "true", "KEY_RESEAL_INTERVAL": "-1h"},
		{"KEY_JOB_BATCH": "0"},
		{"KEY_ROTATE_DEKS_BEFORE": "2026-12-01T00:00:00Z"},
		{"KEY_JOB_BATCH": "20000"},
	} {
		if err := defaults(t, env).Validate(); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	if err := defaults(t, nil).Validate(); err != nil {
		t.Errorf("the defaults are refused: %v", err)
	}
}
