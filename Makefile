# The two commands that matter: `go run ./devstack` (whole suite) and `make test`.
SHELL := /bin/bash
BUF := cd proto && GOWORK=off go tool -modfile=../tools/buf/go.mod buf

.PHONY: test vet generate check-generated lint-proto lint-openapi ts-client ci

## test: every test of every module in go.work, against embedded NATS and FerretDB.
test:
	go test -count=1 work

## vet: go vet over every module of go.work.
vet:
	go vet work

## generate: regenerate Go, gateway and OpenAPI code from proto/ with pinned tools.
generate:
	rm -rf proto/gen proto/openapi/nocontact.swagger.json proto/openapi/nocontact.openapi.json
	$(BUF) generate --path nocontact
	go run ./proto/openapi/cmd/openapi31 proto/openapi/nocontact.swagger.json proto/openapi/nocontact.openapi.json

## check-generated: fail when committed generated code differs from a fresh generation.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- proto/gen proto/openapi)" ]; then \
		echo "generated code is stale: run 'make generate' and commit"; \
		git status --porcelain -- proto/gen proto/openapi; exit 1; fi

## lint-proto: buf lint (STANDARD rules).
lint-proto:
	$(BUF) lint

## lint-openapi: Redocly (recommended-strict) and Spectral (spectral:oas) over
## the served document, pinned in tools/openapi-lint (npm ci into a cache
## outside the repo); fails on any error or warning not ruled out in
## redocly.yaml / .spectral.yaml.
OPENAPI_DOC := proto/openapi/nocontact.openapi.json
lint-openapi:
	@lint=$$(tools/npm-install tools/openapi-lint) && \
	$$lint/node_modules/.bin/redocly lint --config redocly.yaml $(OPENAPI_DOC) && \
	$$lint/node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity=warn $(OPENAPI_DOC)

## ts-client: install the TypeScript client's pinned packages (outside the
## repo, linked as clients/typescript/node_modules), generate its types from
## the served document and compile it; devstack's TestTypeScriptClientSmoke
## then runs it against the stack (smoke.js: the walkthrough's first calls;
## webhook.js: a real delivery verified with the standardwebhooks package).
ts-client:
	@deps=$$(tools/npm-install clients/typescript) && ln -sfn $$deps/node_modules clients/typescript/node_modules
	cd clients/typescript && node_modules/.bin/openapi-typescript ../../$(OPENAPI_DOC) -o src/schema.d.ts --silent && node_modules/.bin/tsc -p .

## ci: what .ci/run does.
ci: lint-proto check-generated lint-openapi ts-client vet test
