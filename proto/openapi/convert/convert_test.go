package convert_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nocontact/backend/proto/openapi/convert"
)

type obj = map[string]any

// doc converts the committed Swagger output, as make generate does.
func doc(t *testing.T) obj {
	t.Helper()
	in, err := os.ReadFile("../nocontact.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := convert.Convert(in)
	if err != nil {
		t.Fatal(err)
	}
	var d obj
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func get(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(obj)
		v = m[k]
	}
	return v
}

func operations(d obj) map[string]obj {
	ops := map[string]obj{}
	for p, item := range d["paths"].(obj) {
		for m, op := range item.(obj) {
			ops[strings.ToUpper(m)+" "+p] = op.(obj)
		}
	}
	return ops
}

func TestEveryRPCDocumentsTheEdgesErrors(t *testing.T) {
	d := doc(t)
	if d["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", d["openapi"])
	}
	if got := get(d, "components", "responses", "BadRequest", "content", "application/json", "schema", "$ref"); got != "#/components/schemas/rpcStatus" {
		t.Errorf("400 schema = %v, want google.rpc.Status", got)
	}
	if get(d, "components", "schemas", "rpcStatus", "properties", "details") == nil {
		t.Error("the error schema has no details")
	}
	for name, op := range operations(d) {
		if !strings.Contains(name, " /v1/") {
			continue
		}
		want := []string{"400", "401", "403", "404", "409", "429", "default"}
		if op["requestBody"] != nil {
			want = append(want, "413")
		}
		for _, code := range want {
			if get(op, "responses", code) == nil {
				t.Errorf("%s does not document %s", name, code)
			}
		}
	}
}

func TestBearerAuthExceptTheGatewaysOwnRoutes(t *testing.T) {
	d := doc(t)
	scheme := get(d, "components", "securitySchemes", "bearer").(obj)
	if scheme["type"] != "http" || scheme["scheme"] != "bearer" || scheme["bearerFormat"] != "JWT" {
		t.Errorf("bearer scheme = %v", scheme)
	}
	if !slices.ContainsFunc(d["security"].([]any), func(v any) bool { return v.(obj)["bearer"] != nil }) {
		t.Errorf("security = %v, want bearer globally", d["security"])
	}
	for _, p := range []string{"/healthz", "/livez", "/openapi.json"} {
		sec, ok := get(d, "paths", p, "get", "security").([]any)
		if !ok || len(sec) != 0 {
			t.Errorf("%s security = %v, want none", p, get(d, "paths", p, "get", "security"))
		}
	}
}

var param = regexp.MustCompile(`\{([^}]+)\}`)

func TestPathParametersAreTheRoutesNames(t *testing.T) {
	d := doc(t)
	if get(d, "paths", "/v1/plans/{plan.id}") != nil {
		t.Error("/v1/plans/{plan.id} is still in the document")
	}
	if get(d, "paths", "/v1/plans/{planId}", "patch") == nil {
		t.Error("PATCH /v1/plans/{planId} is missing")
	}
	ids := map[string]string{}
	for name, op := range operations(d) {
		path := strings.SplitN(name, " ", 2)[1]
		var inPath, declared []string
		for _, m := range param.FindAllStringSubmatch(path, -1) {
			inPath = append(inPath, m[1])
		}
		for _, p := range asSlice(op["parameters"]) {
			if p := p.(obj); p["in"] == "path" {
				declared = append(declared, p["name"].(string))
				if strings.Contains(p["name"].(string), ".") {
					t.Errorf("%s: path parameter %q is not a simple name", name, p["name"])
				}
			}
		}
		slices.Sort(inPath)
		slices.Sort(declared)
		if !slices.Equal(inPath, declared) {
			t.Errorf("%s: path has %v, parameters %v", name, inPath, declared)
		}
		id, _ := op["operationId"].(string)
		if prev, dup := ids[id]; dup || id == "" {
			t.Errorf("operationId %q of %s is not unique (also %s)", id, name, prev)
		}
		ids[id] = name
	}
}

func TestOutputOnlyFieldsAreReadOnlyAndNotInThePatchBody(t *testing.T) {
	d := doc(t)
	n := 0
	for sname, s := range get(d, "components", "schemas").(obj) {
		for pname, p := range asObj(get(s, "properties")) {
			p := p.(obj)
			if strings.HasPrefix(str(p["description"]), "Output only") {
				n++
				if p["readOnly"] != true {
					t.Errorf("%s.%s is output only but not readOnly", sname, pname)
				}
			}
		}
	}
	if n < 17 {
		t.Errorf("only %d output-only fields found", n)
	}
	for _, f := range []string{"status", "clientId", "counsellorId", "activateTime", "createTime", "endReason"} {
		if get(d, "components", "schemas", "v1Plan", "properties", f, "readOnly") != true {
			t.Errorf("v1Plan.%s is not readOnly", f)
		}
	}
	body := asObj(get(d, "paths", "/v1/plans/{planId}", "patch", "requestBody", "content", "application/json", "schema", "properties"))
	for _, f := range []string{"id", "clientId", "status", "activateTime", "createTime"} {
		if _, ok := body[f]; ok {
			t.Errorf("the PATCH body offers output-only %q", f)
		}
	}
	if _, ok := body["targetDays"]; !ok {
		t.Error("the PATCH body lost targetDays")
	}
	// A description beside a $ref is kept (3.1 allows the siblings).
	status := get(d, "components", "schemas", "v1Plan", "properties", "status").(obj)
	if status["$ref"] == nil || status["description"] == nil {
		t.Errorf("v1Plan.status = %v, want its $ref and description", status)
	}
}

func TestLiveFeedIsNDJSONLines(t *testing.T) {
	d := doc(t)
	ok := get(d, "paths", "/v1/notifications:stream", "get", "responses", "200", "content").(obj)
	if _, isJSON := ok["application/json"]; isJSON {
		t.Error("the live feed is documented as one JSON object")
	}
	if get(ok, "application/x-ndjson", "schema", "$ref") != "#/components/schemas/StreamNotificationsLine" {
		t.Errorf("live feed content = %v", ok)
	}
	line := get(d, "components", "schemas", "StreamNotificationsLine", "oneOf").([]any)
	if len(line) != 2 || get(line[0], "properties", "result", "$ref") != "#/components/schemas/v1StreamNotificationsResponse" ||
		get(line[1], "properties", "error", "$ref") != "#/components/schemas/rpcStatus" {
		t.Errorf("line schema = %v", line)
	}
}

func TestWebhooksHealthAndNoUnusedSchemas(t *testing.T) {
	d := doc(t)
	hook := get(d, "webhooks", "notification", "post").(obj)
	var headers []string
	for _, p := range hook["parameters"].([]any) {
		headers = append(headers, p.(obj)["name"].(string))
	}
	if !slices.Equal(headers, []string{"webhook-id", "webhook-timestamp", "webhook-signature", "X-Nocontact-Signature"}) {
		t.Errorf("webhook headers = %v", headers)
	}
	if legacy := hook["parameters"].([]any)[3].(obj); legacy["deprecated"] != true {
		t.Errorf("X-Nocontact-Signature is not marked deprecated: %v", legacy)
	}
	payload := asObj(get(d, "components", "schemas", "WebhookEvent", "properties", "data", "properties"))
	for _, f := range []string{"notificationId", "userId", "kind", "urgent", "createTime", "url"} {
		if payload[f] == nil {
			t.Errorf("webhook payload lacks %q", f)
		}
	}
	for _, f := range []string{"title", "body"} {
		if payload[f] != nil {
			t.Errorf("webhook payload carries %q", f)
		}
	}
	for _, p := range []string{"/healthz", "/livez", "/openapi.json"} {
		if get(d, "paths", p, "get") == nil {
			t.Errorf("%s is not in the document", p)
		}
	}
	raw, _ := json.Marshal(d)
	for name := range get(d, "components", "schemas").(obj) {
		if !strings.Contains(string(raw), `"#/components/schemas/`+name+`"`) {
			t.Errorf("schema %s is unused", name)
		}
	}
	for _, m := range regexp.MustCompile(`"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if get(d, "components", "schemas", m[1]) == nil {
			t.Errorf("dangling $ref to %s", m[1])
		}
	}
}

func asObj(v any) obj     { o, _ := v.(obj); return o }
func str(v any) string    { s, _ := v.(string); return s }
func asSlice(v any) []any { s, _ := v.([]any); return s }
