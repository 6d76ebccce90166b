# The two commands that matter: `go run ./devstack` (whole suite) and `make test`.
SHELL := /bin/bash
BUF := cd proto && GOWORK=off go tool -modfile=../tools/buf/go.mod buf

.PHONY: test vet generate check-generated lint-proto breaking proto-release lint-openapi ts-client ci

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

## breaking: buf breaking (FILE rules) of proto/nocontact against the last
## released protos: the newest proto/release/v<N>.binpb, a committed buf image
## (so a fresh clone has it; no git tag to fetch).
PROTO_RELEASE = $(shell ls proto/release/v*.binpb 2>/dev/null | sort -V | tail -1)
breaking:
	@test -n "$(PROTO_RELEASE)" || { echo "no proto/release/v<N>.binpb"; exit 1; }
	@echo "against $(PROTO_RELEASE)"
	$(BUF) breaking --path nocontact --against ../$(PROTO_RELEASE)

## proto-release VERSION=v<N>: cut a proto release: snapshot proto/nocontact
## (with its imports, no source info) as proto/release/$(VERSION).binpb, which
## `make breaking` then checks against. Commit the file; it is never rewritten.
proto-release:
	@[[ "$(VERSION)" =~ ^v[0-9]+$$ ]] || { echo "usage: make proto-release VERSION=v<N>"; exit 1; }
	@test ! -e proto/release/$(VERSION).binpb || { echo "proto/release/$(VERSION).binpb exists: releases are not rewritten"; exit 1; }
	@if [ -n "$(PROTO_RELEASE)" ]; then echo "against $(PROTO_RELEASE)"; $(BUF) breaking --path nocontact --against ../$(PROTO_RELEASE); fi
	mkdir -p proto/release && $(BUF) build --path nocontact --exclude-source-info -o release/$(VERSION).binpb

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
ci: lint-proto breaking check-generated lint-openapi ts-client vet test
