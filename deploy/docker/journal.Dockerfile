# syntax=docker/dockerfile:1
# Image of the journal service (gRPC). Build from the repository root, which is the context
# (the go.work workspace needs proto/ and platform/ beside the service):
#
#   docker build -f deploy/docker/journal.Dockerfile \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     -t nocontact/journal:$(git describe --tags --always) .
#
# The build args stamp github.com/nocontact/backend/platform/buildinfo's
# Version and Commit with -X ("dev" and "unknown" when not given). The linker
# silently ignores -X of a variable that does not exist, so deploy/k8s's
# TestDockerfiles checks that both do.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath \
      -ldflags="-s -w \
        -X github.com/nocontact/backend/platform/buildinfo.Version=${VERSION} \
        -X github.com/nocontact/backend/platform/buildinfo.Commit=${COMMIT}" \
      -o /out/journal ./services/journal/cmd/journal

# Static, no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/journal /journal
USER nonroot:nonroot
EXPOSE 9090
# Prometheus metrics, GET /metrics (METRICS_ADDR)
EXPOSE 9464
# Plaintext gRPC health for the kubelet's probes (PROBE_ADDR)
EXPOSE 9091
ENTRYPOINT ["/journal"]
