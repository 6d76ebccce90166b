package grpcserver

import (
	"context"
	"fmt"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// runReadiness runs the checks now and then every interval until ctx is
// done, keeping the health status in step with their results.
func (s *Server) runReadiness(ctx context.Context) {
	if len(s.checks) == 0 {
		return
	}
	failing := make([]error, len(s.checks)) // last result of each check, for logging transitions
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	for {
		s.checkOnce(ctx, failing)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

type checkResult struct {
	i   int
	err error
}

// checkOnce runs all checks concurrently, each bounded by one interval, and
// sets the health status. A check that ignores its context is abandoned at
// the deadline (and counted as failing) rather than blocking readiness or
// shutdown.
func (s *Server) checkOnce(ctx context.Context, last []error) {
	cctx, cancel := context.WithTimeout(ctx, s.interval)
	defer cancel()
	results := make(chan checkResult, len(s.checks)) // buffered: abandoned checks never block
	for i, c := range s.checks {
		go func() { results <- checkResult{i, runCheck(cctx, c)} }()
	}
	errs := make([]error, len(s.checks))
	for i := range errs {
		errs[i] = fmt.Errorf("check timed out after %v", s.interval)
	}
collect:
	for range s.checks {
		select {
		case r := <-results:
			errs[r.i] = r.err
		case <-cctx.Done():
			break collect
		}
	}
	if ctx.Err() != nil {
		return // shutting down: the result means nothing
	}

	ready := true
	for i, err := range errs {
		switch {
		case err != nil && last[i] == nil:
			s.logger.WarnContext(ctx, "readiness check failing", "check", s.checks[i].Name, "error", err)
		case err == nil && last[i] != nil:
			s.logger.InfoContext(ctx, "readiness check recovered", "check", s.checks[i].Name)
		}
		if err != nil {
			ready = false
		}
		last[i] = err
	}
	if ready {
		s.setHealth(healthpb.HealthCheckResponse_SERVING)
	} else {
		s.setHealth(healthpb.HealthCheckResponse_NOT_SERVING)
	}
}

// runCheck runs one check, turning a panic or a nil Fn into a failure.
func runCheck(ctx context.Context, c Check) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	if c.Fn == nil {
		return fmt.Errorf("check %q has no function", c.Name)
	}
	return c.Fn(ctx)
}
