// Command openapi31 converts protoc-gen-openapiv2's Swagger 2.0 output into
// the OpenAPI 3.1 document the gateway serves: openapi31 IN OUT.
package main

import (
	"fmt"
	"os"

	"github.com/nocontact/backend/proto/openapi/convert"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openapi31 nocontact.swagger.json nocontact.openapi.json")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err == nil {
		var out []byte
		if out, err = convert.Convert(in); err == nil {
			err = os.WriteFile(os.Args[2], append(out, '\n'), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi31:", err)
		os.Exit(1)
	}
}
