package app_test

// The served OpenAPI document describes what the sender really posts: a
// delivery made by the sender's own code, received by a real receiver, is
// validated against the document's WebhookEvent schema (made strict: a
// field the document does not name fails), and its headers are the ones
// the document lists. So the document and the sender cannot drift apart.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"
	"github.com/nocontact/backend/proto/openapi"

	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/message"
)

const docURL = "https://nocontact.invalid/openapi.json"

// documentSchema compiles the schema name (under #/components/schemas/)
// of the embedded document, with every object schema in it closed
// (additionalProperties false) so an undocumented field fails.
func documentSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openapi.JSON))
	if err != nil {
		t.Fatal(err)
	}
	schemas, _ := doc.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any)
	var closeObjects func(v any)
	closeObjects = func(v any) {
		s, ok := v.(map[string]any)
		if !ok {
			return
		}
		if props, ok := s["properties"].(map[string]any); ok {
			s["additionalProperties"] = false
			for _, p := range props {
				closeObjects(p)
			}
		}
	}
	closeObjects(schemas[name])
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(docURL, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(docURL + "#/components/schemas/" + name)
	if err != nil {
		t.Fatalf("compile the document's %s: %v", name, err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, raw []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s is not JSON: %v", raw, err)
	}
	return sch.Validate(v)
}

// documentedHeaders returns the webhook's header parameters by lower-case
// name, with whether each is deprecated.
func documentedHeaders(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		Webhooks map[string]map[string]struct {
			Parameters []struct {
				Name       string `json:"name"`
				In         string `json:"in"`
				Required   bool   `json:"required"`
				Deprecated bool   `json:"deprecated"`
			} `json:"parameters"`
		} `json:"webhooks"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range doc.Webhooks["notification"]["post"].Parameters {
		if p.In != "header" || !p.Required {
			t.Errorf("webhook parameter %s is in %q, required %v; want a required header", p.Name, p.In, p.Required)
		}
		out[strings.ToLower(p.Name)] = p.Deprecated
	}
	return out
}

func TestDeliveryIsWhatTheOpenAPIDocumentDescribes(t *testing.T) {
	event := documentSchema(t, "WebhookEvent")
	headers := documentedHeaders(t)
	if dep, ok := headers["x-nocontact-signature"]; !ok || !dep {
		t.Errorf("the document lists X-Nocontact-Signature: %v, deprecated: %v; want it listed as deprecated", ok, dep)
	}

	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	f.sender(f.n)
	// A client's milestone (not urgent) and a counsellor's risk flag (urgent).
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_RISK_ALERTS)
	rcv, url := f.receiver(t, http.StatusNoContent)
	f.webhookFor(t, f.n, clientID, url)
	f.webhookFor(t, f.n, counsellorID, url)
	f.deliver(t, milestone(clientID, 3))
	f.deliver(t, riskFlag(clientID, "flag-1"))
	for sendPass(t, f.n) > 0 {
	}
	reqs := rcv.requests()
	var urgent []string
	for _, r := range reqs {
		if err := validate(t, event, r.body); err != nil {
			t.Errorf("a delivery's body does not match the document's WebhookEvent:\n%s\n%v", r.body, err)
		}
		var p struct {
			Data struct {
				Urgent bool `json:"urgent"`
			} `json:"data"`
		}
		_ = json.Unmarshal(r.body, &p)
		urgent = append(urgent, strconv.FormatBool(p.Data.Urgent))
		for name := range headers {
			if r.header.Get(name) == "" {
				t.Errorf("the document lists the header %s; the delivery has none", name)
			}
		}
		for name := range r.header {
			l := strings.ToLower(name)
			if _, ok := headers[l]; !ok && (strings.HasPrefix(l, "webhook-") || strings.HasPrefix(l, "x-nocontact")) {
				t.Errorf("the delivery carries %s, which the document does not list", name)
			}
		}
	}
	slices.Sort(urgent)
	if !slices.Equal(urgent, []string{"false", "true"}) {
		t.Errorf("deliveries' urgent = %v, want one of each (the milestone and the risk flag)", urgent)
	}

	// Every kind the sender can spell is in the document's enum.
	kind := documentSchema(t, "v1NotificationKind")
	for _, k := range message.Kinds() {
		raw, _ := json.Marshal(app.KindName(k))
		if err := validate(t, kind, raw); err != nil {
			t.Errorf("kind %s is sent as %s, which the document's NotificationKind does not allow: %v", k, raw, err)
		}
	}
}
