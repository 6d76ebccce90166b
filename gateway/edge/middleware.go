package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/cors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/logging"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/ratelimit"
)

const requestIDHeader = "X-Request-Id"

type middleware func(http.Handler) http.Handler

// chain wraps h so that the first middleware runs first.
func chain(h http.Handler, mws ...middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// withRequestID keeps a well-formed X-Request-Id from the caller or makes
// one, so one id follows the request through the gateway, the service logs
// and the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
			r.Header.Set(requestIDHeader, id)
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

// withRecovery turns a panic into a 500 with no detail, logged with its stack.
func withRecovery(log *slog.Logger) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic in http handler", "panic", v, "stack", string(debug.Stack()))
					writeStatus(w, http.StatusInternalServerError, status.New(codes.Internal, "internal error"))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withAccessLog logs one line per request: method, path, status, duration.
// Never bodies or query strings (they may hold ids the path already shows,
// or worse).
func withAccessLog(log *slog.Logger, clk clock.Clock) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := clk.Now()
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			log.InfoContext(r.Context(), "http request",
				"method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration_ms", clk.Now().Sub(start).Milliseconds())
		})
	}
}

// withMetrics counts every answered request by route class and status code.
// The class is bounded: a fixed path (/healthz, /livez, /openapi.json) or
// /v1/<collection> for a collection the API has (ids come later in a path),
// anything else "other", so no caller can grow the series.
func withMetrics(m *metrics.Metrics, classes map[string]bool) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			m.ObserveHTTP(routeClass(r.URL.Path, classes), rec.status)
		})
	}
}

// routeClass is the first two segments of path when they name a known
// route class, else "other".
func routeClass(path string, classes map[string]bool) string {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "other"
	}
	first, rest, deeper := strings.Cut(rest, "/")
	class := "/" + first
	switch {
	case first == "v1":
		second, _, _ := strings.Cut(rest, "/")
		class += "/" + second
	case deeper:
		return "other" // the gateway's own routes are one segment long
	}
	if classes[class] {
		return class
	}
	return "other"
}

// routeClasses lists the route classes of the OpenAPI document's paths
// ("/v1/plans", "/v1/notifications:stream", ...) and the gateway's own.
func routeClasses(openAPIDoc []byte) (map[string]bool, error) {
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		return nil, fmt.Errorf("read route classes from the openapi document: %w", err)
	}
	classes := map[string]bool{"/healthz": true, "/livez": true, "/openapi.json": true}
	for p := range doc.Paths {
		segs := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
		if len(segs) >= 2 && segs[0] == "v1" && !strings.Contains(segs[1], "{") {
			classes["/v1/"+segs[1]] = true
		}
	}
	return classes, nil
}

// withCORS allows exactly the configured origins; it never echoes an
// arbitrary Origin back.
func withCORS(origins []string) middleware {
	c := cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", requestIDHeader},
		ExposedHeaders:   []string{requestIDHeader},
		AllowCredentials: false,
		MaxAge:           600,
	})
	return c.Handler
}

// withBodyLimit refuses bodies larger than limit: 413 at once when the
// declared length says so, and a read error (mapped to 413) when a body
// without a length grows past it.
func withBodyLimit(limit int64) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				writeStatus(w, http.StatusRequestEntityTooLarge, status.New(codes.InvalidArgument, "request body too large"))
				return
			}
			st := &bodyState{}
			r.Body = limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), state: st}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyStateKey{}, st)))
		})
	}
}

// withTimeout bounds a call to the services; a live feed (a ":stream"
// route) runs until the client goes away or the gateway shuts down.
func withTimeout(d time.Duration) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ":stream") {
				next.ServeHTTP(&streamWriter{ResponseWriter: w}, r)
				return
			}
			if strings.HasSuffix(r.URL.Path, exportDownloadVerb) { // bounded by ExportDownloadTimeout
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// withAuthentication answers 401 before any service is called when the
// bearer token is missing, expired or badly signed, then applies the
// caller's rate limit. The services verify the token again themselves: the
// gateway is not trusted with identity.
func withAuthentication(v auth.Verifier, limiter *ratelimit.Limiter) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions {
				next.ServeHTTP(w, r)
				return
			}
			token, ok := bearerToken(r.Header.Get("Authorization"))
			if !ok {
				if !limiter.Allow("addr:" + remoteHost(r)) {
					tooManyRequests(w)
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="nocontact"`)
				writeStatus(w, http.StatusUnauthorized, auth.MissingToken())
				return
			}
			id, err := v.Verify(r.Context(), token)
			if err != nil {
				if !limiter.Allow("addr:" + remoteHost(r)) {
					tooManyRequests(w)
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="nocontact", error="invalid_token"`)
				writeStatus(w, http.StatusUnauthorized, auth.InvalidToken())
				return
			}
			if !limiter.Allow("sub:" + id.Subject) {
				tooManyRequests(w)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tooManyRequests answers 429, always with Retry-After: at the configured
// rate a token is back within a second.
func tooManyRequests(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeStatus(w, http.StatusTooManyRequests, status.New(codes.ResourceExhausted, "too many requests, slow down"))
}

func bearerToken(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
