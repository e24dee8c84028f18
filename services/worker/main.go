// Command worker long-polls the tasks queue and runs tasks. Configuration
// comes from the environment: CONVEYOR_TABLE, CONVEYOR_QUEUE_URL,
// AWS_REGION, AWS_ENDPOINT_URL (local runs) and the tuning variables in
// runner.Config. On SIGTERM it stops receiving, hands back unstarted
// messages, finishes in-flight tasks within CONVEYOR_STOP_BUDGET, flushes
// deletes and exits 0.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
	"github.com/conveyor-dev/conveyor/services/internal/version"
	"github.com/conveyor-dev/conveyor/services/worker/runner"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println("worker", version.Revision)
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "worker", "revision", version.Revision)
	if err := run(log); err != nil {
		log.Error("worker stopped", "err", err)
		os.Exit(1)
	}
	log.Info("worker stopped")
}

func run(log *slog.Logger) error {
	c, err := runner.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	w := runner.New(c,
		taskstore.New(dynamodb.NewFromConfig(awsCfg), c.Table),
		queue.New(sqs.NewFromConfig(awsCfg), c.QueueURL),
		tasktype.Builtin(), log)
	return w.Run(ctx)
}
