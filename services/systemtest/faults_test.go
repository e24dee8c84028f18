package systemtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/faultproxy"
	"github.com/conveyor-dev/conveyor/services/local/provision"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// Issue 12 item 1: eight concurrent submits of a key and a worker with
// eight slots ran the task eight times at once. Now each task runs once.
func TestConcurrentSubmitsOfOneKeyRunOnce(t *testing.T) {
	s := newSystem(t, provision.Options{})
	_, conn := s.api()
	w := s.worker("CONVEYOR_CONCURRENCY=8")
	c := taskv1.NewTaskServiceClient(conn)
	const keys, callers = 6, 8
	ids := make([]string, keys)
	var wg sync.WaitGroup
	for k := range keys {
		for range callers {
			wg.Go(func() {
				resp, err := c.SubmitTask(context.Background(), &taskv1.SubmitTaskRequest{IdempotencyKey: fmt.Sprintf("same-key-%04d", k), Type: "sleep", Payload: []byte("300ms")})
				if err != nil {
					t.Errorf("submit: %v", err)
					return
				}
				ids[k] = resp.Task.TaskId
			})
		}
	}
	wg.Wait()
	for _, id := range ids {
		waitStatus(t, c, id, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 30*time.Second)
	}
	s.waitQueueEmpty(s.world.QueueURL, 10*time.Second)
	runs := parseRuns("worker", w.Logs(), time.Time{})
	perTask := map[string]int{}
	for _, r := range runs {
		perTask[r.task]++
	}
	for _, id := range ids {
		if perTask[id] != 1 {
			t.Errorf("task %s ran %d times, want 1", id, perTask[id])
		}
	}
}

// Issue 12 item 2: with DynamoDB unreachable, every delivery failed before
// the task started, the message reached the DLQ and the task was buried
// DEAD without ever failing. Now the dlq service re-drives it and it runs
// once the store is back.
func TestAStoreOutageDoesNotKillATask(t *testing.T) {
	s := newSystem(t, provision.Options{MaxReceiveCount: 2, VisibilityTimeout: 2 * time.Second})
	_, conn := s.api()
	c := taskv1.NewTaskServiceClient(conn)
	task := submit(t, c, "outage-0001", "echo", "survives")

	s.proxy.SetPlan(faultproxy.Plan{Outage: true, Services: []string{"dynamodb"}})
	w := s.worker("CONVEYOR_VISIBILITY_TIMEOUT=2s", "CONVEYOR_HEARTBEAT=1s")
	s.start("dlq", "dlq drainer started", "CONVEYOR_WAIT_TIME=1s", "CONVEYOR_VISIBILITY_TIMEOUT=2s")
	// Enough failed deliveries to push the message to the DLQ and make
	// the dlq service try (and fail) to read the task.
	if _, err := w.WaitLog(30*time.Second, "could not start the task"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	s.proxy.SetPlan(faultproxy.Plan{})
	got := waitStatus(t, c, task.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 60*time.Second)
	if got.FailedRuns != 0 || string(got.Result) != "survives" {
		t.Errorf("task after the outage = %v, want SUCCEEDED with no failed runs", got)
	}
	t.Logf("faults injected: %v", s.proxy.Counts())
}

// Issue 12 item 4: a run whose lease cannot be renewed stops before the
// lease lapses and records nothing; the next run starts only after it
// ended.
func TestARunThatCannotRenewItsLeaseStopsAndRecordsNothing(t *testing.T) {
	s := newSystem(t, provision.Options{VisibilityTimeout: 2 * time.Second})
	_, conn := s.api()
	c := taskv1.NewTaskServiceClient(conn)
	tuning := []string{"CONVEYOR_VISIBILITY_TIMEOUT=2s", "CONVEYOR_HEARTBEAT=1s"}
	a := s.worker(tuning...)
	task := submit(t, c, "lease-lapse-0001", "sleep", "5s")
	if _, err := a.WaitLog(20*time.Second, `"msg":"task started"`, task.TaskId); err != nil {
		t.Fatal(err)
	}
	b := s.worker(tuning...)
	// The failed starts during the outage push the message to the DLQ;
	// the dlq service re-drives it.
	s.start("dlq", "dlq drainer started", "CONVEYOR_WAIT_TIME=1s", "CONVEYOR_VISIBILITY_TIMEOUT=2s")
	s.proxy.SetPlan(faultproxy.Plan{Outage: true, Services: []string{"dynamodb"}})
	if _, err := a.WaitLog(10*time.Second, "lost its lease"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	s.proxy.SetPlan(faultproxy.Plan{})
	got := waitStatus(t, c, task.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 60*time.Second)
	runs := append(parseRuns("a", a.Logs(), time.Time{}), parseRuns("b", b.Logs(), time.Time{})...)
	if o := overlaps(runs); len(o) > 0 {
		t.Errorf("runs overlapped:\n%s", strings.Join(o, "\n"))
	}
	if len(runs) < 2 || got.Attempts < 2 {
		t.Errorf("%d runs logged, attempts %d; want the fenced run and a later one", len(runs), got.Attempts)
	}
	if strings.Contains(a.Logs(), `"msg":"task succeeded","service":"worker"`) && strings.Count(a.Logs()+b.Logs(), `"msg":"task succeeded"`) != 1 {
		t.Errorf("the task was recorded as succeeded more than once")
	}
}

// Issue 12 item 3: a task left ACCEPTED (the api died between PutItem and
// SendMessage) was never queued unless the client retried. The dlq
// service finds it on the pending index once its claim lapsed and queues
// it.
func TestATaskStrandedInAcceptedIsQueuedWithoutTheClient(t *testing.T) {
	s := newSystem(t, provision.Options{})
	_, conn := s.api()
	c := taskv1.NewTaskServiceClient(conn)
	stranded, _, err := s.store.Create(context.Background(), "stranded-0001", "echo", []byte("found"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.worker()
	dlq := s.start("dlq", "dlq drainer started", "CONVEYOR_WAIT_TIME=1s", "CONVEYOR_RECOVERY_INTERVAL=300ms")
	got := waitStatus(t, c, stranded.ID, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 30*time.Second)
	if string(got.Result) != "found" || got.Attempts != 1 {
		t.Errorf("recovered task = %v, want SUCCEEDED after one run", got)
	}
	if n := strings.Count(dlq.Logs(), "recovery: queued a task stranded"); n != 1 {
		t.Errorf("dlq queued the stranded task %d times, want 1", n)
	}
}

// Issue 12 item 2, the deploy case: every SIGTERM that cuts a long task
// counts a delivery; more cuts than maxReceiveCount used to bury a task
// that never failed. Now it is re-driven and finishes.
func TestStopBudgetCutsDoNotKillATask(t *testing.T) {
	s := newSystem(t, provision.Options{MaxReceiveCount: 2, VisibilityTimeout: 4 * time.Second})
	_, conn := s.api()
	c := taskv1.NewTaskServiceClient(conn)
	s.start("dlq", "dlq drainer started", "CONVEYOR_WAIT_TIME=1s", "CONVEYOR_VISIBILITY_TIMEOUT=4s")
	task := submit(t, c, "long-deploys-0001", "sleep", "4s")
	for cut := 1; cut <= 3; cut++ {
		w := s.worker("CONVEYOR_STOP_BUDGET=200ms", "CONVEYOR_TASK_TIMEOUT=1m", "CONVEYOR_VISIBILITY_TIMEOUT=4s", "CONVEYOR_HEARTBEAT=1s")
		if _, err := w.WaitLog(30*time.Second, `"msg":"task started"`, task.TaskId); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if err := w.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code, err := w.Wait(15 * time.Second); err != nil || code != 0 {
			t.Fatalf("cut %d: worker exit %d, %v", cut, code, err)
		}
		if !strings.Contains(w.Logs(), "task interrupted by shutdown") {
			t.Fatalf("cut %d: the worker did not interrupt the task", cut)
		}
	}
	s.worker("CONVEYOR_VISIBILITY_TIMEOUT=4s", "CONVEYOR_HEARTBEAT=1s")
	got := waitStatus(t, c, task.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 60*time.Second)
	if got.FailedRuns != 0 || got.Attempts != 4 {
		t.Errorf("task = %v, want SUCCEEDED on its 4th run with no failed runs", got)
	}
}
