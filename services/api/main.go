// Command api serves the gRPC TaskService (SubmitTask, GetTask) with
// grpc.health.v1 and server reflection. Configuration comes from the
// environment: CONVEYOR_TABLE, CONVEYOR_QUEUE_URL, CONVEYOR_LISTEN (:8080),
// CONVEYOR_DRAIN_WINDOW (15s), CONVEYOR_STOP_TIMEOUT (10s), AWS_REGION and,
// for local runs, AWS_ENDPOINT_URL.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/services/api/taskservice"
	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/servicemain"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
)

func main() { servicemain.Run("api", run) }

func run(ctx context.Context, log *slog.Logger) error {
	c, err := taskservice.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	svc := taskservice.New(
		taskstore.New(dynamodb.NewFromConfig(awsCfg), c.Table),
		queue.New(sqs.NewFromConfig(awsCfg), c.QueueURL),
		tasktype.Builtin(), log)
	lis, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on CONVEYOR_LISTEN=%s: %w", c.Listen, err)
	}
	gs, hs := taskservice.NewGRPCServer(svc)
	return taskservice.Serve(ctx, lis, gs, hs, c, log)
}
