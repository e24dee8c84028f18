// Package servicemain is the start-up every service binary shares: the
// --version answer, the JSON logger, the context that SIGTERM (ECS stopping
// the task) or Ctrl-C cancels, and the exit code.
package servicemain

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/conveyor-dev/conveyor/services/internal/version"
)

// Run runs the service named name. run gets a context cancelled on SIGTERM
// and a logger tagged with the service and revision; it returns nil after a
// clean drain (exit 0) or an error (logged, exit 1).
func Run(name string, run func(ctx context.Context, log *slog.Logger) error) {
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(name, version.Revision)
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", name, "revision", version.Revision)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, log)
	stop()
	if err != nil {
		log.Error(name+" stopped", "err", err)
		os.Exit(1)
	}
	log.Info(name + " stopped")
}
