// Command journal runs the journal service: check-ins, journal entries,
// urges (SOS), insights, prompts and risk screening.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/logging"
	"github.com/nocontact/backend/services/journal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "journal:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg server.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log := logging.New(cfg.Log, os.Stdout)
	return server.Run(ctx, cfg, server.Options{Logger: log, Clock: clock.Real()})
}
