package idempotency_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/idempotency"
)

func TestHashIgnoresRequestIDOnly(t *testing.T) {
	a := &plansv1.CreatePlanRequest{RequestId: "r1", Plan: &plansv1.Plan{TargetDays: proto.Int32(30), TimeZone: "Europe/Berlin"}}
	b := &plansv1.CreatePlanRequest{RequestId: "r2", Plan: &plansv1.Plan{TargetDays: proto.Int32(30), TimeZone: "Europe/Berlin"}}
	c := &plansv1.CreatePlanRequest{RequestId: "r1", Plan: &plansv1.Plan{TargetDays: proto.Int32(31), TimeZone: "Europe/Berlin"}}
	ha, hb, hc := mustHash(t, a), mustHash(t, b), mustHash(t, c)
	if ha != hb {
		t.Fatal("the same request under two request ids hashes differently")
	}
	if ha == hc {
		t.Fatal("two different requests hash the same")
	}
	if a.GetRequestId() != "r1" {
		t.Fatal("Hash changed its argument")
	}
	// Another message type with the same bytes is another request.
	if mustHash(t, wrapperspb.String("x")) == mustHash(t, structpb.NewStringValue("x")) {
		t.Fatal("two message types hash the same")
	}
	// Map order does not matter (deterministic encoding).
	m1, _ := structpb.NewStruct(map[string]any{"a": 1, "b": 2, "c": 3})
	m2, _ := structpb.NewStruct(map[string]any{"c": 3, "b": 2, "a": 1})
	if mustHash(t, m1) != mustHash(t, m2) {
		t.Fatal("map order changed the hash")
	}
}

func TestIDDoesNotCollideAcrossSplits(t *testing.T) {
	if idempotency.ID("p-", "ab", "c") == idempotency.ID("p-", "a", "bc") {
		t.Fatal("two splits of the same text give one id")
	}
	if idempotency.ID("p-", "a", "b") != idempotency.ID("p-", "a", "b") {
		t.Fatal("ID is not deterministic")
	}
}

func mustHash(t *testing.T, m proto.Message) string {
	t.Helper()
	h, err := idempotency.Hash(m)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
