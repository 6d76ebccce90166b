package edge

import (
	"encoding/json"
	"testing"
)

// The gateway serves the OpenAPI 3.1 document (not the generator's Swagger
// 2.0), with the plan's PATCH under {planId} like its other routes.
func TestServedDocumentIsOpenAPI31(t *testing.T) {
	raw, err := openAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if _, ok := doc.Paths["/v1/plans/{planId}"]["patch"]; !ok {
		t.Error("PATCH /v1/plans/{planId} is not in the served document")
	}
	for _, p := range []string{"/healthz", "/livez", "/openapi.json"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("%s is not in the served document", p)
		}
	}
}
