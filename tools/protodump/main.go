// Command protodump prints buf/validate/validate.proto from the descriptor
// compiled into the protovalidate Go module, for vendoring.
package main

import (
	"os"

	validate "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/jhump/protoreflect/v2/protoprint"
)

func main() {
	fd := validate.File_buf_validate_validate_proto
	p := &protoprint.Printer{}
	if err := p.PrintProtoFile(fd, os.Stdout); err != nil {
		panic(err)
	}
}
