// Package openapi embeds the OpenAPI 3.1 document generated from the
// service protos (protoc-gen-openapiv2's Swagger 2.0 output, converted and
// completed by ./convert), so the gateway can serve it without reading files.
package openapi

import _ "embed"

// JSON is the OpenAPI 3.1 document of every HTTP route the gateway serves.
//
//go:embed nocontact.openapi.json
var JSON []byte
