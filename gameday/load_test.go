package gameday_test

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

// load submits tasks through the balancer at a steady rate from a few
// clients, without retries, and counts every outcome.
type load struct {
	w    *world
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

// startLoad runs clients goroutines, each submitting one task every period.
func (w *world) startLoad(clients int, period time.Duration, kind, payload string) *load {
	l := &load{w: w, stop: make(chan struct{}), errs: map[string]int{}, startedAt: time.Now()}
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(period)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				key := fmt.Sprintf("%s-%d-%d-%d", strings.ReplaceAll(w.t.Name(), "/", "-"), w.started.UnixNano(), c, i)
				ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
				resp, err := w.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: kind, Payload: []byte(payload)})
				cancel()
				l.record(resp, err)
			}
		}()
	}
	return l
}

func (l *load) record(resp *taskv1.SubmitTaskResponse, err error) {
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

// end stops the clients and waits for their last calls.
func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
	l.stoppedAt = time.Now()
}

func (l *load) requests() int { l.mu.Lock(); defer l.mu.Unlock(); return l.ok + l.failed }

func (l *load) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := l.ok + l.failed
	rate := 0.0
	if total > 0 {
		rate = 100 * float64(l.failed) / float64(total)
	}
	s := fmt.Sprintf("requests %d, ok %d, failed %d (%.2f %%) over %s (%.1f req/s)", total, l.ok, l.failed, rate,
		l.stoppedAt.Sub(l.startedAt).Round(time.Millisecond), float64(total)/l.stoppedAt.Sub(l.startedAt).Seconds())
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

// outcome is where the accepted tasks ended up.
type outcome struct {
	succeeded, once, retried int
	failed, dead             int
	open                     map[string]string // task id → non-terminal status
}

func (o outcome) String() string {
	return fmt.Sprintf("%d succeeded (%d on the first delivery, %d after a retry), %d failed, %d dead, %d not terminal",
		o.succeeded, o.once, o.retried, o.failed, o.dead, len(o.open))
}

// settle waits until every task id is terminal (or the timeout passes) and
// reports the outcome; it reads through the balancer with GetTask.
func (w *world) settle(ids []string, timeout time.Duration) outcome {
	deadline := time.Now().Add(timeout)
	final := map[string]*taskv1.Task{}
	for {
		open := map[string]string{}
		for _, id := range ids {
			if final[id] != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
			r, err := w.client.GetTask(ctx, &taskv1.GetTaskRequest{TaskId: id})
			cancel()
			if err != nil {
				open[id] = "GetTask: " + err.Error()
				continue
			}
			switch r.GetTask().GetStatus() {
			case taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, taskv1.TaskStatus_TASK_STATUS_FAILED, taskv1.TaskStatus_TASK_STATUS_DEAD:
				final[id] = r.GetTask()
			default:
				open[id] = r.GetTask().GetStatus().String()
			}
		}
		if len(open) == 0 || time.Now().After(deadline) {
			o := outcome{open: open}
			for _, tk := range final {
				switch tk.GetStatus() {
				case taskv1.TaskStatus_TASK_STATUS_SUCCEEDED:
					o.succeeded++
					if tk.GetAttempts() <= 1 {
						o.once++
					} else {
						o.retried++
					}
				case taskv1.TaskStatus_TASK_STATUS_FAILED:
					o.failed++
				case taskv1.TaskStatus_TASK_STATUS_DEAD:
					o.dead++
				}
			}
			return o
		}
		time.Sleep(500 * time.Millisecond)
	}
}
