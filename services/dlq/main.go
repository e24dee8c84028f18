// Command dlq drains the dead-letter queue (a task whose recorded failed runs
// reached the limit becomes DEAD; one that never failed is re-driven) and
// queues tasks stranded in ACCEPTED. Configuration comes from the
// environment: CONVEYOR_TABLE, CONVEYOR_DLQ_URL, CONVEYOR_QUEUE_URL and the
// tuning variables in deadletter.Config, AWS_REGION and, for local runs,
// AWS_ENDPOINT_URL.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/services/dlq/deadletter"
	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/liveness"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/servicemain"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

func main() {
	// The container health check (infra: `dlq health -file F -max-age D`).
	if len(os.Args) > 1 && os.Args[1] == "health" {
		os.Exit(liveness.Health(os.Args[2:], os.Stderr))
	}
	servicemain.Run("dlq", run)
}

func run(ctx context.Context, log *slog.Logger) error {
	c, err := deadletter.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	sqsc := sqs.NewFromConfig(awsCfg, liveness.SQSOption(os.Getenv("CONVEYOR_LIVENESS_FILE")))
	d := deadletter.New(c, taskstore.New(dynamodb.NewFromConfig(awsCfg), c.Table),
		queue.New(sqsc, c.DLQURL), queue.New(sqsc, c.QueueURL), log)
	return d.Run(ctx)
}
