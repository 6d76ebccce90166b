// Command notify runs the notify service: notifications, inbox, live feed,
// preferences and daily reminders.
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
	"github.com/nocontact/backend/services/notify/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
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
