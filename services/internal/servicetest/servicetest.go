// Package servicetest gives service tests a fresh table and queues on moto,
// reached through a fault proxy (no faults unless the test sets a plan),
// which also makes moto's conditional writes atomic as DynamoDB's are.
package servicetest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/services/internal/faultproxy"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/local/provision"
)

// Stack is a store and a tasks-queue client on a table and queues of the
// test's own on moto, all calls going through Proxy.
type Stack struct {
	Store *taskstore.Store
	Queue *queue.Queue
	DLQ   *queue.Queue
	World provision.World
	Proxy *faultproxy.Proxy
	Cfg   aws.Config // aimed at Proxy
}

// New provisions a Stack named after the test, so tests can share one moto.
// It skips under -short.
func New(t testing.TB) Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("needs moto (skipped with -short)")
	}
	ctx := context.Background()
	moto := motoserver.Start(t)
	p, err := faultproxy.Start(moto.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg, err := p.Config(ctx, motoserver.Region)
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
		DLQ:   queue.New(sqs.NewFromConfig(cfg), w.DLQURL),
		World: w, Proxy: p, Cfg: cfg,
	}
}
