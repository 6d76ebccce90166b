// Package openapi embeds the OpenAPI (Swagger 2.0) document generated from
// the service protos, so the gateway can serve it without reading files.
package openapi

import _ "embed"

// JSON is the merged OpenAPI document of every public HTTP route.
//
//go:embed nocontact.swagger.json
var JSON []byte
