// Command gateway serves the HTTP/JSON edge of the suite in front of the
// gRPC services.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/nocontact/backend/gateway/edge"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/logging"
	"github.com/nocontact/backend/platform/metrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg edge.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if err := cfg.Auth.Validate(); err != nil {
		return err
	}
	log := logging.New(cfg.Log, os.Stdout)
	clk := clock.Real()
	verifier, err := auth.NewVerifier(ctx, cfg.Auth, clk, log)
	if err != nil {
		return err
	}

	srv, err := edge.New(ctx, cfg, log, verifier, clk)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	metricsLis, err := metrics.Listen(cfg.MetricsAddr)
	if err != nil {
		_ = lis.Close()
		return err
	}
	if metricsLis != nil {
		// Metrics stay up until the HTTP drain is over.
		metricsCtx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Metrics().Serve(metricsCtx, metricsLis); err != nil {
				log.Error("metrics server stopped", "error", err)
			}
		}()
		defer func() { stopMetrics(); <-done }()
		log.Info("metrics listening", slog.String("addr", metricsLis.Addr().String()))
	}
	log.Info("gateway listening", slog.String("addr", lis.Addr().String()), slog.String("plans", cfg.PlansAddr))
	return srv.Serve(ctx, lis)
}
