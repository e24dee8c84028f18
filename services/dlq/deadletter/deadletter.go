// Package deadletter drains the dead-letter queue: each message's task is
// marked DEAD with the receive count, keeping the last error the worker
// recorded, and the message is deleted once that is stored.
package deadletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

// Config is the dlq service's configuration.
type Config struct {
	Table    string        // CONVEYOR_TABLE
	DLQURL   string        // CONVEYOR_DLQ_URL
	WaitTime time.Duration // CONVEYOR_WAIT_TIME, default 20s: long-poll wait
	// Visibility hides a message while it is recorded; CONVEYOR_VISIBILITY_TIMEOUT, default 30s.
	Visibility time.Duration
}

// ConfigFromEnv reads the dlq service's configuration.
func ConfigFromEnv(getenv config.Getenv) (Config, error) {
	r := config.NewReader(getenv)
	c := Config{
		Table:      r.Required("CONVEYOR_TABLE"),
		DLQURL:     r.Required("CONVEYOR_DLQ_URL"),
		WaitTime:   r.Duration("CONVEYOR_WAIT_TIME", 20*time.Second, 0, 20*time.Second),
		Visibility: r.Duration("CONVEYOR_VISIBILITY_TIMEOUT", 30*time.Second, time.Second, 12*time.Hour),
	}
	return c, r.Err()
}

// Drainer drains the DLQ.
type Drainer struct {
	cfg   Config
	store *taskstore.Store
	dlq   *queue.Queue
	log   *slog.Logger
}

// New returns a drainer.
func New(cfg Config, store *taskstore.Store, dlq *queue.Queue, log *slog.Logger) *Drainer {
	return &Drainer{cfg: cfg, store: store, dlq: dlq, log: log}
}

// Run drains until ctx ends; the batch in hand is finished first.
func (d *Drainer) Run(ctx context.Context) error {
	d.log.Info("dlq drainer started", "dlq", d.dlq.URL())
	for ctx.Err() == nil {
		// What a poll returns after shutdown began is recorded before Run
		// returns.
		msgs, ok := d.dlq.ReceiveRetrying(ctx, queue.MaxBatch, d.cfg.WaitTime, d.cfg.Visibility, func(err error, retryIn time.Duration) {
			d.log.Error("receive failed; retrying", "dlq", d.dlq.URL(), "err", err, "retry_in", retryIn.String())
		})
		if !ok {
			break
		}
		d.record(context.WithoutCancel(ctx), msgs)
	}
	d.log.Info("shutdown: done")
	return nil
}

// record marks each message's task DEAD and deletes the messages that need
// nothing more; a message whose update failed stays for the next receive.
func (d *Drainer) record(ctx context.Context, msgs []queue.Message) {
	var finished []string
	for _, m := range msgs {
		log := d.log.With("message_id", m.ID, "task_id", m.Body.TaskID, "receive_count", m.ReceiveCount)
		if m.BodyErr != nil {
			log.Error("dead letter is not a task message; deleting it, nothing to record", "err", m.BodyErr)
			finished = append(finished, m.ReceiptHandle)
			continue
		}
		t, err := d.store.MarkDead(ctx, m.Body.TaskID, m.ReceiveCount,
			fmt.Sprintf("moved to the dead-letter queue after %d deliveries without a recorded error", m.ReceiveCount))
		var te *taskstore.TransitionError
		switch {
		case err == nil:
			log.Warn("task is DEAD", "type", t.Type, "last_error", t.Error, "attempts", t.Attempts)
		case errors.As(err, &te):
			log.Info("dead letter for a task that is "+string(te.Status)+"; nothing to record", "status", te.Status)
		case errors.Is(err, taskstore.ErrNotFound):
			log.Error("dead letter for a task that is not in the table; deleting it", "err", err)
		default:
			log.Error("could not mark the task DEAD; it will be retried", "err", err)
			continue
		}
		finished = append(finished, m.ReceiptHandle)
	}
	if len(finished) == 0 {
		return
	}
	if err := d.dlq.Delete(ctx, finished); err != nil {
		d.log.Warn("delete failed; those dead letters will be recorded again (idempotent)", "err", err)
	}
}
