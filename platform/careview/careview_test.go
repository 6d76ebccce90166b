package careview

import (
	"context"
	"testing"

	"github.com/nocontact/backend/platform/testenv"
)

// Two replicas apply a grant (seq 10) and a revoke (seq 11) for a client
// with no projection document yet, in the losing order: the revoke's
// conditional update misses, the grant inserts, then the revoke's insert
// finds the document. The revoke must win; before the fix it was dropped
// and the counsellor kept access.
func TestRevokeRacingAGrantOnAFreshClientIsNotLost(t *testing.T) {
	ctx := context.Background()
	v := New(testenv.Mongo(t))
	if err := v.ApplyAssignment(ctx, "c1", "k1", true, 5); err != nil {
		t.Fatal(err)
	}
	hook := func() {
		beforeInsert = nil // the grant runs through without a pause
		if err := v.ApplyConsent(ctx, "c1", []string{ScopeSharedJournal}, 10); err != nil {
			t.Error(err)
		}
	}
	beforeInsert = hook
	t.Cleanup(func() { beforeInsert = nil })
	if err := v.ApplyConsent(ctx, "c1", []string{}, 11); err != nil {
		t.Fatal(err)
	}
	ok, err := v.Allowed(ctx, "c1", "k1", ScopeSharedJournal)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatal("the revoke (seq 11) was lost to the grant (seq 10): the counsellor still has access")
	}
	// And the same race the other way round keeps the newer grant.
	beforeInsert = func() {
		beforeInsert = nil
		if err := v.ApplyAssignment(ctx, "c2", "k2", false, 20); err != nil {
			t.Error(err)
		}
	}
	if err := v.ApplyAssignment(ctx, "c2", "k2", true, 21); err != nil {
		t.Fatal(err)
	}
	if err := v.ApplyConsent(ctx, "c2", []string{ScopeSharedJournal}, 22); err != nil {
		t.Fatal(err)
	}
	if ok, err := v.Allowed(ctx, "c2", "k2", ScopeSharedJournal); err != nil || !ok {
		t.Fatalf("the assignment (seq 21) was lost to the end (seq 20): allowed = %v, %v", ok, err)
	}
}

// Ids holding the old separator cannot reach another pair's link: with the
// plain "client|counsellor" key, client "a|b" with counsellor "c" and client
// "a" with counsellor "b|c" were one document.
func TestLinksOfDifferentPairsNeverCollide(t *testing.T) {
	ctx := context.Background()
	v := New(testenv.Mongo(t))
	if err := v.ApplyAssignment(ctx, "a", "b|c", true, 1); err != nil {
		t.Fatal(err)
	}
	if err := v.ApplyConsent(ctx, "a|b", []string{ScopeSharedJournal}, 2); err != nil {
		t.Fatal(err)
	}
	if err := v.ApplyConsent(ctx, "a", []string{ScopeSharedJournal}, 3); err != nil {
		t.Fatal(err)
	}
	if ok, err := v.Allowed(ctx, "a|b", "c", ScopeSharedJournal); err != nil || ok {
		t.Fatalf("unassigned counsellor c reads client a|b: allowed = %v, %v", ok, err)
	}
	if ok, err := v.Allowed(ctx, "a", "b|c", ScopeSharedJournal); err != nil || !ok {
		t.Fatalf("assigned counsellor b|c of client a: allowed = %v, %v", ok, err)
	}
	if got := linkID("client-1", "counsellor-1"); got != "client-1|counsellor-1" {
		t.Fatalf("linkID of a plain pair = %q: documents already stored would be orphaned", got)
	}
}
