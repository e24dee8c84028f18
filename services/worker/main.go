// Command worker long-polls the tasks queue and runs tasks. Configuration
// comes from the environment: CONVEYOR_TABLE, CONVEYOR_QUEUE_URL,
// AWS_REGION, AWS_ENDPOINT_URL (local runs) and the tuning variables in
// runner.Config. On SIGTERM it stops receiving, hands back unstarted
// messages, finishes in-flight tasks within CONVEYOR_STOP_BUDGET, flushes
// deletes and exits 0.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/liveness"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/servicemain"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
	"github.com/conveyor-dev/conveyor/services/worker/runner"
)

func main() {
	// The container health check (infra: `worker health -file F -max-age D`).
	if len(os.Args) > 1 && os.Args[1] == "health" {
		os.Exit(liveness.Health(os.Args[2:], os.Stderr))
	}
	servicemain.Run("worker", run)
}

func run(ctx context.Context, log *slog.Logger) error {
	c, err := runner.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	w := runner.New(c,
		taskstore.New(dynamodb.NewFromConfig(awsCfg), c.Table),
		queue.New(sqs.NewFromConfig(awsCfg, liveness.SQSOption(os.Getenv("CONVEYOR_LIVENESS_FILE"))), c.QueueURL),
		tasktype.Builtin(), log)
	return w.Run(ctx)
}
