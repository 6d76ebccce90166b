# The two commands that matter: `go run ./devstack` (whole suite) and `make test`.
SHELL := /bin/bash
BUF := cd proto && GOWORK=off go tool -modfile=../tools/buf/go.mod buf

.PHONY: bench load screenshot test faults vet fuzz generate check-generated lint-proto breaking proto-release lint-openapi ts-client ci

## test: every test of every module in go.work, against embedded NATS and FerretDB.
test:
	go test -count=1 work

## fuzz: run each fuzz target for FUZZTIME (5s) past its committed seeds
## (testdata/fuzz/<Target>/, which plain `go test` runs as regression
## tests). A failing input is saved beside the seeds: keep it there as a
## regression seed once the bug is fixed. See docs/decisions.md, "Fuzzing".
FUZZTIME ?= 5s
FUZZ_TARGETS := \
	./platform/grpcserver:FuzzRequestValidation \
	./platform/auth:FuzzVerifyToken \
	./platform/auth:FuzzVerifySignedClaims \
	./platform/events:FuzzEventDecoding \
	./services/journal/internal/screening:FuzzScreen \
	./services/notify/internal/webhook:FuzzCheckURL
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name ($$pkg, $(FUZZTIME))"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
	done
## faults: the fault-injection tests only (docs/reliability.md), the slow
## ones included; `make test` runs the fast ones, `go test -short` none.
## NOCONTACT_FAULT_BURST=5000 make faults runs the bursts at 5,000 events.
faults:
	NOCONTACT_FAULTS_SLOW=1 go test -count=1 -timeout 20m -run 'TestFault' ./devstack/

## load: the load tests (devstack/load_*_test.go, figures in
## docs/performance.md): milestone due → notification at half the store's
## write ceiling, 1,000 live feeds, idle CPU (profiled), the memory soak
## and keyed reads through the gateway with vegeta (tools/vegeta). They
## skip unless NOCONTACT_LOAD=1, so `make test` never runs them. The soak
## lasts NOCONTACT_LOAD_SOAK (1m here; the recorded run is 10m):
## `make load NOCONTACT_LOAD_SOAK=10m`. Profiles go to LOAD_OUT.
LOAD_OUT ?= /tmp/nocontact-load
LOAD_RUN ?= TestLoad
load:
	@uptime
	NOCONTACT_LOAD=1 NOCONTACT_LOAD_OUT=$(LOAD_OUT) go test -count=1 -timeout 60m -v -run '$(LOAD_RUN)' ./devstack/
	@uptime

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

## bench: the ratio benchmarks of docs/performance.md, each measured side by
## side with its bare baseline in one run (fixed -benchtime, BENCH_COUNT
## rounds), then the ratio table (tools/benchtable). Not part of `make test`.
BENCH_COUNT ?= 3
BENCH_RPC ?= 3000x
BENCH_STORE ?= 100x
BENCH_OUT ?= /tmp/nocontact-bench.txt
bench:
	@: > $(BENCH_OUT); uptime | tee -a $(BENCH_OUT)
	set -o pipefail; cd platform && go test -count=$(BENCH_COUNT) -run '^$$' -bench 'ChainVsBare|RefusedVsBare' -benchtime $(BENCH_RPC) ./grpcserver/ | tee -a $(BENCH_OUT)
	set -o pipefail; cd gateway && go test -count=$(BENCH_COUNT) -run '^$$' -bench 'GatewayVsDirect' -benchtime $(BENCH_RPC) ./edge/ | tee -a $(BENCH_OUT)
	set -o pipefail; cd services/journal && go test -count=$(BENCH_COUNT) -run '^$$' -bench 'RecordCheckInVsDriver' -benchtime $(BENCH_STORE) ./internal/app/ | tee -a $(BENCH_OUT)
	set -o pipefail; cd services/plans && go test -count=1 -run '^$$' -bench 'RecordContactVsDriver' -benchtime $(BENCH_STORE) ./internal/app/ | tee -a $(BENCH_OUT)
	set -o pipefail; cd platform && go test -count=1 -run '^$$' -bench 'FerretFindOne/docs=1000/' -benchtime 10x -v ./embedded/ | tee -a $(BENCH_OUT)
	@uptime | tee -a $(BENCH_OUT)
	@cd tools/benchtable && GOWORK=off go run . < $(BENCH_OUT)

## screenshot: render docs/dashboard.png (the README's picture) from the seed data in headless Chromium.
screenshot:
	NOCONTACT_SCREENSHOT_DIR=$(CURDIR)/.ci/screenshot go test -count=1 -run '^TestReadmeScreenshot$$' ./devstack/
	cp .ci/screenshot/dashboard-1280x800.png docs/dashboard.png
