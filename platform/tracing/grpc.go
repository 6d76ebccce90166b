package tracing

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
)

// ServerOption instruments a gRPC server: a server span per call, child of
// the caller's trace context from the metadata.
func (p *Provider) ServerOption() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(p.TracerProvider()),
		otelgrpc.WithPropagators(propagator),
	))
}

// DialOption instruments a gRPC client connection: a client span per call,
// its trace context sent in the metadata.
func (p *Provider) DialOption() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(p.TracerProvider()),
		otelgrpc.WithPropagators(propagator),
	))
}
