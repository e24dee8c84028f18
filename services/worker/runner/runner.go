// Package runner is the worker: it long-polls the tasks queue, runs each
// task through the task-type registry with bounded concurrency, and records
// the outcome with conditional, fenced status transitions.
//
// Delivery is at-least-once; running is at-most-once at a time. A run
// starts only after it took the task's lease in the table (owner id plus
// expiry, one conditional UpdateItem); one heartbeat extends the lease and
// the message's visibility together; a run whose lease renewal failed long
// enough, or was refused, is cancelled before its lease could lapse and
// records nothing, and every outcome is written on condition that the run
// still owns the task. A message is deleted (in batches) only after its
// outcome is recorded. The worker receives only as many messages as it has
// free slots. On shutdown, in-flight tasks get a budget to finish, then
// their leases are released and their messages handed back; pending
// deletes are flushed.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
)

// cleanupTimeout bounds the calls made after shutdown began (hand-backs,
// the last deletes), which must not use the cancelled context, and each
// store call of a run.
const cleanupTimeout = 5 * time.Second

var (
	errShutdown  = errors.New("worker shutting down: stop budget spent")
	errLeaseLost = errors.New("the run lost its lease")
)

// Worker consumes the tasks queue.
type Worker struct {
	cfg   Config
	store *taskstore.Store
	queue *queue.Queue
	types tasktype.Registry
	log   *slog.Logger
	id    string // this worker process; a run's owner id is id/<random>

	mu     sync.Mutex
	inHand map[string]*held // receipt handle -> what the worker holds
}

// held is a message in hand and, while its task runs, the run's lease.
type held struct {
	msg       queue.Message
	renewedAt time.Time // start of the last renewal that succeeded (or the receive)
	renewing  bool
	owner     string // set while a run holds the task's lease
	fence     *time.Timer
	cancel    context.CancelCauseFunc
}

// New returns a worker.
func New(cfg Config, store *taskstore.Store, q *queue.Queue, types tasktype.Registry, log *slog.Logger) *Worker {
	host, _ := os.Hostname()
	return &Worker{
		cfg: cfg, store: store, queue: q, types: types, log: log,
		id:     fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(3)),
		inHand: map[string]*held{},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run consumes until ctx ends, then shuts down gracefully and returns nil;
// it refuses a configuration that ConfigFromEnv would not produce.
func (w *Worker) Run(ctx context.Context) error {
	if w.cfg.MaxFailures < 1 || w.cfg.Concurrency < 1 || w.cfg.BatchSize < 1 || w.cfg.Heartbeat <= 0 || w.cfg.Heartbeat > w.cfg.Visibility/2 {
		return fmt.Errorf("worker configuration %+v: MaxFailures, Concurrency and BatchSize must be at least 1 and Heartbeat at most half the visibility timeout; build it with ConfigFromEnv", w.cfg)
	}
	// Tasks run on their own context: SIGTERM stops receiving, not running.
	// It is cancelled only when the stop budget runs out.
	taskCtx, cancelTasks := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelTasks(nil)
	cleanup := context.WithoutCancel(ctx)

	del := newDeleter(w.queue, w.cfg.DeleteFlush, w.log)
	hbCtx, stopHeartbeat := context.WithCancel(cleanup)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeat(hbCtx) }()

	var running sync.WaitGroup
	slots := make(chan struct{}, w.cfg.Concurrency)

	// The stop budget counts from SIGTERM, not from the end of the last
	// long poll, so the whole shutdown fits in ECS's stopTimeout.
	budgetSpent := make(chan struct{})
	context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.StopBudget, func() { close(budgetSpent) }) })

	if !w.cfg.TaskFitsStopBudget() {
		w.log.Warn("CONVEYOR_TASK_TIMEOUT is longer than CONVEYOR_STOP_BUDGET: a task running when a deploy stops this worker is cut and runs again elsewhere", "task_timeout", w.cfg.TaskTimeout.String(), "stop_budget", w.cfg.StopBudget.String())
	}
	w.log.Info("worker started", "queue", w.queue.URL(), "concurrency", w.cfg.Concurrency, "batch", w.cfg.BatchSize, "worker_id", w.id, "task_timeout", w.cfg.TaskTimeout.String())
	w.receive(ctx, slots, func(m queue.Message) {
		running.Go(func() {
			defer func() { <-slots }()
			w.handle(taskCtx, m, del)
		})
	})

	w.log.Info("shutdown: stopped receiving; finishing in-flight tasks", "stop_budget", w.cfg.StopBudget.String())
	finished := make(chan struct{})
	go func() { running.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-budgetSpent:
		w.log.Warn("shutdown: stop budget spent; interrupting the tasks still running and handing their messages back", "stop_budget", w.cfg.StopBudget.String())
		cancelTasks(errShutdown)
		<-finished
	}
	stopHeartbeat()
	<-hbDone
	del.close()
	w.log.Info("shutdown: done")
	return nil
}

// maxPolls bounds the receive calls in flight at once.
const maxPolls = 4

// receive starts a run for each message until ctx ends. A receive asks
// for no more messages than there are free slots, so nothing received
// waits behind a running task while other workers idle. To keep small
// receives from serialising on their round trips, up to maxPolls run at
// once, each holding the slots it asked for. What arrives after ctx ended
// is handed back. receive returns when no poll is in flight.
func (w *Worker) receive(ctx context.Context, slots chan struct{}, start func(queue.Message)) {
	var polls sync.WaitGroup
	defer polls.Wait()
	tokens := make(chan struct{}, min(w.cfg.Concurrency, maxPolls))
	for ctx.Err() == nil {
		select {
		case tokens <- struct{}{}:
		case <-ctx.Done():
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			<-tokens
			return
		}
		free := 1
	more:
		for free < w.cfg.BatchSize {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break more
			}
		}
		polls.Go(func() {
			defer func() { <-tokens }()
			w.poll(ctx, slots, free, start)
		})
	}
}

// poll receives up to free messages, holding free slots, and starts them.
func (w *Worker) poll(ctx context.Context, slots chan struct{}, free int, start func(queue.Message)) {
	msgs, ok := w.queue.ReceiveRetrying(ctx, free, w.cfg.WaitTime, w.cfg.Visibility, func(err error, retryIn time.Duration) {
		w.log.Error("receive failed; retrying", "queue", w.queue.URL(), "err", err, "retry_in", retryIn.String())
	})
	for range free - len(msgs) {
		<-slots
	}
	if !ok || len(msgs) == 0 {
		return
	}
	w.track(msgs)
	if ctx.Err() != nil {
		// Received after shutdown began: hand back at once.
		w.handBack(msgs)
		for range msgs {
			<-slots
		}
		return
	}
	for _, m := range msgs {
		start(m)
	}
}

// handBack makes messages visible again at once.
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
	w.log.Info("shutdown: handed back messages", "count", len(receipts))
}

// handle runs one message's task and records its outcome.
func (w *Worker) handle(taskCtx context.Context, m queue.Message, del *deleter) {
	log := w.log.With("task_id", m.Body.TaskID, "message_id", m.ID, "receive_count", m.ReceiveCount)
	if m.BodyErr != nil {
		// Not ours to fix: let it reach the DLQ, where it is logged.
		log.Error("not a task message; leaving it for the dead-letter queue", "err", m.BodyErr)
		w.untrack(m.ReceiptHandle)
		return
	}
	id := m.Body.TaskID
	owner := w.id + "/" + randomHex(4)
	log = log.With("owner", owner)
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(taskCtx), cleanupTimeout)
	started := time.Now()
	t, err := w.store.Start(storeCtx, id, owner, w.cfg.Visibility, w.cfg.MaxFailures)
	cancel()
	if err != nil {
		w.refused(m, err, log, del)
		return
	}

	runCtx, cancelRun := context.WithCancelCause(taskCtx)
	defer cancelRun(nil)
	w.hold(m.ReceiptHandle, owner, started, cancelRun)
	log = log.With("attempt", t.Runs)
	log.Info("task started", "type", m.Body.Type)
	result, runErr := w.run(runCtx, m.Body, t.Runs)
	cause := context.Cause(runCtx)
	log.Info("task ended", "type", m.Body.Type, "duration", time.Since(started).String(), "err", errString(runErr), "cause", errString(cause))

	ctx, cancel := context.WithTimeout(context.WithoutCancel(taskCtx), cleanupTimeout)
	defer cancel()
	var te *taskstore.TransitionError
	switch {
	case errors.Is(cause, errLeaseLost):
		// Another run may hold the task now: record nothing, delete
		// nothing. The message returns after its visibility timeout.
		log.Warn("task run lost its lease; its outcome is not recorded")
		w.untrack(m.ReceiptHandle)
	case errors.Is(cause, errShutdown):
		// Interrupted by shutdown, not failed: another worker runs it again.
		if err := w.store.Release(ctx, id, owner); err != nil {
			log.Warn("could not release the lease; the next run waits for it to lapse", "err", err)
		}
		log.Warn("task interrupted by shutdown; handing its message back", "err", runErr)
		w.handBack([]queue.Message{m})
	case runErr != nil:
		log.Warn("task failed", "type", m.Body.Type, "err", runErr)
		t, err := w.store.Fail(ctx, id, owner, runErr.Error())
		switch {
		case errors.As(err, &te):
			log.Warn("task failed but the run no longer owns it; nothing recorded", "status", te.Task.Status, "owner_now", te.Task.Owner)
			w.untrack(m.ReceiptHandle)
		case err != nil:
			log.Error("could not record the failure; it will run again", "err", err)
			w.retryLater(m, w.cfg.RetryDelay, log)
		case t.Failures >= w.cfg.MaxFailures:
			w.bury(m, del, log)
		default:
			log.Info("failure recorded; the task will run again", "failures", t.Failures, "max_failures", w.cfg.MaxFailures)
			w.retryLater(m, w.cfg.RetryDelay, log)
		}
	default:
		err := w.store.Succeed(ctx, id, owner, result)
		switch {
		case errors.As(err, &te):
			log.Warn("task succeeded but the run no longer owns it; nothing recorded", "status", te.Task.Status, "owner_now", te.Task.Owner)
			w.untrack(m.ReceiptHandle)
		case err != nil:
			log.Error("task succeeded but the result could not be recorded; it will run again", "err", err)
			w.retryLater(m, w.cfg.RetryDelay, log)
		default:
			log.Info("task succeeded", "type", m.Body.Type, "duration", time.Since(started).String())
			w.done(m, del)
		}
	}
}

// refused acts on a Start that did not take the lease.
func (w *Worker) refused(m queue.Message, err error, log *slog.Logger, del *deleter) {
	var te *taskstore.TransitionError
	errors.As(err, &te)
	switch onStartRefused(err, w.cfg.MaxFailures) {
	case dropMessage:
		log.Info("task already finished; dropping the duplicate message", "status", te.Task.Status)
		w.done(m, del)
	case buryTask:
		w.bury(m, del, log)
	case waitForLease:
		wait := leaseWait(te.Task, time.Now())
		log.Info("another run holds the task; the message waits for its lease", "owner_now", te.Task.Owner, "wait", wait.String())
		w.retryLater(m, wait, log)
	case leaveForDLQ:
		log.Error("message for a task that is not in the table; leaving it for the dead-letter queue", "err", err)
		w.untrack(m.ReceiptHandle)
	default:
		log.Error("could not start the task; it will be retried", "err", err)
		w.retryLater(m, w.cfg.RetryDelay, log)
	}
}

// bury marks a task whose failures reached the limit DEAD and drops its
// message.
func (w *Worker) bury(m queue.Message, del *deleter, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	t, err := w.store.MarkDead(ctx, m.Body.TaskID, w.cfg.MaxFailures)
	if err != nil {
		log.Error("could not mark the task DEAD; retrying later", "err", err)
		w.retryLater(m, w.cfg.RetryDelay, log)
		return
	}
	log.Warn("task is DEAD", "failures", t.Failures, "last_error", t.Error)
	w.done(m, del)
}

func (w *Worker) run(ctx context.Context, b queue.Body, attempt int) ([]byte, error) {
	typ, err := w.types.Lookup(b.Type)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.TaskTimeout)
	defer cancel()
	return typ.Run(ctx, tasktype.Input{TaskID: b.TaskID, Attempt: attempt, Payload: b.Payload})
}

// done deletes a message whose task needs nothing more.
func (w *Worker) done(m queue.Message, del *deleter) {
	w.untrack(m.ReceiptHandle)
	del.add(m.ReceiptHandle)
}

// retryLater lets the message reappear after delay; the queue counts the
// delivery.
func (w *Worker) retryLater(m queue.Message, delay time.Duration, log *slog.Logger) {
	w.untrack(m.ReceiptHandle)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := w.queue.Extend(ctx, m.ReceiptHandle, delay); err != nil {
		log.Warn("could not set the retry delay; the message returns after its visibility timeout", "err", err)
	}
}

func (w *Worker) track(msgs []queue.Message) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range msgs {
		w.inHand[m.ReceiptHandle] = &held{msg: m, renewedAt: now}
	}
}

// hold records that a run took the lease with a call started at renewed,
// and arms its fence.
func (w *Worker) hold(receipt, owner string, renewed time.Time, cancel context.CancelCauseFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h, ok := w.inHand[receipt]
	if !ok {
		return
	}
	h.owner, h.cancel, h.renewedAt = owner, cancel, renewed
	h.fence = time.AfterFunc(time.Until(fenceAt(renewed, w.cfg.Visibility)), func() { cancel(errLeaseLost) })
}

func (w *Worker) untrack(receipts ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range receipts {
		if h, ok := w.inHand[r]; ok && h.fence != nil {
			h.fence.Stop()
		}
		delete(w.inHand, r)
	}
}

// heartbeat renews, a heartbeat after the last renewal, the lease of every
// running task and then the visibility of its message; a lease the table
// refuses cancels the run at once, and a renewal that keeps failing lets
// the fence cancel it before the lease lapses. A message counts as renewed
// only when both calls succeeded.
func (w *Worker) heartbeat(ctx context.Context) {
	tick := time.NewTicker(max(min(w.cfg.Heartbeat/4, time.Second), 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var due []*held
		w.mu.Lock()
		for _, h := range w.inHand {
			if !h.renewing && now.Sub(h.renewedAt) >= w.cfg.Heartbeat {
				h.renewing = true
				due = append(due, h)
			}
		}
		w.mu.Unlock()
		if len(due) > 0 {
			w.renew(ctx, now, due)
		}
	}
}

func (w *Worker) renew(ctx context.Context, start time.Time, due []*held) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Heartbeat)
	defer cancel()
	var leased []*held
	var receipts []string
	for _, h := range due {
		w.mu.Lock()
		owner, cancelRun := h.owner, h.cancel
		w.mu.Unlock()
		if owner != "" {
			err := w.store.Renew(ctx, h.msg.Body.TaskID, owner, w.cfg.Visibility)
			var te *taskstore.TransitionError
			if errors.As(err, &te) {
				w.log.Warn("lease renewal refused; stopping the run", "task_id", h.msg.Body.TaskID, "owner", owner, "status", te.Task.Status, "owner_now", te.Task.Owner)
				cancelRun(errLeaseLost)
				continue
			}
			if err != nil {
				w.log.Warn("lease renewal failed; the run stops before its lease lapses unless a renewal succeeds", "task_id", h.msg.Body.TaskID, "owner", owner, "err", err)
				continue
			}
		}
		leased = append(leased, h)
		receipts = append(receipts, h.msg.ReceiptHandle)
	}
	visErr := error(nil)
	if len(receipts) > 0 {
		visErr = w.queue.SetVisibility(ctx, receipts, w.cfg.Visibility)
		if visErr != nil && ctx.Err() == nil {
			w.log.Warn("visibility heartbeat failed; retrying at the next tick", "count", len(receipts), "err", visErr)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range due {
		h.renewing = false
	}
	for _, h := range leased {
		if h.owner != "" && h.fence != nil {
			// The lease was extended from start on, whatever happened to
			// the visibility: the fence follows the lease.
			h.fence.Reset(time.Until(fenceAt(start, w.cfg.Visibility)))
		}
		if visErr == nil {
			h.renewedAt = start
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
