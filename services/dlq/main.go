// Command dlq drains the dead-letter queue and marks each task DEAD with its
// last error and receive count. Configuration comes from the environment:
// CONVEYOR_TABLE, CONVEYOR_DLQ_URL, CONVEYOR_WAIT_TIME (20s), AWS_REGION and,
// for local runs, AWS_ENDPOINT_URL.
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

	"github.com/conveyor-dev/conveyor/services/dlq/deadletter"
	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/version"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println("dlq", version.Revision)
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "dlq", "revision", version.Revision)
	if err := run(log); err != nil {
		log.Error("dlq stopped", "err", err)
		os.Exit(1)
	}
	log.Info("dlq stopped")
}

func run(log *slog.Logger) error {
	c, err := deadletter.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	d := deadletter.New(c,
		taskstore.New(dynamodb.NewFromConfig(awsCfg), c.Table),
		queue.New(sqs.NewFromConfig(awsCfg), c.DLQURL), log)
	return d.Run(ctx)
}
