package gameday_test

import (
	"strings"
	"time"

	"github.com/conveyor-dev/conveyor/internal/taskload"
)

// startLoad submits kind tasks through the balancer from clients goroutines,
// one task per period each, without retries.
func (w *world) startLoad(clients int, period time.Duration, kind, payload string) *taskload.Load {
	return taskload.Start(w.ctx, w.client, taskload.Options{Clients: clients, Period: period, Type: kind, Payload: payload,
		KeyPrefix: strings.ReplaceAll(w.t.Name(), "/", "-")})
}

// settle waits until every task id is terminal (or the timeout passes),
// reading through the balancer with GetTask.
func (w *world) settle(ids []string, timeout time.Duration) taskload.Outcome {
	return taskload.Settle(w.ctx, w.client, ids, timeout)
}
