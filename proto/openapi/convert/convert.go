// Package convert turns protoc-gen-openapiv2's Swagger 2.0 document into
// the OpenAPI 3.1 document the gateway serves. The protos stay the one
// source of truth; this adds only what the generator cannot express: the
// edge's error responses, bearer auth, readOnly output fields, simple path
// parameter names, the NDJSON live feed, the webhook payload, and the
// gateway's own routes (/healthz, /livez, /openapi.json).
package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

type obj = map[string]any

// errorResponses are the 4xx answers the edge can give, with when.
var errorResponses = []struct{ code, name, desc string }{
	{"400", "BadRequest", "The request is invalid (InvalidArgument, FailedPrecondition, OutOfRange); details carry a google.rpc.BadRequest naming the fields."},
	{"401", "Unauthorized", "No bearer token, or it is invalid or expired."},
	{"403", "Forbidden", "The authenticated caller acts outside its role (PermissionDenied), e.g. a counsellor creating a plan. Data the caller may not see answers 404 instead."},
	{"404", "NotFound", "The resource does not exist or the caller may not know it does, or no such route."},
	{"409", "Conflict", "The request conflicts with the current state (AlreadyExists, Aborted): retry with fresh data."},
	{"413", "PayloadTooLarge", "The request body exceeds the gateway's limit."},
	{"429", "TooManyRequests", "The caller's rate limit is used up (ResourceExhausted); retry later."},
}

// Convert returns the OpenAPI 3.1 document for swagger (a Swagger 2.0 JSON).
func Convert(swagger []byte) ([]byte, error) {
	var in obj
	if err := json.Unmarshal(swagger, &in); err != nil {
		return nil, fmt.Errorf("parse swagger: %w", err)
	}
	schemas := obj{}
	for name, s := range asObj(in["definitions"]) {
		schemas[name] = schema(s)
	}
	markReadOnly(schemas)
	schemas["StreamNotificationsLine"] = obj{
		"description": "One line of the live feed (NDJSON): a notification, or the error that ended the stream.",
		"oneOf": []any{
			obj{"type": "object", "required": []any{"result"}, "properties": obj{"result": obj{"$ref": "#/components/schemas/v1StreamNotificationsResponse"}}},
			obj{"type": "object", "required": []any{"error"}, "properties": obj{"error": obj{"$ref": "#/components/schemas/rpcStatus"}}},
		},
	}
	addGatewaySchemas(schemas)

	responses := obj{}
	for _, e := range errorResponses {
		responses[e.name] = obj{"description": e.desc, "content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/rpcStatus"}}}}
	}
	responses["Unexpected"] = obj{"description": "An unexpected error (5xx: the service is unavailable, timed out, or failed).",
		"content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/rpcStatus"}}}}

	paths := obj{}
	opIDs := map[string]string{}
	for p, item := range asObj(in["paths"]) {
		newPath, renames := simplePath(p)
		outItem := obj{}
		for method, op := range asObj(item) {
			o, err := operation(method, asObj(op), renames, schemas)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, p, err)
			}
			id, _ := o["operationId"].(string)
			if prev, dup := opIDs[id]; dup || id == "" {
				return nil, fmt.Errorf("operationId %q of %s %s not unique (also %s)", id, method, p, prev)
			}
			opIDs[id] = method + " " + p
			outItem[method] = o
		}
		if _, clash := paths[newPath]; clash {
			// Same path under two spellings: merge the methods.
			maps.Copy(asObj(paths[newPath]), outItem)
			continue
		}
		paths[newPath] = outItem
	}
	addGatewayPaths(paths)

	out := obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       "No-contact platform API",
			"version":     "v1",
			"description": "HTTP/JSON edge of the plans, journal and notify services and the care dashboard. Authenticate with a bearer JWT. Errors are google.rpc.Status objects; `details` is always present (possibly empty).",
			"license":     obj{"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
			"contact":     obj{"name": "No-contact platform team", "url": "https://github.com/nocontact/backend"},
		},
		"servers":  []any{obj{"url": "http://localhost:8080", "description": "The devstack's gateway."}},
		"security": []any{obj{"bearer": []any{}}},
		"tags":     tags(in["tags"], paths),
		"paths":    paths,
		"webhooks": webhooks(schemas),
		"components": obj{
			"schemas":         schemas,
			"responses":       responses,
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A JWT issued by the platform's identity provider."}},
		},
	}
	pruneUnused(out)
	return json.MarshalIndent(out, "", "  ")
}

var dotted = regexp.MustCompile(`\{([a-zA-Z0-9_]+(?:\.[a-zA-Z0-9_]+)+)\}`)

// simplePath renames {plan.id} to {planId}: a route's field path becomes
// one lowerCamel name, as the other routes spell it. The HTTP path is the
// same, so the gateway's route still matches.
func simplePath(p string) (string, map[string]string) {
	renames := map[string]string{}
	out := dotted.ReplaceAllStringFunc(p, func(m string) string {
		old := m[1 : len(m)-1]
		parts := strings.Split(old, ".")
		name := parts[0]
		for _, s := range parts[1:] {
			name += strings.ToUpper(s[:1]) + s[1:]
		}
		renames[old] = name
		return "{" + name + "}"
	})
	return out, renames
}

func operation(method string, op obj, renames map[string]string, schemas obj) (obj, error) {
	out := obj{}
	for _, k := range []string{"summary", "description", "operationId", "tags"} {
		if v, ok := op[k]; ok {
			out[k] = v
		}
	}
	if s, ok := out["summary"].(string); ok && strings.Contains(s, "\n") {
		// A summary is one line; the rest of the comment is the description.
		first, rest, _ := strings.Cut(s, "\n")
		if strings.HasSuffix(first, ".") || rest == "" {
			out["summary"] = first
			out["description"] = strings.TrimSpace(rest + "\n\n" + str(out["description"]))
		} else {
			out["summary"] = strings.SplitN(strings.ReplaceAll(s, "\n", " "), ". ", 2)[0]
			out["description"] = strings.TrimSpace(strings.ReplaceAll(s, "\n", " ") + "\n\n" + str(out["description"]))
		}
		if out["description"] == "" {
			delete(out, "description")
		}
	}
	var params []any
	hasBody := false
	for _, p := range asSlice(op["parameters"]) {
		p := asObj(p)
		if p["in"] == "body" {
			hasBody = true
			s := schema(p["schema"])
			if _, isRef := s["$ref"]; !isRef {
				s = withoutReadOnly(s, schemas)
			}
			rb := obj{"required": p["required"] == true, "content": obj{"application/json": obj{"schema": s}}}
			if d := str(p["description"]); d != "" {
				rb["description"] = d
			}
			out["requestBody"] = rb
			continue
		}
		np := obj{"name": p["name"], "in": p["in"]}
		if r, ok := renames[str(p["name"])]; ok {
			np["name"] = r
			np["description"] = "The resource's id (the `" + str(p["name"]) + "` field of the request)."
		} else if d := str(p["description"]); d != "" {
			np["description"] = d
		}
		if p["required"] == true || p["in"] == "path" {
			np["required"] = true
		}
		s := obj{}
		for _, k := range []string{"type", "format", "enum", "default", "items", "pattern", "minimum", "maximum"} {
			if v, ok := p[k]; ok {
				s[k] = v
			}
		}
		if p["collectionFormat"] == "multi" {
			np["style"], np["explode"] = "form", true
		}
		np["schema"] = schema(s)
		params = append(params, np)
	}
	if method == "patch" && hasBody && !slices.ContainsFunc(params, func(p any) bool { return asObj(p)["name"] == "updateMask" }) {
		// grpc-gateway fills update_mask from the body's fields when the
		// query has none, so protoc-gen-openapiv2 leaves it out; the edge
		// takes it in the query too (README: ?updateMask=hardDates).
		params = append(params, obj{"name": "updateMask", "in": "query",
			"description": "The fields to change, comma-separated, in the JSON (hardDates) or proto (hard_dates) spelling. Without it, the fields present in the body.",
			"schema":      obj{"type": "string"}})
	}
	if params != nil {
		out["parameters"] = params
	}

	responses := obj{}
	for code, r := range asObj(op["responses"]) {
		if code == "default" {
			continue
		}
		r := asObj(r)
		nr := obj{"description": strings.TrimSuffix(str(r["description"]), "(streaming responses)")}
		if s, ok := r["schema"]; ok {
			s := asObj(s)
			if result, ok := strings.CutPrefix(str(s["title"]), "Stream result of "); ok && result != "v1StreamNotificationsResponse" {
				// Any other stream (an export part): a line schema of its own.
				line := strings.TrimSuffix(strings.TrimPrefix(result, "v1"), "Response") + "Line"
				schemas[line] = obj{
					"description": "One line of the stream (NDJSON): a message, or the error that ended the stream.",
					"oneOf": []any{
						obj{"type": "object", "required": []any{"result"}, "properties": obj{"result": obj{"$ref": "#/components/schemas/" + result}}},
						obj{"type": "object", "required": []any{"error"}, "properties": obj{"error": obj{"$ref": "#/components/schemas/rpcStatus"}}},
					},
				}
				nr["description"] = "A stream of newline-delimited JSON lines (NDJSON), one per message, until the stream ends or an error ends it."
				nr["content"] = obj{"application/x-ndjson": obj{"schema": obj{"$ref": "#/components/schemas/" + line}}}
			} else if strings.HasPrefix(str(s["title"]), "Stream result of") {
				nr["description"] = "A stream of newline-delimited JSON lines (NDJSON), one per notification, until the client disconnects or an error ends it."
				nr["content"] = obj{"application/x-ndjson": obj{"schema": obj{"$ref": "#/components/schemas/StreamNotificationsLine"}}}
			} else {
				nr["content"] = obj{"application/json": obj{"schema": schema(s)}}
			}
		}
		responses[code] = nr
	}
	for _, e := range errorResponses {
		if e.code == "413" && !hasBody {
			continue
		}
		responses[e.code] = obj{"$ref": "#/components/responses/" + e.name}
	}
	responses["default"] = obj{"$ref": "#/components/responses/Unexpected"}
	out["responses"] = responses
	return out, nil
}

// schema converts a Swagger 2.0 schema: refs move to components, a "type"
// beside a "$ref" is dropped (3.1 keeps the other siblings, such as the
// description), and titles that only repeat a comment become descriptions.
func schema(v any) obj {
	s := asObj(v)
	out := obj{}
	for k, val := range s {
		switch k {
		case "$ref":
			out[k] = strings.Replace(str(val), "#/definitions/", "#/components/schemas/", 1)
		case "properties":
			props := obj{}
			for name, p := range asObj(val) {
				props[name] = schema(p)
			}
			out[k] = props
		case "items":
			out[k] = schema(val)
		case "additionalProperties":
			if b, ok := val.(bool); ok {
				out[k] = b
			} else {
				out[k] = schema(val)
			}
		case "x-nullable", "x-go-name":
		default:
			out[k] = val
		}
	}
	if _, ok := out["$ref"]; ok {
		delete(out, "type")
	}
	if t, ok := out["title"].(string); ok {
		if _, has := out["description"]; !has {
			out["description"] = t
		}
		delete(out, "title")
	}
	return out
}

// outputOnly matches the protos' marker for fields the server sets.
var outputOnly = regexp.MustCompile(`^(Output[ -]only|Set by the server)\b`)

// markReadOnly marks every property whose comment starts "Output only"
// (the AIP-203 convention the protos follow) readOnly.
func markReadOnly(schemas obj) {
	for _, s := range schemas {
		for _, p := range asObj(asObj(s)["properties"]) {
			p := asObj(p)
			if outputOnly.MatchString(str(p["description"])) {
				p["readOnly"] = true
			}
		}
	}
}

// withoutReadOnly drops readOnly properties from an inline request body
// (the generator inlines the resource minus its path field for PATCH).
func withoutReadOnly(s obj, _ obj) obj {
	props := asObj(s["properties"])
	for name, p := range props {
		p := asObj(p)
		if p["readOnly"] == true || outputOnly.MatchString(str(p["description"])) {
			delete(props, name)
		}
	}
	if req := asSlice(s["required"]); req != nil {
		var keep []any
		for _, r := range req {
			if _, ok := props[str(r)]; ok {
				keep = append(keep, r)
			}
		}
		if keep == nil {
			delete(s, "required")
		} else {
			s["required"] = keep
		}
	}
	return s
}

func addGatewaySchemas(schemas obj) {
	schemas["Health"] = obj{
		"type":        "object",
		"description": "Readiness of the gateway and the services it forwards to.",
		"required":    []any{"status", "services"},
		"properties": obj{
			"status":   obj{"type": "string", "enum": []any{"SERVING", "NOT_SERVING"}},
			"services": obj{"type": "object", "description": "Each backend by name: SERVING, NOT_SERVING, UNREACHABLE or another gRPC health state.", "additionalProperties": obj{"type": "string"}},
		},
	}
	schemas["Liveness"] = obj{"type": "object", "required": []any{"status"}, "properties": obj{"status": obj{"type": "string", "const": "ALIVE"}}}
	schemas["WebhookEvent"] = obj{
		"type":        "object",
		"description": "A webhook delivery's body, in the Standard Webhooks shape (type, timestamp, data): thin and discreet (ids, the kind, times and a link), never health text. Read the notification through the API at `data.url` with the owner's bearer token; consent is checked then. The delivery's own id is not in the body: it is the `webhook-id` header.",
		"required":    []any{"type", "timestamp", "data"},
		"properties": obj{
			"type":      obj{"type": "string", "const": "notification.created", "description": "The event type; every delivery is a new notification."},
			"timestamp": obj{"type": "string", "format": "date-time", "description": "When the notification was created (RFC 3339)."},
			"data": obj{
				"type":        "object",
				"description": "The notification, without its title or body.",
				"required":    []any{"notificationId", "userId", "kind", "urgent", "createTime", "url"},
				"properties": obj{
					"notificationId": obj{"type": "string", "description": "The notification's id, as GET /v1/notifications/{notificationId} takes it."},
					"userId":         obj{"type": "string", "description": "The notification's owner, who registered the webhook."},
					"kind":           obj{"$ref": "#/components/schemas/v1NotificationKind"},
					"urgent":         obj{"type": "boolean", "description": "Whether the notification is urgent (a risk flag raised or escalated)."},
					"createTime":     obj{"type": "string", "format": "date-time", "description": "When the notification was created (RFC 3339)."},
					"url":            obj{"type": "string", "format": "uri-reference", "description": "The notification's API path, relative to the API's base URL: GET it with the owner's bearer token.", "example": "/v1/notifications/5f0c"},
				},
			},
		},
	}
}

func webhooks(_ obj) obj {
	hdr := func(name, desc, example string) obj {
		return obj{"name": name, "in": "header", "required": true, "description": desc, "schema": obj{"type": "string"}, "example": example}
	}
	legacy := hdr("X-Nocontact-Signature", "Deprecated, kept for one release: use the Standard Webhooks headers. `t=<unix seconds>,v1=<hex HMAC-SHA256>` over `<unix seconds>.<body>`, keyed with the secret string as shown (the whole `whsec_...`); one v1 per live secret.", "t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd")
	legacy["deprecated"] = true
	return obj{
		"notification": obj{"post": obj{
			"operationId": "Webhook_Notification",
			"summary":     "A notification for the webhook's owner",
			"description": "Sent to each enabled webhook of the notification's owner, signed as Standard Webhooks specify (https://www.standardwebhooks.com): the signed content is `webhook-id.webhook-timestamp.body`, HMAC-SHA256 keyed with the base64-decoded part of the `whsec_` secret shown once on create or rotation. Answer 2xx quickly; other answers are retried with backoff for about three days, 410 disables the webhook, 429, 502, 503 and 504 and a Retry-After slow it down.",
			"tags":        []any{"Webhooks"},
			"security":    []any{},
			"parameters": []any{
				hdr("webhook-id", "The delivery's stable id, the same on every retry: drop a duplicate by it.", "dl-3f2a9c1b7e6d4a5f8b0c2d1e3f4a5b6c"),
				hdr("webhook-timestamp", "Unix seconds when this attempt was signed; reject values far from your clock.", "1767225600"),
				hdr("webhook-signature", "Space-separated `v1,<base64 HMAC-SHA256>` signatures (two during a secret rotation's overlap); one match is enough.", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
				legacy,
			},
			"requestBody": obj{"required": true, "content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/WebhookEvent"}}}},
			"responses": obj{
				"200": obj{"description": "Received; any 2xx counts."},
				"410": obj{"description": "Gone: the webhook is disabled and not called again."},
			},
		}},
	}
}

func addGatewayPaths(paths obj) {
	open := []any{}
	json := func(ref string) obj {
		return obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/" + ref}}}
	}
	paths["/healthz"] = obj{"get": obj{
		"operationId": "Gateway_Healthz", "summary": "Readiness", "tags": []any{"Gateway"}, "security": open,
		"description": "Checks every backend over gRPC health; 503 when one is not serving.",
		"responses": obj{
			"200": obj{"description": "Every backend is serving.", "content": json("Health")},
			"503": obj{"description": "A backend is not serving or unreachable.", "content": json("Health")},
		},
	}}
	paths["/livez"] = obj{"get": obj{
		"operationId": "Gateway_Livez", "summary": "Liveness", "tags": []any{"Gateway"}, "security": open,
		"description": "Answers while the gateway process runs; checks nothing else.",
		"responses":   obj{"200": obj{"description": "The gateway is alive.", "content": json("Liveness")}},
	}}
	download := obj{
		"200":     obj{"description": "The archive.", "content": obj{"application/zip": obj{"schema": obj{"type": "string", "contentMediaType": "application/zip"}}}},
		"default": obj{"$ref": "#/components/responses/Unexpected"},
	}
	for _, e := range errorResponses {
		if e.code != "413" {
			download[e.code] = obj{"$ref": "#/components/responses/" + e.name}
		}
	}
	// The export archive is the gateway's own handler (gateway/edge/export.go):
	// it gathers every service's part of a ready export into one zip.
	paths["/v1/clients/{clientId}/exports/{exportId}:download"] = obj{"get": obj{
		"operationId": "Gateway_DownloadExport", "summary": "Download an export's archive", "tags": []any{"ExportService"},
		"description": "The client's archive of a READY export (GDPR Art. 20): a zip of README.md (the format), export.json " +
			"(the export and its progress) and one JSON file per kind of record (plans.json, contacts.json, entries.json, ...), " +
			"each an array of the API's own messages. Only the client may download it; an export that is not READY answers 400 " +
			"(FAILED_PRECONDITION). A failure after the archive began cuts the connection, so a truncated archive never unzips.",
		"parameters": []any{
			obj{"name": "clientId", "in": "path", "required": true, "description": "The client.", "schema": obj{"type": "string"}},
			obj{"name": "exportId", "in": "path", "required": true, "description": "The export id.", "schema": obj{"type": "string"}},
		},
		"responses": download,
	}}
	paths["/openapi.json"] = obj{"get": obj{
		"operationId": "Gateway_OpenAPI", "summary": "This document", "tags": []any{"Gateway"}, "security": open,
		"description": "The OpenAPI 3.1 document of every route, generated from the protos.",
		"responses":   obj{"200": obj{"description": "The document.", "content": obj{"application/json": obj{"schema": obj{"type": "object"}}}}},
	}}
}

func tags(v any, paths obj) []any {
	desc := map[string]string{}
	for _, t := range asSlice(v) {
		t := asObj(t)
		desc[str(t["name"])] = str(t["description"])
	}
	used := map[string]bool{"Gateway": true, "Webhooks": true}
	for _, item := range paths {
		for _, op := range asObj(item) {
			for _, t := range asSlice(asObj(op)["tags"]) {
				used[str(t)] = true
			}
		}
	}
	desc["Gateway"] = "The gateway's own routes: health and this document."
	desc["Webhooks"] = "Calls the platform makes to a user's webhook URL."
	var out []any
	for _, name := range slices.Sorted(maps.Keys(used)) {
		d := desc[name]
		if d == "" {
			d = "The " + name + " RPCs over HTTP/JSON."
		}
		out = append(out, obj{"name": name, "description": d})
	}
	return out
}

// pruneUnused drops schemas nothing refers to (the generator emits request
// messages it then inlines as parameters).
func pruneUnused(doc obj) {
	comps := asObj(doc["components"])
	schemas := asObj(comps["schemas"])
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case obj:
			if r, ok := v["$ref"].(string); ok {
				if name, ok := strings.CutPrefix(r, "#/components/schemas/"); ok && !used[name] {
					used[name] = true
					walk(schemas[name])
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc["paths"])
	walk(doc["webhooks"])
	walk(comps["responses"])
	for name := range schemas {
		if !used[name] {
			delete(schemas, name)
		}
	}
}

func asObj(v any) obj {
	o, _ := v.(obj)
	return o
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
