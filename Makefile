# The two commands that matter: `go run ./devstack` (whole suite) and `make test`.
SHELL := /bin/bash
BUF := cd proto && GOWORK=off go tool -modfile=../tools/buf/go.mod buf

.PHONY: test vet generate check-generated lint-proto ci

## test: every test of every module in go.work, against embedded NATS and FerretDB.
test:
	go test -count=1 work

## vet: go vet over every module of go.work.
vet:
	go vet work

## generate: regenerate Go, gateway and OpenAPI code from proto/ with pinned tools.
generate:
	rm -rf proto/gen proto/openapi/nocontact.swagger.json
	$(BUF) generate --path nocontact

## check-generated: fail when committed generated code differs from a fresh generation.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- proto/gen proto/openapi)" ]; then \
		echo "generated code is stale: run 'make generate' and commit"; \
		git status --porcelain -- proto/gen proto/openapi; exit 1; fi

## lint-proto: buf lint (STANDARD rules).
lint-proto:
	$(BUF) lint

## ci: what .ci/run does.
ci: lint-proto check-generated vet test
