# syntax=docker/dockerfile:1
# Image of the journal service (gRPC). Build from the repository root, which is the context
# (the go.work workspace needs proto/ and platform/ beside the service):
#
#   docker build -f deploy/docker/journal.Dockerfile \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     -t nocontact/journal:$(git describe --tags --always) .
#
# main.version and main.commit are stamped with -X; a main without those
# variables ignores the flags (the linker skips unknown symbols).

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
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/journal ./services/journal/cmd/journal

# Static, no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/journal /journal
USER nonroot:nonroot
EXPOSE 9090
ENTRYPOINT ["/journal"]
