package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	dashboardv1 "github.com/nocontact/backend/proto/gen/go/nocontact/dashboard/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"
	"github.com/nocontact/backend/proto/openapi"

	"github.com/nocontact/backend/gateway/web"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/ratelimit"
	"github.com/nocontact/backend/platform/tlsx"
	"github.com/nocontact/backend/platform/tracing"
)

// Server is the HTTP edge. Build it with New, serve it with Serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	handler  http.Handler
	backends []backend
	dash     *dashboardServer
	openapi  []byte
	metrics  *metrics.Metrics
	tracing  *tracing.Provider
}

type backend struct {
	name string
	conn *grpc.ClientConn
}

// New dials the services and builds the HTTP handler. Dialling is lazy
// (grpc.NewClient), so New succeeds while a service is still starting;
// /healthz tells when they answer.
func New(ctx context.Context, cfg Config, log *slog.Logger, verifier auth.Verifier, clk clock.Clock) (_ *Server, err error) {
	doc, err := openAPIDocument()
	if err != nil {
		return nil, err
	}
	tp, err := tracing.Setup(ctx, "gateway", log)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, openapi: doc, metrics: metrics.New("gateway"), tracing: tp}
	defer func() {
		if err != nil {
			s.close(ctx)
		}
	}()

	// Transport security between the gateway and the services: mutual TLS
	// when configured, else plaintext (the devstack on loopback, or a mesh
	// that secures the hop); the token rides in metadata either way.
	creds := insecure.NewCredentials()
	if cfg.TLS.Enabled() { // Load refuses a partial set of files
		certs, err := tlsx.Load(cfg.TLS, log)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		creds = credentials.NewTLS(certs.ClientConfig())
	}

	for _, b := range []struct{ name, addr string }{{"plans", cfg.PlansAddr}, {"journal", cfg.JournalAddr}, {"notify", cfg.NotifyAddr}} {
		// A list of addresses (the devstack's replicas) gets a resolver
		// of its own; a DNS name resolves to every pod.
		target, listOpts := grpcclient.ListTarget(b.addr)
		conn, err := grpc.NewClient(target, append(listOpts,
			grpc.WithTransportCredentials(creds),
			// Spread calls over every replica the target resolves to.
			grpc.WithDefaultServiceConfig(grpcclient.RoundRobin),
			// Calls join the HTTP request's trace.
			tp.DialOption(),
			// A live feed the service refuses is an HTTP error, not a 200.
			grpc.WithChainStreamInterceptor(refusedStreamsFail),
		)...)
		if err != nil {
			return nil, fmt.Errorf("dial %s at %s: %w", b.name, b.addr, err)
		}
		s.backends = append(s.backends, backend{name: b.name, conn: conn})
	}
	plansConn, journalConn, notifyConn := s.backends[0].conn, s.backends[1].conn, s.backends[2].conn

	mux := runtime.NewServeMux(
		runtime.WithErrorHandler(errorHandler(log)),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithForwardResponseOption(openStream),
		runtime.WithMiddlewares(nameSpanByRoute),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, strictJSON{&runtime.JSONPb{
			// Zero values are written too: a dashboard reading
			// currentStreakDays on day 0 gets 0, not a missing field.
			MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
			// Unknown fields are refused, so a typo answers 400 instead
			// of being silently dropped.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		// Unknown query parameters are refused like unknown body fields.
		runtime.SetQueryParameterParser(&strictQueryParser{}),
	)
	if err := plansv1.RegisterPlansServiceHandler(ctx, mux, plansConn); err != nil {
		return nil, fmt.Errorf("register plans routes: %w", err)
	}
	if err := plansv1.RegisterCareServiceHandler(ctx, mux, plansConn); err != nil {
		return nil, fmt.Errorf("register care routes: %w", err)
	}
	if err := plansv1.RegisterErasureServiceHandler(ctx, mux, plansConn); err != nil {
		return nil, fmt.Errorf("register erasure routes: %w", err)
	}
	if err := journalv1.RegisterJournalServiceHandler(ctx, mux, journalConn); err != nil {
		return nil, fmt.Errorf("register journal routes: %w", err)
	}
	if err := notifyv1.RegisterNotifyServiceHandler(ctx, mux, notifyConn); err != nil {
		return nil, fmt.Errorf("register notify routes: %w", err)
	}
	if err := registerExport(ctx, mux, cfg, clk, log, plansConn, journalConn, notifyConn); err != nil {
		return nil, err
	}
	// The dashboard is served over an in-process gRPC connection, like a
	// service: see dashboard.go.
	if s.dash, err = startDashboard(cfg, log, verifier, clk, tp, s.metrics, plansConn, journalConn, notifyConn); err != nil {
		return nil, err
	}
	if err := dashboardv1.RegisterDashboardServiceHandler(ctx, mux, s.dash.conn); err != nil {
		return nil, fmt.Errorf("register dashboard routes: %w", err)
	}

	limiter := ratelimit.New(cfg.RateLimitPerSecond, cfg.RateLimitBurst, clk)
	api := chain(mux,
		withRequestID,
		withRecovery(log),
		withAccessLog(log, clk),
		withCORS(cfg.CORSAllowedOrigins),
		withValidRequestLine,
		withBodyLimit(cfg.MaxBodyBytes),
		withTimeout(cfg.BackendTimeout),
		withAuthentication(verifier, limiter),
	)

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", s.healthz)
	root.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ALIVE"}`))
	})
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.openapi)
	})
	root.Handle("/v1/", api)
	page, err := dashboardPage(cfg, clk)
	if err != nil {
		return nil, err
	}
	root.Handle("/dashboard", chain(page, withRequestID, withRecovery(log), withAccessLog(log, clk)))
	root.Handle("/dashboard/", chain(page, withRequestID, withRecovery(log), withAccessLog(log, clk), withBodyLimit(cfg.MaxBodyBytes)))
	root.Handle("/", chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routingErrorHandler(r.Context(), nil, nil, w, r, http.StatusNotFound)
	}), withRequestID))
	classes, err := routeClasses(doc)
	if err != nil {
		return nil, err
	}
	s.handler = withTracing(tp, classes, chain(root, withMetrics(s.metrics, classes)))
	return s, nil
}

// dashboardPage is the counsellor's page at /dashboard/, with the
// development token button when cfg.DevTokens is on. That needs the HS256
// secret (a JWKS deployment has none to sign with) and is refused
// otherwise, so a production configuration cannot turn it on by mistake.
func dashboardPage(cfg Config, clk clock.Clock) (http.Handler, error) {
	var opts web.Options
	if cfg.DevTokens {
		secret := cfg.Auth.JWTSecret.Reveal()
		if cfg.Auth.JWKSURL != "" || len(secret) < config.MinJWTSecretLen {
			return nil, errors.New("config: DEV_TOKENS needs the development HS256 secret (NOCONTACT_JWT_SECRET) and no NOCONTACT_JWT_JWKS_URL")
		}
		if cfg.DevCounsellorID == "" {
			return nil, errors.New("config: DEV_TOKENS needs DEV_COUNSELLOR_ID")
		}
		opts.DevToken = func() (string, error) {
			return auth.IssueHS256([]byte(secret), cfg.Auth.Issuer, cfg.Auth.Audience, cfg.DevCounsellorID, auth.RoleCounsellor, 8*time.Hour, clk)
		}
	}
	h, err := web.Handler(opts)
	if err != nil {
		return nil, fmt.Errorf("dashboard page: %w", err)
	}
	return h, nil
}

// close releases what New acquired: the backend connections and the
// tracer provider (flushing its spans).
func (s *Server) close(ctx context.Context) {
	// The dashboard first: its calls in flight use the backends.
	s.dash.stop()
	for _, b := range s.backends {
		_ = b.conn.Close()
	}
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.tracing.Shutdown(flushCtx); err != nil {
		s.log.Warn("flushing traces", "error", err)
	}
}

// Handler is the whole HTTP surface, for tests with httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics is the gateway's registry (HTTP request counts, Go runtime);
// serve it with its Serve on a port of its own.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Serve answers HTTP on lis until ctx is done, then drains in-flight
// requests for at most the configured shutdown timeout and closes the
// backend connections. It returns nil on a clean shutdown.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// No WriteTimeout: live feeds stream for as long as a dashboard
		// stays; every other call is bounded by BackendTimeout instead.
		WriteTimeout:   0,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()

	var serveErr error
	select {
	case err := <-errc:
		serveErr = err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		err := srv.Shutdown(shutdownCtx)
		cancel()
		if err != nil {
			_ = srv.Close()
			serveErr = fmt.Errorf("drain http: %w", err)
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
			serveErr = err
		}
	}
	s.close(ctx)
	if errors.Is(serveErr, http.ErrServerClosed) {
		return nil
	}
	return serveErr
}

// healthz answers 200 when every backend reports SERVING over the gRPC
// health protocol, 503 otherwise, with each backend's state.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	states := make(map[string]string, len(s.backends))
	healthy := true
	for _, b := range s.backends {
		resp, err := healthpb.NewHealthClient(b.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		switch {
		case err != nil:
			states[b.name] = "UNREACHABLE"
			healthy = false
		case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
			states[b.name] = resp.GetStatus().String()
			healthy = false
		default:
			states[b.name] = "SERVING"
		}
	}
	body := map[string]any{"status": "SERVING", "services": states}
	code := http.StatusOK
	if !healthy {
		body["status"] = "NOT_SERVING"
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// openStream sends a live feed's response headers as soon as the service
// accepted it: grpc-gateway would otherwise hold them until the first
// notification, and a dashboard could not tell a live feed from a hung one.
// grpc-gateway calls forward-response options with a nil message exactly
// once, before a stream's first message; by then the service has accepted
// the stream (refusedStreamsFail).
//
// grpc-gateway does not know the header went out: a stream cut before its
// first message would make it write a status again ("superfluous
// response.WriteHeader"), so the writer is marked (see streamWriter).
func openStream(_ context.Context, w http.ResponseWriter, m proto.Message) error {
	if m != nil {
		return nil
	}
	w.Header().Set("Content-Type", "application/x-ndjson") // as the OpenAPI document says
	w.WriteHeader(http.StatusOK)
	return http.NewResponseController(w).Flush()
}

// refusedStreamsFail makes a server stream's Header return the service's
// error when the stream ended without sending headers (the service refused
// it: a bad afterId, no permission). gRPC would return no error there and
// leave it to the first Recv, after grpc-gateway has answered 200; this way
// the generated handler answers the error as for any unary call.
func refusedStreamsFail(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &headerFirstStream{ClientStream: cs}, nil
}

type headerFirstStream struct {
	grpc.ClientStream
	ended bool // the stream ended cleanly before its headers
}

func (s *headerFirstStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	if err != nil || len(md.Get(grpcserver.StreamOpenHeader)) > 0 {
		return md, err
	}
	// Not accepted (a trailers-only answer carries no StreamOpenHeader):
	// the call is over, and RecvMsg returns how it ended without decoding
	// anything.
	if rerr := s.ClientStream.RecvMsg(&emptypb.Empty{}); !errors.Is(rerr, io.EOF) {
		return nil, rerr
	}
	s.ended = true
	return metadata.MD{}, nil
}

func (s *headerFirstStream) RecvMsg(m any) error {
	if s.ended {
		return io.EOF
	}
	return s.ClientStream.RecvMsg(m)
}

// streamWriter lets the first status of a live feed's response stand: once
// openStream has written 200, a later WriteHeader (grpc-gateway writing an
// error status after the stream broke) is dropped instead of logged by
// net/http as superfluous; the error itself still goes out in the body.
type streamWriter struct {
	http.ResponseWriter
	wrote bool
}

func (s *streamWriter) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	s.ResponseWriter.WriteHeader(code)
}

func (s *streamWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *streamWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *streamWriter) Flush() {
	s.wrote = true
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// incomingHeader forwards only what the services use. Authorization is
// always forwarded by grpc-gateway itself; identity is never taken from any
// other header.
func incomingHeader(key string) (string, bool) {
	if textproto.CanonicalMIMEHeaderKey(key) == requestIDHeader {
		return "x-request-id", true
	}
	return "", false
}

// outgoingHeader drops every piece of response metadata.
func outgoingHeader(key string) (string, bool) {
	// X-Request-Id is set once by withRequestID, with the id the service
	// was given; passing the service's copy on wrote it twice.
	return "", false
}

// openAPIDocument returns the OpenAPI 3.1 document generated from the
// protos (make generate: protoc-gen-openapiv2, then proto/openapi/convert).
func openAPIDocument() ([]byte, error) {
	if !json.Valid(openapi.JSON) {
		return nil, fmt.Errorf("the embedded openapi document is not valid JSON")
	}
	return openapi.JSON, nil
}

// writeStatus writes an error in the same JSON shape grpc-gateway uses.
func writeStatus(w http.ResponseWriter, httpStatus int, st *status.Status) {
	// Unpopulated fields are written as for every other answer: "details"
	// is always there, as the error shape promises.
	body, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
