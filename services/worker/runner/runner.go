// Package runner is the worker: it long-polls the tasks queue, runs each
// task through the task-type registry with bounded concurrency, and records
// the outcome with conditional, idempotent status transitions.
//
// Delivery is at-least-once. A message is deleted (in batches) only after
// its outcome is recorded; every message in hand is kept invisible by one
// batched heartbeat; on shutdown unstarted messages are handed back with
// visibility 0, in-flight tasks get a budget to finish, and pending deletes
// are flushed.
package runner

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
)

// cleanupTimeout bounds the calls made after shutdown began (hand-backs,
// the last deletes), which must not use the cancelled context.
const cleanupTimeout = 5 * time.Second

// Worker consumes the tasks queue.
type Worker struct {
	cfg   Config
	store *taskstore.Store
	queue *queue.Queue
	types tasktype.Registry
	log   *slog.Logger

	mu     sync.Mutex
	inHand map[string]time.Time // receipt handle -> last visibility renewal
}

// New returns a worker.
func New(cfg Config, store *taskstore.Store, q *queue.Queue, types tasktype.Registry, log *slog.Logger) *Worker {
	return &Worker{cfg: cfg, store: store, queue: q, types: types, log: log, inHand: map[string]time.Time{}}
}

// Run consumes until ctx ends, then shuts down gracefully and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	// Tasks run on their own context: SIGTERM stops receiving, not running.
	// It is cancelled only when the stop budget runs out.
	taskCtx, cancelTasks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTasks()
	cleanup := context.WithoutCancel(ctx)

	del := newDeleter(w.queue, w.cfg.DeleteFlush, w.log)
	hbCtx, stopHeartbeat := context.WithCancel(cleanup)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeat(hbCtx) }()

	jobs := make(chan queue.Message)
	var running sync.WaitGroup
	for range w.cfg.Concurrency {
		running.Go(func() {
			for m := range jobs {
				w.handle(taskCtx, m, del)
			}
		})
	}

	// The stop budget counts from SIGTERM, not from the end of the last
	// long poll, so the whole shutdown fits in ECS's stopTimeout.
	budgetSpent := make(chan struct{})
	context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.StopBudget, func() { close(budgetSpent) }) })

	w.log.Info("worker started", "queue", w.queue.URL(), "concurrency", w.cfg.Concurrency, "batch", w.cfg.BatchSize)
	w.receive(ctx, jobs)
	close(jobs)

	w.log.Info("shutdown: stopped receiving; finishing in-flight tasks", "stop_budget", w.cfg.StopBudget.String())
	finished := make(chan struct{})
	go func() { running.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-budgetSpent:
		w.log.Warn("shutdown: stop budget spent; interrupting the tasks still running and handing their messages back", "stop_budget", w.cfg.StopBudget.String())
		cancelTasks()
		<-finished
	}
	stopHeartbeat()
	<-hbDone
	del.close()
	w.log.Info("shutdown: done")
	return nil
}

// receive feeds jobs until ctx ends. It holds at most one batch: it asks for
// the next only when the last one is handed to runners, so unstarted
// messages stay few, and it hands back what it still holds when ctx ends.
func (w *Worker) receive(ctx context.Context, jobs chan<- queue.Message) {
	for ctx.Err() == nil {
		msgs, ok := w.queue.ReceiveRetrying(ctx, w.cfg.BatchSize, w.cfg.WaitTime, w.cfg.Visibility, func(err error, retryIn time.Duration) {
			w.log.Error("receive failed; retrying", "queue", w.queue.URL(), "err", err, "retry_in", retryIn.String())
		})
		if !ok {
			return
		}
		if ctx.Err() != nil {
			// Received after shutdown began: hand back at once.
			if len(msgs) > 0 {
				w.track(msgs)
				w.handBack(msgs)
			}
			return
		}
		w.track(msgs)
		for i, m := range msgs {
			select {
			case jobs <- m:
			case <-ctx.Done():
				w.handBack(msgs[i:])
				return
			}
		}
	}
}

// handBack makes unstarted messages visible again at once.
func (w *Worker) handBack(msgs []queue.Message) {
	receipts := make([]string, len(msgs))
	for i, m := range msgs {
		receipts[i] = m.ReceiptHandle
	}
	w.untrack(receipts...)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := w.queue.SetVisibility(ctx, receipts, 0); err != nil {
		w.log.Warn("shutdown: could not hand messages back; they return after their visibility timeout", "count", len(receipts), "err", err)
		return
	}
	w.log.Info("shutdown: handed back unstarted messages", "count", len(receipts))
}

// handle runs one message's task and records its outcome.
func (w *Worker) handle(taskCtx context.Context, m queue.Message, del *deleter) {
	log := w.log.With("task_id", m.Body.TaskID, "message_id", m.ID, "attempt", m.ReceiveCount)
	if m.BodyErr != nil {
		// Not ours to fix: let it reach the DLQ, where it is logged.
		log.Error("not a task message; leaving it for the dead-letter queue", "err", m.BodyErr)
		w.untrack(m.ReceiptHandle)
		return
	}
	id := m.Body.TaskID
	var te *taskstore.TransitionError
	if err := w.store.MarkRunning(taskCtx, id, m.ReceiveCount); err != nil {
		switch {
		case errors.As(err, &te) && te.Status.Terminal():
			log.Info("task already finished; dropping the duplicate message", "status", te.Status)
			w.done(m, del)
		case errors.Is(err, taskstore.ErrNotFound):
			log.Error("message for a task that is not in the table; leaving it for the dead-letter queue", "err", err)
			w.untrack(m.ReceiptHandle)
		default:
			log.Error("could not mark the task RUNNING; it will be retried", "err", err)
			w.retryLater(m, log)
		}
		return
	}

	log.Info("task started", "type", m.Body.Type)
	start := time.Now()
	result, runErr := w.run(taskCtx, m.Body)
	if taskCtx.Err() != nil {
		// Interrupted by shutdown, not failed: another worker runs it again.
		log.Warn("task interrupted by shutdown; handing its message back", "err", runErr)
		w.handBack([]queue.Message{m})
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(taskCtx), cleanupTimeout)
	defer cancel()
	if runErr != nil {
		log.Warn("task failed", "type", m.Body.Type, "err", runErr, "duration", time.Since(start).String())
		err := w.store.MarkFailed(ctx, id, runErr.Error(), m.ReceiveCount)
		if errors.As(err, &te) && te.Status.Terminal() {
			w.done(m, del)
			return
		}
		if err != nil {
			log.Error("could not record the failure", "err", err)
		}
		w.retryLater(m, log)
		return
	}
	if err := w.store.MarkSucceeded(ctx, id, result); err != nil {
		if errors.As(err, &te) && te.Status.Terminal() {
			log.Warn("task succeeded but was already "+string(te.Status), "status", te.Status)
			w.done(m, del)
			return
		}
		log.Error("task succeeded but the result could not be recorded; it will run again", "err", err)
		w.retryLater(m, log)
		return
	}
	log.Info("task succeeded", "type", m.Body.Type, "duration", time.Since(start).String())
	w.done(m, del)
}

func (w *Worker) run(ctx context.Context, b queue.Body) ([]byte, error) {
	typ, err := w.types.Lookup(b.Type)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.TaskTimeout)
	defer cancel()
	return typ.Run(ctx, b.Payload)
}

// done deletes a message whose task needs nothing more.
func (w *Worker) done(m queue.Message, del *deleter) {
	w.untrack(m.ReceiptHandle)
	del.add(m.ReceiptHandle)
}

// retryLater lets the message reappear after the retry delay; the queue
// counts the delivery, so a task that keeps failing reaches the DLQ.
func (w *Worker) retryLater(m queue.Message, log *slog.Logger) {
	w.untrack(m.ReceiptHandle)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := w.queue.Extend(ctx, m.ReceiptHandle, w.cfg.RetryDelay); err != nil {
		log.Warn("could not set the retry delay; the message returns after its visibility timeout", "err", err)
	}
}

func (w *Worker) track(msgs []queue.Message) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range msgs {
		w.inHand[m.ReceiptHandle] = now
	}
}

func (w *Worker) untrack(receipts ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range receipts {
		delete(w.inHand, r)
	}
}

// heartbeat renews the visibility of every message in hand that was last
// renewed a heartbeat ago, in batches, so a long task is not delivered to a
// second worker while it runs.
func (w *Worker) heartbeat(ctx context.Context) {
	tick := time.NewTicker(min(w.cfg.Heartbeat/2, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var due []string
		w.mu.Lock()
		for r, last := range w.inHand {
			if now.Sub(last) >= w.cfg.Heartbeat {
				due = append(due, r)
				w.inHand[r] = now
			}
		}
		w.mu.Unlock()
		if len(due) == 0 {
			continue
		}
		if err := w.queue.SetVisibility(ctx, due, w.cfg.Visibility); err != nil && ctx.Err() == nil {
			w.log.Warn("visibility heartbeat failed; a long task may be delivered twice", "count", len(due), "err", err)
		}
	}
}
