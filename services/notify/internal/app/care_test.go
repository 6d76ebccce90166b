package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/server"
)

// authority stands in for plans' answer (app.CareAuthority): the scopes
// each client allows now, or no answer at all. The real answer, over gRPC
// from plans, is tested end to end in devstack.
type authority struct {
	mu      sync.Mutex
	allowed map[app.CareQuery]bool
	err     error
	asked   int
}

func (a *authority) Allowed(_ context.Context, _ string, qs []app.CareQuery) ([]bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked++
	if a.err != nil {
		return nil, a.err
	}
	out := make([]bool, len(qs))
	for i, q := range qs {
		out[i] = a.allowed[q]
	}
	return out, nil
}

func (a *authority) set(q app.CareQuery, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.allowed[q] = ok
}

// A counsellor's notifications about a client show only while plans
// allows that scope now, whatever the projection that chose the recipients
// still holds: the list, the unread count, marking read and the live feed
// all ask; a webhook carries no client data at all; no answer is
// Unavailable, never a guess.
func TestCounsellorSeesAClientsNotificationsOnlyWhilePlansAllows(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	team := &authority{allowed: map[app.CareQuery]bool{}}
	f.n.WithWebhooks(app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), f.keys(), true)).
		WithCareAuthority(team)
	if _, err := f.n.CreateWebhook(ctxT(t), caller(counsellorID), counsellorID, srv.URL+"/hook", "", app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_RISK_ALERTS)
	progress := app.CareQuery{ClientID: clientID, Scope: "PLAN_PROGRESS"}
	risk := app.CareQuery{ClientID: clientID, Scope: "RISK_ALERTS"}
	team.set(progress, true)
	team.set(risk, true)
	// A minute apart, so that the live feed's replay order is theirs.
	f.clk.Advance(time.Minute)
	f.deliver(t, milestone(clientID, 7))
	f.clk.Advance(time.Minute)
	f.deliver(t, riskFlag(clientID, "flag-1"))

	page, err := f.n.List(ctxT(t), caller(counsellorID), false, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	about := func(notes []inbox.Notification) int {
		n := 0
		for _, note := range notes {
			if note.ClientID == clientID && app.ScopeOf(note.Kind) != "" {
				n++
			}
		}
		return n
	}
	if about(page.Notifications) != 2 {
		t.Fatalf("while allowed: %d notifications about the client, want 2:%s", about(page.Notifications), describe(page.Notifications))
	}
	unreadBefore := page.Unread
	var milestoneID string
	for _, note := range page.Notifications {
		if app.ScopeOf(note.Kind) == "PLAN_PROGRESS" {
			milestoneID = note.ID
		}
	}

	// The webhook went out thin: ids, kind, time and a link; no text, no
	// client, plan or day.
	f.sendAllWebhooks(t, f.n)
	mu.Lock()
	sent := slices.Clone(bodies)
	mu.Unlock()
	thin := 0
	for _, b := range sent {
		var p struct {
			Type string
			Data map[string]any
		}
		if err := json.Unmarshal([]byte(b), &p); err != nil {
			t.Fatal(err)
		}
		kind, _ := p.Data["kind"].(string)
		if kind != "NOTIFICATION_KIND_MILESTONE_REACHED" && kind != "NOTIFICATION_KIND_RISK_FLAG_RAISED" {
			continue // the care relationship itself: who the client is
		}
		thin++
		id, _ := p.Data["notificationId"].(string)
		if p.Type != "notification.created" || p.Data["url"] != "/v1/notifications/"+id {
			t.Errorf("a counsellor's %s webhook lacks its type or link: %s", kind, b)
		}
		for _, field := range []string{"title", "body", "clientId", "planId", "milestoneDay"} {
			if _, ok := p.Data[field]; ok {
				t.Errorf("a counsellor's %s webhook carries %s: %s", kind, field, b)
			}
		}
		if strings.Contains(b, clientID) {
			t.Errorf("a counsellor's %s webhook names the client: %s", kind, b)
		}
	}
	if thin != 2 {
		t.Fatalf("%d webhooks about the client's data, want 2 (milestone, risk flag): %v", thin, sent)
	}

	// PLAN_PROGRESS revoked at plans: from this read on, the milestone is
	// gone from every read, though the projection still says granted.
	team.set(progress, false)
	page, err = f.n.List(ctxT(t), caller(counsellorID), false, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, note := range page.Notifications {
		if note.ID == milestoneID {
			t.Fatalf("the milestone is listed after the revocation:%s", describe(page.Notifications))
		}
	}
	if about(page.Notifications) != 1 || page.Unread != unreadBefore-1 {
		t.Fatalf("after the revocation: %d about the client (want 1, the risk flag), unread %d (want %d)", about(page.Notifications), page.Unread, unreadBefore-1)
	}
	if _, err := f.n.MarkRead(ctxT(t), caller(counsellorID), milestoneID); !errors.Is(err, apperr.KindNotFound) {
		t.Fatalf("marking the hidden milestone read = %v, want NotFound", err)
	}
	// The live feed, replaying from the assignment's notification: the
	// risk flag (after the milestone) arrives, the milestone never does.
	var first string
	for _, note := range page.Notifications {
		if app.ScopeOf(note.Kind) == "" {
			first = note.ID
		}
	}
	if first == "" {
		t.Fatalf("no care-relationship notification to replay from:%s", describe(page.Notifications))
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	streamed := make(chan inbox.Notification, 10)
	done := make(chan error, 1)
	go func() {
		done <- f.n.Stream(ctx, caller(counsellorID), first, func() error { return nil }, func(note inbox.Notification) error {
			streamed <- note
			return nil
		})
	}()
	timeout := time.After(30 * time.Second)
wait:
	for {
		select {
		case note := <-streamed:
			if note.ID == milestoneID {
				t.Error("the live feed sent the milestone after the revocation")
			}
			if app.ScopeOf(note.Kind) == "RISK_ALERTS" {
				break wait
			}
		case err := <-done:
			t.Fatalf("the live feed ended before the risk flag: %v", err)
		case <-timeout:
			t.Fatal("the live feed never sent the risk flag")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Plans cannot answer: Unavailable, nothing shown.
	team.mu.Lock()
	team.err = errors.New("plans is down")
	team.mu.Unlock()
	if _, err := f.n.List(ctxT(t), caller(counsellorID), false, 50, ""); !errors.Is(err, apperr.KindUnavailable) {
		t.Fatalf("list with plans down = %v, want Unavailable", err)
	}
	// The client's own inbox needs no answer from plans.
	if _, err := f.n.List(ctxT(t), caller(clientID), false, 50, ""); err != nil {
		t.Fatalf("client's own list with plans down = %v", err)
	}
}
