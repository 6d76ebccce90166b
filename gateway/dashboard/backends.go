package dashboard

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/metrics"
)

// Calls counts the dashboard's calls to the services, by backend (plans,
// journal, notify), full method and gRPC code, as
// nocontact_dashboard_backend_calls_total on the gateway's registry: the
// constant number of calls per roster shows there.
type Calls struct{ vec *prometheus.CounterVec }

// NewCalls registers the counter on reg (the gateway's registry).
func NewCalls(reg prometheus.Registerer) *Calls {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   metrics.Namespace,
		Name:        "dashboard_backend_calls_total",
		Help:        "Calls the dashboard made to the services, by backend, full method and gRPC code.",
		ConstLabels: prometheus.Labels{"service": "gateway"},
	}, []string{"backend", "method", "code"})
	if reg != nil {
		reg.MustRegister(vec)
	}
	return &Calls{vec: vec}
}

// forward adds the caller's bearer token and request id to the outgoing
// call: each service verifies the token itself and authorizes and logs the
// read as the caller's.
var forward = []grpc.UnaryClientInterceptor{
	auth.ForwardUnaryClientInterceptor(),
	grpcclient.RequestIDUnaryClientInterceptor(),
}

// Conn wraps the gateway's connection to a service for the dashboard: every
// unary call carries the caller's token and request id and is counted.
// Streams are not used by the dashboard and are refused.
func (c *Calls) Conn(backend string, cc grpc.ClientConnInterface) grpc.ClientConnInterface {
	return countingConn{cc: cc, backend: backend, calls: c}
}

type countingConn struct {
	cc      grpc.ClientConnInterface
	backend string
	calls   *Calls
}

func (c countingConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	invoke := func(ctx context.Context, method string, req, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		return c.cc.Invoke(ctx, method, req, reply, opts...)
	}
	for i := len(forward) - 1; i >= 0; i-- {
		next, ic := invoke, forward[i]
		invoke = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			return ic(ctx, method, req, reply, cc, next, opts...)
		}
	}
	err := invoke(ctx, method, args, reply, nil, opts...)
	c.calls.vec.WithLabelValues(c.backend, method, status.Code(err).String()).Inc()
	return err
}

func (c countingConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "the dashboard makes no streaming calls")
}
