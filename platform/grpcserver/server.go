// Package grpcserver builds the gRPC server every service runs: one
// interceptor chain (panic recovery, request id, logging, authentication,
// request validation, error mapping), the gRPC health protocol backed by
// real readiness checks, reflection, and a graceful shutdown with a deadline.
//
// A service's main creates the server, registers its services on GRPC() and
// calls Serve with a context cancelled on SIGTERM:
//
//	srv := grpcserver.New(grpcserver.Options{Logger: log, Verifier: v, ServiceName: "nocontact.plans.v1.PlansService",
//		Readiness: []grpcserver.Check{{Name: "mongo", Fn: db.Ping}}})
//	plansv1.RegisterPlansServiceServer(srv.GRPC(), handler)
//	return srv.Serve(ctx, lis, cfg.GRPC.ShutdownTimeout)
package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/logging"
	"github.com/nocontact/backend/platform/ratelimit"
)

// DefaultReadinessInterval is used when Options.ReadinessInterval is not
// positive.
const DefaultReadinessInterval = 2 * time.Second

// DefaultMaxConnectionAge is used when Options.MaxConnectionAge is 0: a
// replica added by the autoscaler gets its share of the calls within
// minutes, at the cost of one reconnection per client every few minutes.
const DefaultMaxConnectionAge = 5 * time.Minute

// ErrForcedStop is returned by Serve when in-flight calls were still
// running at the shutdown deadline and had to be cut.
var ErrForcedStop = errors.New("graceful stop deadline expired; remaining calls were cut")

// Check is one readiness check, e.g. "mongo" pinging the database. Fn must
// honour ctx: it is given at most one readiness interval.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options configure a Server. Only Verifier is needed for a useful server;
// the rest has defaults.
type Options struct {
	// Logger receives the access log, internal errors and panics. Nil
	// discards.
	Logger *slog.Logger
	// Verifier authenticates every call that is not public. Nil rejects
	// every non-public call (deny by default).
	Verifier auth.Verifier
	// PublicMethods are full method names ("/pkg.Service/Method") callable
	// without a token. The health and reflection services are always public.
	PublicMethods []string
	// Readiness checks gate the SERVING health status; none means always
	// ready.
	Readiness []Check
	// ReadinessInterval is how often the checks run (DefaultReadinessInterval
	// when not positive).
	ReadinessInterval time.Duration
	// ServiceName is the health service name reported besides "" (usually
	// the fully qualified proto service name).
	ServiceName string
	// Clock measures call durations and gives protovalidate its `now`;
	// clock.Real() when nil.
	Clock clock.Clock
	// ObserveRPC, when set, is called once per finished call (health and
	// reflection included) with the full method, the code the client got
	// and the call's duration, e.g. metrics.Metrics.ObserveRPC. It must be
	// cheap and must not block.
	ObserveRPC func(fullMethod string, code codes.Code, elapsed time.Duration)
	// ServerOptions are appended to the server's own. Interceptors added
	// with grpc.ChainUnaryInterceptor/ChainStreamInterceptor run inside the
	// platform chain (after validation); avoid grpc.UnaryInterceptor, which
	// gRPC would run outside it, before panic recovery.
	ServerOptions []grpc.ServerOption
	// MaxConnectionAge is how long a client connection may live before the
	// server sends GOAWAY: new calls then go over a new connection, which
	// the client may open to another replica; calls and streams in flight
	// run to their end. DefaultMaxConnectionAge when 0; negative never.
	MaxConnectionAge time.Duration
	// TLS, when set, makes the server speak TLS only (mutual TLS with a
	// tlsx.Source's ServerConfig). ServeProbes stays plaintext.
	TLS *tls.Config
	// MaxRecvMsgBytes bounds one received message (DefaultMaxRecvMsgBytes
	// when not positive); a larger one answers ResourceExhausted before it
	// is decoded.
	MaxRecvMsgBytes int
	// MaxHeaderListBytes bounds a call's metadata, the bearer token
	// included (DefaultMaxHeaderListBytes when 0).
	MaxHeaderListBytes uint32
	// RateLimitPerSecond and RateLimitBurst bound the calls per identity
	// (the token's subject; the peer's address for a call without one):
	// past them a call answers ResourceExhausted with a RetryInfo. Health
	// and reflection are exempt. Zero or less: no limit.
	RateLimitPerSecond float64
	RateLimitBurst     int
}

// DefaultMaxRecvMsgBytes bounds a request message: the gateway's body limit
// (1 MiB of JSON, which is larger than the same message in protobuf), so
// nothing the public API accepts is refused here, while a direct caller can
// no longer make a service decode gRPC's default of 4 MiB per message. Field
// rules (max_len, max_items) bound each RPC far below this.
const DefaultMaxRecvMsgBytes = 1 << 20

// DefaultMaxHeaderListBytes bounds a call's metadata: a JWT from any issuer
// we accept is a few KiB, the request id and trace context far less.
const DefaultMaxHeaderListBytes = 16 << 10

// Server is a gRPC server with the platform's interceptors, health and
// reflection. It serves once.
type Server struct {
	grpc      *grpc.Server
	health    *health.Server
	logger    *slog.Logger
	clock     clock.Clock
	validator protovalidate.Validator
	initErr   error

	checks      []Check
	interval    time.Duration
	serviceName string
	public      map[string]bool
	limiter     *ratelimit.Limiter
	observeRPC  func(fullMethod string, code codes.Code, elapsed time.Duration)

	served atomic.Bool

	healthMu sync.Mutex
	status   healthpb.HealthCheckResponse_ServingStatus
}

// alwaysPublicServices are callable without a token: probes and tooling
// have none, and neither service reveals user data.
var alwaysPublicServices = []string{
	healthgrpc.Health_ServiceDesc.ServiceName,
	reflectionv1.ServerReflection_ServiceDesc.ServiceName,
	reflectionv1alpha.ServerReflection_ServiceDesc.ServiceName,
}

// New returns a Server configured by opts. Register services on GRPC()
// before calling Serve.
func New(opts Options) *Server {
	s := &Server{
		logger:      opts.Logger,
		clock:       opts.Clock,
		checks:      append([]Check(nil), opts.Readiness...),
		interval:    opts.ReadinessInterval,
		serviceName: opts.ServiceName,
		public:      make(map[string]bool, len(opts.PublicMethods)),
		observeRPC:  opts.ObserveRPC,
		health:      health.NewServer(),
	}
	// Liveness says only that the process answers: a database or NATS
	// outage must take a pod out of rotation (readiness), not restart it.
	s.health.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	switch {
	case s.logger == nil:
		s.logger = slog.New(slog.DiscardHandler)
	default:
		// The access log is useless without the request id: make sure the
		// handler adds it even when the caller built its logger by hand.
		if _, ok := s.logger.Handler().(*logging.ContextHandler); !ok {
			s.logger = slog.New(logging.NewContextHandler(s.logger.Handler()))
		}
	}
	if s.clock == nil {
		s.clock = clock.Real()
	}
	s.limiter = ratelimit.New(opts.RateLimitPerSecond, max(opts.RateLimitBurst, 1), s.clock)
	if s.interval <= 0 {
		s.interval = DefaultReadinessInterval
	}
	for _, m := range opts.PublicMethods {
		s.public[m] = true
	}

	clk := s.clock
	v, err := protovalidate.New(protovalidate.WithNowFunc(func() *timestamppb.Timestamp {
		return timestamppb.New(clk.Now())
	}))
	if err != nil {
		// Serve reports it; New has no error so that wiring stays simple.
		s.initErr = fmt.Errorf("create request validator: %w", err)
	}
	s.validator = v

	var verifier auth.Verifier
	if opts.Verifier != nil {
		verifier = loggingVerifier{Verifier: opts.Verifier, logger: s.logger}
	}
	serverOpts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			s.unaryRecovery,
			s.unaryRequestID,
			s.unaryLogging,
			auth.UnaryServerInterceptor(verifier, s.isPublic),
			s.unaryRateLimit,
			s.unaryValidation,
			s.unaryErrorMapping,
		),
		grpc.ChainStreamInterceptor(
			s.streamRecovery,
			s.streamRequestID,
			s.streamLogging,
			auth.StreamServerInterceptor(verifier, s.isPublic),
			s.streamRateLimit,
			s.streamValidation,
			s.streamErrorMapping,
		),
	}
	if opts.TLS != nil {
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	maxRecv := opts.MaxRecvMsgBytes
	if maxRecv <= 0 {
		maxRecv = DefaultMaxRecvMsgBytes
	}
	maxHeaders := opts.MaxHeaderListBytes
	if maxHeaders == 0 {
		maxHeaders = DefaultMaxHeaderListBytes
	}
	serverOpts = append(serverOpts, grpc.MaxRecvMsgSize(maxRecv), grpc.MaxHeaderListSize(maxHeaders),
		grpc.ForceServerCodecV2(newRequestCodec()))
	switch age := opts.MaxConnectionAge; {
	case age == 0:
		age = DefaultMaxConnectionAge
		fallthrough
	case age > 0:
		// MaxConnectionAgeGrace is left infinite: a live feed is never cut.
		serverOpts = append(serverOpts, grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: age}))
	}
	s.grpc = grpc.NewServer(append(serverOpts, opts.ServerOptions...)...)
	healthgrpc.RegisterHealthServer(s.GRPC(), s.health)
	reflection.Register(s.grpc)

	// Not ready until the first round of checks passes: a load balancer
	// must not route to a replica whose database is still unreachable.
	initial := healthpb.HealthCheckResponse_NOT_SERVING
	if len(s.checks) == 0 {
		initial = healthpb.HealthCheckResponse_SERVING
	}
	s.setHealth(initial)
	return s
}

// GRPC returns what to register services on: the underlying server, with
// each unary handler's decoding wrapped so that a request that does not
// decode answers InvalidArgument, not Internal (see requestCodec).
func (s *Server) GRPC() grpc.ServiceRegistrar { return registrar{srv: s.grpc} }

func (s *Server) isPublic(fullMethod string) bool {
	if s.public[fullMethod] {
		return true
	}
	return isPlatformService(fullMethod)
}

// isPlatformService reports whether fullMethod belongs to the health or
// reflection service.
func isPlatformService(fullMethod string) bool {
	svc, _, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	return ok && isPlatformServiceName(svc)
}

// LivenessService is the health service name that is SERVING for as long as
// the server runs, whatever its dependencies say (the liveness probe's).
const LivenessService = "liveness"

// setHealth sets the overall status and that of every service registered
// on the server so far (so a probe or grpcurl asking for any service it
// serves, CareService as well as PlansService, gets an answer), leaving the
// platform's own services and liveness alone.
func (s *Server) setHealth(st healthpb.HealthCheckResponse_ServingStatus) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	s.status = st
	s.applyHealthLocked()
}

// refreshHealth applies the current status to every service registered by
// now (Serve calls it: services register after New).
func (s *Server) refreshHealth() {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	s.applyHealthLocked()
}

func (s *Server) applyHealthLocked() {
	st := s.status
	s.health.SetServingStatus("", st)
	if s.serviceName != "" {
		s.health.SetServingStatus(s.serviceName, st)
	}
	for name := range s.grpc.GetServiceInfo() {
		if !isPlatformServiceName(name) {
			s.health.SetServingStatus(name, st)
		}
	}
}

// isPlatformServiceName reports whether name is the health or reflection
// service.
func isPlatformServiceName(name string) bool {
	for _, svc := range alwaysPublicServices {
		if name == svc {
			return true
		}
	}
	return false
}

// Serve serves on lis until ctx is done, then shuts down: health turns
// NOT_SERVING, GracefulStop waits for in-flight calls up to shutdownTimeout
// (not positive: no wait), and a hard Stop cuts whatever is left. It returns
// nil after a clean shutdown, ErrForcedStop when calls had to be cut, or
// the error that stopped serving early. Serve closes lis.
//
// Open health Watch streams never end by themselves, so a server with
// watchers always reaches the deadline; Kubernetes probes use Check, not
// Watch.
func (s *Server) Serve(ctx context.Context, lis net.Listener, shutdownTimeout time.Duration) error {
	if s.initErr != nil {
		_ = lis.Close()
		return s.initErr
	}
	if !s.served.CompareAndSwap(false, true) {
		_ = lis.Close()
		return errors.New("grpcserver: Serve called more than once")
	}
	s.refreshHealth()

	readyCtx, stopReadiness := context.WithCancel(ctx)
	readinessDone := make(chan struct{})
	go func() {
		defer close(readinessDone)
		s.runReadiness(readyCtx)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.grpc.Serve(lis) }()
	s.logger.InfoContext(ctx, "grpc server listening", "addr", lis.Addr().String())

	select {
	case err := <-serveErr:
		// The listener failed: stop everything and report why.
		stopReadiness()
		<-readinessDone
		s.health.Shutdown()
		s.grpc.Stop()
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}

	stopReadiness()
	<-readinessDone
	// Shutdown also pins NOT_SERVING against any later update.
	s.health.Shutdown()
	s.logger.InfoContext(context.WithoutCancel(ctx), "grpc server shutting down", "timeout", shutdownTimeout.String())

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.grpc.GracefulStop()
	}()
	forced := false
	if shutdownTimeout <= 0 {
		s.grpc.Stop()
		forced = true
	} else {
		timer := time.NewTimer(shutdownTimeout)
		select {
		case <-stopped:
		case <-timer.C:
			s.grpc.Stop()
			forced = true
		}
		timer.Stop()
	}
	<-stopped
	if err := <-serveErr; err != nil {
		return fmt.Errorf("grpc serve: %w", err)
	}
	if forced {
		return ErrForcedStop
	}
	return nil
}

// loggingVerifier logs why a token was refused: the client is only told
// "invalid or expired token", so the reason must be findable in the log
// (under the call's request id). The reason names the failed check, never
// the token.
type loggingVerifier struct {
	auth.Verifier
	logger *slog.Logger
}

func (v loggingVerifier) Verify(ctx context.Context, token string) (auth.Identity, error) {
	id, err := v.Verifier.Verify(ctx, token)
	if err != nil {
		v.logger.InfoContext(ctx, "authentication failed", "error", err.Error())
	}
	return id, err
}

// ServeProbes answers the gRPC health service alone, in plaintext, on lis:
// the kubelet's native gRPC probes cannot speak TLS, and a probe port
// apart from the API keeps them working when the API requires mutual TLS.
// The statuses are the API server's own (names "" and LivenessService, and
// NOT_SERVING from the start of a shutdown). It returns at once; stop
// stops the probe server and closes lis.
func (s *Server) ServeProbes(lis net.Listener) (stop func()) {
	probes := grpc.NewServer()
	healthgrpc.RegisterHealthServer(probes, s.health)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := probes.Serve(lis); err != nil {
			s.logger.Error("probe server stopped", "error", err)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			probes.Stop()
			<-done
		})
	}
}

// StreamOpenHeader is the header a server stream sends once it has been
// accepted. A client that sees the stream end without it knows the service
// refused the call, and can answer that error before it tells its own
// caller the stream is open (the gateway answers an HTTP error, not a 200
// with an error inside the stream).
const StreamOpenHeader = "x-nocontact-stream-open"
