// Package servicetest gives service tests a fresh table and queues on moto.
package servicetest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/local/provision"
)

// Stack is a store and a tasks-queue client on a table and queues of the
// test's own on moto.
type Stack struct {
	Store *taskstore.Store
	Queue *queue.Queue
}

// New provisions a Stack named after the test, so tests can share one moto.
// It skips under -short.
func New(t testing.TB) Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("needs moto (skipped with -short)")
	}
	ctx := context.Background()
	cfg, err := motoserver.Start(t).Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w, err := provision.Create(ctx, cfg, provision.UniqueName(t.Name()), provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Stack{
		Store: taskstore.New(dynamodb.NewFromConfig(cfg), w.Table),
		Queue: queue.New(sqs.NewFromConfig(cfg), w.QueueURL),
	}
}
