// Package deadletter is the dlq service: it drains the dead-letter queue and
// recovers tasks stranded in ACCEPTED.
//
// A dead letter is a message SQS moved after maxReceiveCount deliveries.
// Deliveries are not failures (hand-backs on SIGTERM, store errors before a
// run, runs cut by a deploy all count), so the task row decides: a task
// whose recorded failed runs reached the limit is marked DEAD; a task that
// is not finished is re-driven (a fresh message on the tasks queue), up to
// a bound on re-drives after which it is DEAD as unrunnable; a finished or
// unknown task's letter is dropped.
package deadletter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

// Config is the dlq service's configuration.
type Config struct {
	Table       string        // CONVEYOR_TABLE
	DLQURL      string        // CONVEYOR_DLQ_URL
	QueueURL    string        // CONVEYOR_QUEUE_URL: where re-driven and recovered tasks go
	WaitTime    time.Duration // CONVEYOR_WAIT_TIME, default 20s: long-poll wait
	Visibility  time.Duration // CONVEYOR_VISIBILITY_TIMEOUT, default 30s: hides a letter while it is handled
	MaxFailures int           // CONVEYOR_MAX_FAILURES, default 3: as the worker's
	MaxRedrives int           // CONVEYOR_MAX_REDRIVES, default 10: re-drives without a finished run before DEAD
	// RecoveryInterval is how often stranded ACCEPTED tasks are looked
	// for; CONVEYOR_RECOVERY_INTERVAL, default 30s.
	RecoveryInterval time.Duration
}

// ConfigFromEnv reads the dlq service's configuration.
func ConfigFromEnv(getenv config.Getenv) (Config, error) {
	r := config.NewReader(getenv)
	c := Config{
		Table:            r.Required("CONVEYOR_TABLE"),
		DLQURL:           r.Required("CONVEYOR_DLQ_URL"),
		QueueURL:         r.Required("CONVEYOR_QUEUE_URL"),
		WaitTime:         r.Duration("CONVEYOR_WAIT_TIME", 20*time.Second, 0, 20*time.Second),
		Visibility:       r.Duration("CONVEYOR_VISIBILITY_TIMEOUT", 30*time.Second, time.Second, 12*time.Hour),
		MaxFailures:      r.Int("CONVEYOR_MAX_FAILURES", 3, 1, 100),
		MaxRedrives:      r.Int("CONVEYOR_MAX_REDRIVES", 10, 1, 1000),
		RecoveryInterval: r.Duration("CONVEYOR_RECOVERY_INTERVAL", 30*time.Second, 100*time.Millisecond, time.Hour),
	}
	return c, r.Err()
}

// Drainer drains the DLQ and recovers stranded tasks.
type Drainer struct {
	cfg   Config
	store *taskstore.Store
	dlq   *queue.Queue
	tasks *queue.Queue
	log   *slog.Logger
}

// New returns a drainer.
func New(cfg Config, store *taskstore.Store, dlq, tasks *queue.Queue, log *slog.Logger) *Drainer {
	return &Drainer{cfg: cfg, store: store, dlq: dlq, tasks: tasks, log: log}
}

// Run drains and recovers until ctx ends; the batch in hand is finished
// first.
func (d *Drainer) Run(ctx context.Context) error {
	d.log.Info("dlq drainer started", "dlq", d.dlq.URL(), "queue", d.tasks.URL())
	recovered := make(chan struct{})
	go func() { defer close(recovered); d.recoverLoop(ctx) }()
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
	<-recovered
	d.log.Info("shutdown: done")
	return nil
}

// record handles each letter and deletes those that need nothing more; a
// letter whose handling failed stays for the next receive.
func (d *Drainer) record(ctx context.Context, msgs []queue.Message) {
	var finished []string
	for _, m := range msgs {
		if d.handle(ctx, m) {
			finished = append(finished, m.ReceiptHandle)
		}
	}
	if len(finished) == 0 {
		return
	}
	if err := d.dlq.Delete(ctx, finished); err != nil {
		d.log.Warn("delete failed; those dead letters will be handled again (idempotent)", "err", err)
	}
}

// handle acts on one dead letter and reports whether it can be deleted.
func (d *Drainer) handle(ctx context.Context, m queue.Message) bool {
	log := d.log.With("message_id", m.ID, "task_id", m.Body.TaskID, "receive_count", m.ReceiveCount)
	if m.BodyErr != nil {
		log.Error("dead letter is not a task message; deleting it, nothing to record", "err", m.BodyErr)
		return true
	}
	id := m.Body.TaskID
	t, err := d.store.NoteRedrive(ctx, id, d.cfg.MaxFailures, d.cfg.MaxRedrives)
	switch decide(err, d.cfg.MaxFailures, d.cfg.MaxRedrives) {
	case redrive:
		delay := redriveDelay(t, time.Now())
		if err := d.tasks.SendAfter(ctx, m.Body, delay); err != nil {
			log.Error("could not re-drive the task; the letter is kept", "err", err)
			return false
		}
		log.Info("task re-driven: it reached the dead-letter queue without failing", "status", t.Status, "runs", t.Runs, "failures", t.Failures, "redrives", t.Redrives, "delay", delay.String())
		return true
	case bury:
		dead, err := d.store.MarkDead(ctx, id, d.cfg.MaxFailures)
		if err != nil {
			log.Error("could not mark the task DEAD; the letter is kept", "err", err)
			return false
		}
		log.Warn("task is DEAD", "type", dead.Type, "last_error", dead.Error, "failures", dead.Failures)
		return true
	case buryUnrunnable:
		reason := fmt.Sprintf("re-driven %d times (%d runs started, none finished); it never completes a run, so it is not tried again", d.cfg.MaxRedrives, taskRuns(err))
		dead, err := d.store.MarkUnrunnable(ctx, id, d.cfg.MaxRedrives, reason)
		if err != nil {
			log.Error("could not mark the task DEAD as unrunnable; the letter is kept", "err", err)
			return false
		}
		log.Warn("task is DEAD: unrunnable", "type", dead.Type, "runs", dead.Runs, "redrives", dead.Redrives)
		return true
	case drop:
		log.Info("dead letter needs nothing: the task is finished or unknown", "err", err)
		return true
	}
	log.Error("could not read the task of a dead letter; the letter is kept", "err", err)
	return false
}
