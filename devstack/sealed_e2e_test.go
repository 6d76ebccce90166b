package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcclient"
)

// sealedMarker is written into free-text fields of every service.
const sealedMarker = "SEALED-E2E-3b7d"

func (s *suite) grpcConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	target, list := grpcclient.ListTarget(addr)
	conn, err := grpc.NewClient(target, append(list, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(grpcclient.RoundRobin))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func authed(t *testing.T, tok string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// rawHits lists the stored documents of db (any collection) holding needle.
func (s *suite) rawHits(t *testing.T, db, needle string) []string {
	t.Helper()
	ctx := context.Background()
	d := s.stack.Mongo.Database(db)
	names, err := d.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, name := range names {
		cur, err := d.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctx) {
			if bytes.Contains(cur.Current, []byte(needle)) {
				hits = append(hits, db+"."+name+": "+cur.Current.String())
			}
		}
		_ = cur.Close(ctx)
	}
	return hits
}

// copyField sets field of document to of coll in db to the stored value
// of the same or another field of document from.
func (s *suite) copyField(t *testing.T, db, coll, from, to string, src, dst []string) {
	t.Helper()
	ctx := context.Background()
	c := s.stack.Mongo.Database(db).Collection(coll)
	raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: from}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: to}}, bson.D{{Key: "$set", Value: bson.D{{Key: strings.Join(dst, "."), Value: raw.Lookup(src...)}}}}); err != nil {
		t.Fatal(err)
	}
}

// dataLoss asserts a gRPC answer is DataLoss with no response and a
// message naming the damaged record's id and no text.
func dataLoss(t *testing.T, what string, resp any, err error, id string, secrets ...string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.DataLoss || !strings.Contains(st.Message(), id) {
		t.Fatalf("%s: %v, want DataLoss naming %s", what, err, id)
	}
	for _, s := range append(secrets, sealedMarker) {
		if strings.Contains(st.Message(), s) {
			t.Fatalf("%s: the status carries text: %v", what, st.Message())
		}
	}
	if resp != nil {
		t.Fatalf("%s: answered %v beside the error", what, resp)
	}
}

// The whole stack keeps free text sealed at rest, and a value tampered with
// or moved in the database fails its read over real gRPC with DataLoss and
// no partial answer, in each of the three services.
func TestSealedTextAtRestAndDataLossOverGRPC(t *testing.T) {
	s := startSuite(t)
	client, counsellor := token(t, "client-seal", auth.RoleClient), token(t, "counsellor-seal", auth.RoleCounsellor)
	m := func(f string) string { return sealedMarker + " " + f }

	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{
		"timeZone": "Europe/Berlin", "reasons": []string{m("reason 0"), m("reason 1")},
		"goals": []map[string]any{{"text": m("goal")}}, "supportContacts": []map[string]any{{"name": m("support name"), "contact": m("support number")}},
	})
	planID := plan["id"].(string)
	e1 := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-seal/entries", client, map[string]any{"kind": "UNSENT_LETTER", "title": m("title 1"), "body": m("body 1")})
	e2 := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-seal/entries", client, map[string]any{"kind": "FREE", "body": m("body 2")})
	h1 := s.mustCall(http.StatusOK, "POST", "/v1/users/counsellor-seal/webhooks", counsellor, map[string]any{"url": "http://127.0.0.1:9/hook-1"})
	h2 := s.mustCall(http.StatusOK, "POST", "/v1/users/counsellor-seal/webhooks", counsellor, map[string]any{"url": "http://127.0.0.1:9/hook-2"})
	secret := strings.TrimPrefix(h1["secret"].(string), "whsec_")
	if secret == "" {
		t.Fatal("the webhook's secret was not shown at its creation")
	}

	for _, db := range []string{"plans", "journal", "notify"} {
		for _, needle := range []string{sealedMarker, secret, strings.TrimPrefix(h2["secret"].(string), "whsec_")} {
			if hits := s.rawHits(t, db, needle); len(hits) > 0 {
				t.Fatalf("plaintext at rest:\n%s", strings.Join(hits, "\n"))
			}
		}
	}

	plans := plansv1.NewPlansServiceClient(s.grpcConn(t, s.stack.PlansAddr))
	journal := journalv1.NewJournalServiceClient(s.grpcConn(t, s.stack.JournalAddr))
	notify := notifyv1.NewNotifyServiceClient(s.grpcConn(t, s.stack.NotifyAddr))
	got, err := plans.GetPlan(authed(t, client), &plansv1.GetPlanRequest{PlanId: planID})
	if err != nil || got.GetPlan().GetReasons()[1] != m("reason 1") || got.GetPlan().GetSupportContacts()[0].GetContact() != m("support number") {
		t.Fatalf("get plan = %v, %v", got, err)
	}

	// plans: two reasons' ciphertexts swapped.
	s.copyField(t, "plans", "plans", planID, planID, []string{"reasons", "0"}, []string{"reasons", "1"})
	resp, err := plans.GetPlan(authed(t, client), &plansv1.GetPlanRequest{PlanId: planID})
	dataLoss(t, "GetPlan", nilIfEmpty(resp), err, planID)
	if code, out := s.call("GET", "/v1/plans/"+planID, client, nil); code != http.StatusInternalServerError || strings.Contains(fmt.Sprint(out), sealedMarker) || !strings.Contains(fmt.Sprint(out), planID) {
		t.Fatalf("GET /v1/plans/%s = %d %v", planID, code, out)
	}

	// journal: the body of one entry copied into another.
	id1, id2 := e1["entry"].(map[string]any)["id"].(string), e2["entry"].(map[string]any)["id"].(string)
	s.copyField(t, "journal", "entries", id1, id2, []string{"body"}, []string{"body"})
	entry, err := journal.GetEntry(authed(t, client), &journalv1.GetEntryRequest{ClientId: "client-seal", EntryId: id2})
	dataLoss(t, "GetEntry", nilIfEmpty(entry), err, id2)
	if ok, err := journal.GetEntry(authed(t, client), &journalv1.GetEntryRequest{ClientId: "client-seal", EntryId: id1}); err != nil || ok.GetEntry().GetBody() != m("body 1") {
		t.Fatalf("the source entry = %v, %v", ok, err)
	}

	// notify: one webhook's secret copied into another's.
	w1, w2 := h1["id"].(string), h2["id"].(string)
	s.copyField(t, "notify", "webhooks", w1, w2, []string{"secret"}, []string{"secret"})
	rot, err := notify.RotateWebhookSecret(authed(t, counsellor), &notifyv1.RotateWebhookSecretRequest{UserId: "counsellor-seal", WebhookId: w2})
	dataLoss(t, "RotateWebhookSecret", nilIfEmpty(rot), err, w2, secret)
	if _, err := notify.RotateWebhookSecret(authed(t, counsellor), &notifyv1.RotateWebhookSecretRequest{UserId: "counsellor-seal", WebhookId: w1}); err != nil {
		t.Fatalf("rotating the source webhook: %v", err)
	}
	// The list decrypts no secret: both webhooks are listed, the damaged
	// one included, and the rotated one shows its overlap's end.
	list, err := notify.ListWebhooks(authed(t, counsellor), &notifyv1.ListWebhooksRequest{UserId: "counsellor-seal"})
	if err != nil || len(list.GetWebhooks()) != 2 {
		t.Fatalf("list = %v, %v", list, err)
	}
	for _, w := range list.GetWebhooks() {
		if w.GetSecret() != "" || (w.GetId() == w1) != (w.GetPreviousSecretExpireTime() != nil) {
			t.Fatalf("listed %v", w)
		}
	}
}

// nilIfEmpty is nil for a nil message (what a failed gRPC call answers),
// so dataLoss can tell a partial answer from none.
func nilIfEmpty[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}
