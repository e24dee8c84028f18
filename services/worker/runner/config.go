package runner

import (
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
)

// Config is the worker's configuration.
type Config struct {
	Table       string        // CONVEYOR_TABLE
	QueueURL    string        // CONVEYOR_QUEUE_URL
	Concurrency int           // CONVEYOR_CONCURRENCY, default 8: tasks run at once
	BatchSize   int           // CONVEYOR_BATCH_SIZE, default 10: messages per receive
	WaitTime    time.Duration // CONVEYOR_WAIT_TIME, default 20s: long-poll wait
	Visibility  time.Duration // CONVEYOR_VISIBILITY_TIMEOUT, default 30s: set on receive and renewed by the heartbeat
	Heartbeat   time.Duration // CONVEYOR_HEARTBEAT, default a third of the visibility timeout, at most half of it
	MaxFailures int           // CONVEYOR_MAX_FAILURES, default 3: recorded failed runs before a task is DEAD
	RetryDelay  time.Duration // CONVEYOR_RETRY_DELAY, default 10s: a failed task's message reappears after this
	StopBudget  time.Duration // CONVEYOR_STOP_BUDGET, default 25s: in-flight tasks get this long after SIGTERM (ECS stopTimeout 30 s)
	TaskTimeout time.Duration // CONVEYOR_TASK_TIMEOUT, default the stop budget: one task's longest run (see TaskFitsStopBudget)
	DeleteFlush time.Duration // CONVEYOR_DELETE_FLUSH, default 200ms: a partial delete batch waits at most this long
}

// ConfigFromEnv reads the worker's configuration.
func ConfigFromEnv(getenv config.Getenv) (Config, error) {
	r := config.NewReader(getenv)
	c := Config{
		Table:       r.Required("CONVEYOR_TABLE"),
		QueueURL:    r.Required("CONVEYOR_QUEUE_URL"),
		Concurrency: r.Int("CONVEYOR_CONCURRENCY", 8, 1, 1024),
		BatchSize:   r.Int("CONVEYOR_BATCH_SIZE", queue.MaxBatch, 1, queue.MaxBatch),
		WaitTime:    r.Duration("CONVEYOR_WAIT_TIME", 20*time.Second, 0, 20*time.Second),
		Visibility:  r.Duration("CONVEYOR_VISIBILITY_TIMEOUT", 30*time.Second, 2*time.Second, 12*time.Hour),
		RetryDelay:  r.Duration("CONVEYOR_RETRY_DELAY", 10*time.Second, 0, 12*time.Hour),
		StopBudget:  r.Duration("CONVEYOR_STOP_BUDGET", 25*time.Second, 0, time.Hour),
		DeleteFlush: r.Duration("CONVEYOR_DELETE_FLUSH", 200*time.Millisecond, time.Millisecond, time.Minute),
		MaxFailures: r.Int("CONVEYOR_MAX_FAILURES", 3, 1, 100),
	}
	// The lease and the message's visibility last one visibility timeout
	// from the last renewal. At most half of it between renewals leaves
	// room for one slow or failed renewal before a run fences itself; a
	// heartbeat as long as the timeout lets a second worker in.
	// A task that fits the stop budget finishes after SIGTERM, so a
	// deploy never cuts it (docs/architecture.md, "Long tasks and
	// deploys").
	c.TaskTimeout = r.Duration("CONVEYOR_TASK_TIMEOUT", max(c.StopBudget, time.Second), time.Second, 12*time.Hour)
	c.Heartbeat = r.Duration("CONVEYOR_HEARTBEAT", c.Visibility/3, time.Second, c.Visibility/2)
	return c, r.Err()
}

// TaskFitsStopBudget reports whether every task run ends within the stop
// budget, so a deploy (SIGTERM) lets it finish instead of cutting it. A
// longer timeout is allowed, but such tasks are cut and re-run by every
// deploy that lands while they run; the worker warns at start.
func (c Config) TaskFitsStopBudget() bool { return c.TaskTimeout <= c.StopBudget }
