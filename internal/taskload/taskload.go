// Package taskload drives the task API the way the game days and the local
// pipeline need it: a steady submit load from a few clients that counts
// every outcome (no retries, so every failed RPC shows), and a follower that
// waits until accepted tasks are terminal.
package taskload

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// Options shape a load.
type Options struct {
	Clients   int           // concurrent clients
	Period    time.Duration // each client submits one task per period
	Type      string        // task type, e.g. "echo"
	Payload   string
	KeyPrefix string // idempotency keys are KeyPrefix-<start>-<client>-<n>
}

// Load is a running or finished submit load.
type Load struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	ok        int
	failed    int
	errs      map[string]int
	firstErr  time.Time
	lastErr   time.Time
	accepted  []string // task ids the api acknowledged
	startedAt time.Time
	stoppedAt time.Time
}

// Start runs the clients until End or ctx ends.
func Start(ctx context.Context, client taskv1.TaskServiceClient, o Options) *Load {
	l := &Load{stop: make(chan struct{}), errs: map[string]int{}, startedAt: time.Now()}
	for c := 0; c < o.Clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(o.Period)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				key := fmt.Sprintf("%s-%d-%d-%d", o.KeyPrefix, l.startedAt.UnixNano(), c, i)
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				resp, err := client.SubmitTask(cctx, &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: o.Type, Payload: []byte(o.Payload)})
				cancel()
				l.record(resp, err)
			}
		}()
	}
	return l
}

func (l *Load) record(resp *taskv1.SubmitTaskResponse, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		now := time.Now()
		if l.failed == 0 {
			l.firstErr = now
		}
		l.lastErr = now
		l.failed++
		s, _ := status.FromError(err)
		msg := s.Code().String() + ": " + s.Message()
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		l.errs[msg]++
		return
	}
	l.ok++
	l.accepted = append(l.accepted, resp.GetTask().GetTaskId())
}

// End stops the clients and waits for their last calls.
func (l *Load) End() {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	l.stoppedAt = time.Now()
	l.mu.Unlock()
}

// Counts returns the successful and failed submits so far.
func (l *Load) Counts() (ok, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.failed
}

// Accepted returns the ids of the tasks the api acknowledged.
func (l *Load) Accepted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.accepted...)
}

// String reports the figures: requests, failures, rate and the error window.
func (l *Load) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := l.ok + l.failed
	rate := 0.0
	if total > 0 {
		rate = 100 * float64(l.failed) / float64(total)
	}
	end := l.stoppedAt
	if end.IsZero() {
		end = time.Now()
	}
	s := fmt.Sprintf("requests %d, ok %d, failed %d (%.2f %%) over %s (%.1f req/s)", total, l.ok, l.failed, rate,
		end.Sub(l.startedAt).Round(time.Millisecond), float64(total)/end.Sub(l.startedAt).Seconds())
	if l.failed > 0 {
		s += fmt.Sprintf("; errors from %s to %s (window %s)", l.firstErr.Format("15:04:05.000"), l.lastErr.Format("15:04:05.000"),
			l.lastErr.Sub(l.firstErr).Round(time.Millisecond))
		var kinds []string
		for k, n := range l.errs {
			kinds = append(kinds, fmt.Sprintf("%d× %s", n, k))
		}
		sort.Strings(kinds)
		s += "\n  " + strings.Join(kinds, "\n  ")
	}
	return s
}

// Outcome is where a set of tasks ended up.
type Outcome struct {
	Tasks                    map[string]*taskv1.Task // last read of every task
	Succeeded, Once, Retried int                     // Once/Retried split Succeeded by attempts
	Failed, Dead             int
	Open                     map[string]string // task id → non-terminal status or read error
}

func (o Outcome) String() string {
	return fmt.Sprintf("%d succeeded (%d on the first delivery, %d after a retry), %d failed, %d dead, %d not terminal",
		o.Succeeded, o.Once, o.Retried, o.Failed, o.Dead, len(o.Open))
}

// Settle follows task ids with GetTask until each is terminal, the timeout
// passes or ctx ends, and reports the outcome.
func Settle(ctx context.Context, client taskv1.TaskServiceClient, ids []string, timeout time.Duration) Outcome {
	deadline := time.Now().Add(timeout)
	o := Outcome{Tasks: map[string]*taskv1.Task{}}
	for {
		o.Open = map[string]string{}
		for _, id := range ids {
			if t := o.Tasks[id]; t != nil && Terminal(t) {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			r, err := client.GetTask(cctx, &taskv1.GetTaskRequest{TaskId: id})
			cancel()
			if err != nil {
				o.Open[id] = "GetTask: " + err.Error()
				continue
			}
			o.Tasks[id] = r.GetTask()
			if !Terminal(r.GetTask()) {
				o.Open[id] = r.GetTask().GetStatus().String()
			}
		}
		if len(o.Open) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, t := range o.Tasks {
		switch t.GetStatus() {
		case taskv1.TaskStatus_TASK_STATUS_SUCCEEDED:
			o.Succeeded++
			if t.GetAttempts() <= 1 {
				o.Once++
			} else {
				o.Retried++
			}
		case taskv1.TaskStatus_TASK_STATUS_FAILED:
			o.Failed++
		case taskv1.TaskStatus_TASK_STATUS_DEAD:
			o.Dead++
		}
	}
	return o
}

// Terminal reports whether a task will not change status any more.
func Terminal(t *taskv1.Task) bool {
	switch t.GetStatus() {
	case taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, taskv1.TaskStatus_TASK_STATUS_FAILED, taskv1.TaskStatus_TASK_STATUS_DEAD:
		return true
	}
	return false
}
