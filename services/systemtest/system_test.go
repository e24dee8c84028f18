package systemtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/internal/faultproxy"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/local/localrun"
	"github.com/conveyor-dev/conveyor/services/local/provision"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

var bins map[string]string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	// One moto for the package (each test still has its own table and
	// queues), unless .ci/run already shares one: six at once would crowd
	// two cores. Without moto_server, motoserver.Start skips or fails each
	// test.
	if os.Getenv(motoserver.EnvURL) == "" {
		if bin, err := exec.LookPath("moto_server"); err == nil {
			moto, err := motoserver.Launch(context.Background(), bin)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer moto.Stop()
			os.Setenv(motoserver.EnvURL, moto.URL)
			defer os.Unsetenv(motoserver.EnvURL)
		}
	}
	dir, err := os.MkdirTemp("", "conveyor-systemtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins, err = localrun.Build(context.Background(), dir, "api", "worker", "dlq")
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the service binaries:", err)
		return 1
	}
	return m.Run()
}

// system is one test's own table and queues on moto, and the processes
// started against them.
type system struct {
	t     *testing.T
	cfg   aws.Config
	world provision.World
	env   []string
	store *taskstore.Store
	queue *queue.Queue
	proxy *faultproxy.Proxy // every service and the test reach moto through it
}

func newSystem(t *testing.T, o provision.Options) *system {
	t.Helper()
	if testing.Short() {
		t.Skip("runs service processes against moto (skipped with -short)")
	}
	t.Parallel()
	moto := motoserver.Start(t)
	ctx := context.Background()
	proxy, err := faultproxy.Start(moto.URL, uint64(time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	cfg, err := proxy.Config(ctx, motoserver.Region)
	if err != nil {
		t.Fatal(err)
	}
	w, err := provision.Create(ctx, cfg, provision.UniqueName(t.Name()), o)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range moto.Env() {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") {
			kv = "AWS_ENDPOINT_URL=" + proxy.URL()
		}
		env = append(env, kv)
	}
	return &system{
		t: t, cfg: cfg, world: w, proxy: proxy,
		env:   append(env, w.Env()...),
		store: taskstore.New(dynamodb.NewFromConfig(cfg), w.Table),
		queue: queue.New(sqs.NewFromConfig(cfg), w.QueueURL),
	}
}

// start runs a service binary with the system's environment plus env and
// waits for its ready line; the process is stopped when the test ends and
// its output shown if the test failed.
func (s *system) start(name, ready string, env ...string) *localrun.Proc {
	s.t.Helper()
	p, err := localrun.Start(name, bins[name], append(append([]string{}, s.env...), env...), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		p.Stop(30 * time.Second)
		if s.t.Failed() {
			s.t.Logf("%s (pid %d) output:\n%s", name, p.Pid(), p.Logs())
		}
	})
	if _, err := p.WaitLog(30*time.Second, ready); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// api starts an api process and returns it with a client.
func (s *system) api(env ...string) (*localrun.Proc, *grpc.ClientConn) {
	s.t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		s.t.Fatal(err)
	}
	// No drain window unless a test asks: stopping at cleanup stays quick.
	p := s.start("api", `"msg":"serving"`, append([]string{"CONVEYOR_LISTEN=" + addr, "CONVEYOR_DRAIN_WINDOW=0s"}, env...)...)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	return p, conn
}

// fastWorker is worker tuning that keeps the tests short.
var fastWorker = []string{"CONVEYOR_WAIT_TIME=1s", "CONVEYOR_RETRY_DELAY=0s", "CONVEYOR_DELETE_FLUSH=50ms"}

func (s *system) worker(env ...string) *localrun.Proc {
	return s.start("worker", "worker started", append(append([]string{}, fastWorker...), env...)...)
}

// waitStatus polls GetTask until the task has the status.
func waitStatus(t *testing.T, c taskv1.TaskServiceClient, id string, want taskv1.TaskStatus, timeout time.Duration) *taskv1.Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *taskv1.Task
	for time.Now().Before(deadline) {
		resp, err := c.GetTask(context.Background(), &taskv1.GetTaskRequest{TaskId: id})
		if err != nil {
			t.Fatalf("GetTask %s: %v", id, err)
		}
		last = resp.Task
		if last.Status == want {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("task %s is %v after %s, want %s", id, last, timeout, want)
	return nil
}

func (s *system) waitQueueEmpty(url string, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, inflight, err := provision.Depth(context.Background(), s.cfg, url)
		if err != nil {
			s.t.Fatal(err)
		}
		if v+inflight == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("queue %s still holds %d visible and %d in-flight messages after %s", url, v, inflight, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func submit(t *testing.T, c taskv1.TaskServiceClient, key, typ, payload string) *taskv1.Task {
	t.Helper()
	resp, err := c.SubmitTask(context.Background(), &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: typ, Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("submit %s %s: %v", typ, key, err)
	}
	return resp.Task
}

func TestSubmittedTasksAreProcessedToSucceeded(t *testing.T) {
	s := newSystem(t, provision.Options{})
	_, conn := s.api()
	s.worker()
	c := taskv1.NewTaskServiceClient(conn)

	echo := submit(t, c, "succeed-echo-1", "echo", "hello")
	hash := submit(t, c, "succeed-hash-1", "hash", "1000:abc")
	got := waitStatus(t, c, echo.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 30*time.Second)
	if string(got.Result) != "hello" || got.Attempts != 1 {
		t.Errorf("echo task = %v, want result hello after 1 attempt", got)
	}
	got = waitStatus(t, c, hash.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 30*time.Second)
	if len(got.Result) != 64 {
		t.Errorf("hash task result %q, want a hex sha256", got.Result)
	}
	s.waitQueueEmpty(s.world.QueueURL, 10*time.Second)
}

func TestDuplicateSubmitIsOneTaskAndOneMessage(t *testing.T) {
	s := newSystem(t, provision.Options{})
	_, conn := s.api()
	c := taskv1.NewTaskServiceClient(conn)
	a := submit(t, c, "dup-key-0001", "echo", "x")
	b := submit(t, c, "dup-key-0001", "echo", "x")
	if a.TaskId != b.TaskId {
		t.Fatalf("two tasks %s and %s for one key", a.TaskId, b.TaskId)
	}
	v, inflight, err := provision.Depth(context.Background(), s.cfg, s.world.QueueURL)
	if err != nil {
		t.Fatal(err)
	}
	if v+inflight != 1 {
		t.Errorf("queue holds %d messages after a duplicate submit, want 1", v+inflight)
	}
	// Now a worker runs it exactly once.
	w := s.worker()
	waitStatus(t, c, a.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 30*time.Second)
	s.waitQueueEmpty(s.world.QueueURL, 10*time.Second)
	if n := strings.Count(w.Logs(), `"msg":"task succeeded"`); n != 1 {
		t.Errorf("worker ran %d tasks, want 1", n)
	}
}

func TestFailTaskReachesTheDLQAndIsMarkedDead(t *testing.T) {
	s := newSystem(t, provision.Options{MaxReceiveCount: 2})
	_, conn := s.api()
	s.worker()
	s.start("dlq", "dlq drainer started", "CONVEYOR_WAIT_TIME=1s")
	c := taskv1.NewTaskServiceClient(conn)

	// maxReceiveCount 2 and 3 failures allowed: the message reaches the
	// DLQ after two failed runs, the dlq service re-drives it (failures
	// below the limit), and the third failure makes it DEAD.
	task := submit(t, c, "poison-0001", "fail", "bad input")
	dead := waitStatus(t, c, task.TaskId, taskv1.TaskStatus_TASK_STATUS_DEAD, 60*time.Second)
	if !strings.Contains(dead.Error, "failing on purpose: bad input") {
		t.Errorf("dead task error %q, want the worker's last error", dead.Error)
	}
	if dead.FailedRuns != 3 || dead.Attempts != 3 || !dead.Final {
		t.Errorf("dead task: %d failed runs of %d, final=%v; want 3 of 3, final", dead.FailedRuns, dead.Attempts, dead.Final)
	}
	s.waitQueueEmpty(s.world.QueueURL, 10*time.Second)
	s.waitQueueEmpty(s.world.DLQURL, 10*time.Second)
}

func TestWorkerSIGTERMFinishesTheRunningTaskAndHandsBackTheRest(t *testing.T) {
	// A 30 s visibility timeout: if the unstarted messages were not handed
	// back, the second worker could not see them within the test's waits.
	s := newSystem(t, provision.Options{VisibilityTimeout: 30 * time.Second})
	_, conn := s.api()
	c := taskv1.NewTaskServiceClient(conn)
	sleeper := submit(t, c, "drain-sleep-0", "sleep", "3s")
	var echoes []string
	for i := range 4 {
		echoes = append(echoes, submit(t, c, fmt.Sprintf("drain-echo-%d", i), "echo", "e").TaskId)
	}

	first := s.worker("CONVEYOR_CONCURRENCY=1", "CONVEYOR_STOP_BUDGET=20s", "CONVEYOR_VISIBILITY_TIMEOUT=30s")
	if _, err := first.WaitLog(20*time.Second, `"msg":"task started"`, sleeper.TaskId); err != nil {
		t.Fatal(err)
	}
	if err := first.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := first.Wait(30 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("worker after SIGTERM: exit %d, %v; want exit 0", code, err)
	}
	// With one slot, the first worker never took more than the task it
	// ran: the four echoes waited on the queue, visible, for the next.
	if v, inflight, err := provision.Depth(context.Background(), s.cfg, s.world.QueueURL); err != nil || v != 4 || inflight != 0 {
		t.Errorf("after the first worker exited: %d visible, %d in flight (%v); want the 4 echoes visible", v, inflight, err)
	}
	got := waitStatus(t, c, sleeper.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, time.Second)
	if got.Attempts != 1 {
		t.Errorf("sleep task attempts %d, want 1: it finished in the first worker", got.Attempts)
	}

	second := s.worker()
	for _, id := range echoes {
		waitStatus(t, c, id, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 20*time.Second)
	}
	s.waitQueueEmpty(s.world.QueueURL, 10*time.Second)
	ran := strings.Count(first.Logs(), `"msg":"task succeeded"`) + strings.Count(second.Logs(), `"msg":"task succeeded"`)
	if ran != 5 {
		t.Errorf("the workers ran %d tasks to success, want 5 (each once)", ran)
	}
}

func TestAPISIGTERMDuringSubmitsLosesNothing(t *testing.T) {
	s := newSystem(t, provision.Options{})
	api, conn := s.api("CONVEYOR_DRAIN_WINDOW=2s", "CONVEYOR_STOP_TIMEOUT=5s")
	c := taskv1.NewTaskServiceClient(conn)
	h := healthpb.NewHealthClient(conn)

	var (
		mu          sync.Mutex
		accepted    = map[string]time.Time{} // task id -> when the submit returned OK
		firstFail   time.Time
		notServing  time.Time
		healthCodes []codes.Code
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := c.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: fmt.Sprintf("stream-%d-%05d", g, i), Type: "echo", Payload: []byte("p")})
				cancel()
				now := time.Now()
				mu.Lock()
				if err == nil {
					accepted[resp.Task.TaskId] = now
				} else if firstFail.IsZero() {
					firstFail = now
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := h.Check(ctx, &healthpb.HealthCheckRequest{})
			cancel()
			mu.Lock()
			code := status.Code(err)
			healthCodes = append(healthCodes, code)
			if code == codes.Unavailable && notServing.IsZero() {
				notServing = time.Now()
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})

	time.Sleep(time.Second)
	sigterm := time.Now()
	if err := api.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := api.Wait(20 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("api after SIGTERM: exit %d, %v; want exit 0", code, err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	if notServing.IsZero() {
		t.Fatalf("health never answered a non-OK code after SIGTERM; codes seen: %v", healthCodes)
	}
	if !firstFail.IsZero() && !notServing.Before(firstFail) {
		t.Errorf("the first submit failed at %s, before health turned NOT_SERVING at %s", firstFail.Sub(sigterm), notServing.Sub(sigterm))
	}
	if !strings.Contains(api.Logs(), "health is NOT_SERVING") {
		t.Errorf("api did not log the NOT_SERVING step")
	}
	servedWhileDraining := 0
	for _, at := range accepted {
		if at.After(notServing) {
			servedWhileDraining++
		}
	}
	if servedWhileDraining == 0 {
		t.Errorf("no submit succeeded during the drain window; the api stopped serving with health")
	}

	// Every accepted submit is in the table and has exactly one message.
	ctx := context.Background()
	onQueue := map[string]int{}
	for {
		msgs, err := s.queue.Receive(ctx, 10, 0, 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			onQueue[m.Body.TaskID]++
		}
	}
	lost := 0
	for id := range accepted {
		if _, err := s.store.Get(ctx, id); err != nil {
			t.Errorf("accepted task %s: %v", id, err)
		}
		if onQueue[id] == 0 {
			lost++
			t.Errorf("accepted task %s has no message on the queue", id)
		}
	}
	t.Logf("%d submits accepted (%d during the drain window), %d messages on the queue, lost %d", len(accepted), servedWhileDraining, len(onQueue), lost)
}

// A task longer than the visibility timeout stays with its worker because
// the heartbeat renews the visibility; a second worker never gets it.
func TestHeartbeatKeepsALongTaskFromASecondWorker(t *testing.T) {
	s := newSystem(t, provision.Options{})
	_, conn := s.api()
	// 3 s, not 2 s: a run that cannot renew its lease for three quarters
	// of it stops itself (TestARunThatCannotRenewItsLeaseStopsAndRecordsNothing),
	// and on a loaded machine a renewal can take half a second.
	tuning := []string{"CONVEYOR_VISIBILITY_TIMEOUT=3s", "CONVEYOR_HEARTBEAT=1s"}
	a, b := s.worker(tuning...), s.worker(tuning...)
	c := taskv1.NewTaskServiceClient(conn)
	task := submit(t, c, "long-sleep-0001", "sleep", "7s")
	got := waitStatus(t, c, task.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 30*time.Second)
	starts := strings.Count(a.Logs(), `"msg":"task started"`) + strings.Count(b.Logs(), `"msg":"task started"`)
	if starts != 1 || got.Attempts != 1 {
		t.Errorf("a 7 s task under a 3 s visibility timeout started %d times (attempts %d), want once", starts, got.Attempts)
	}
}

// A task that outlives the stop budget is interrupted, its message handed
// back, and the worker still exits 0; the next worker runs it again.
func TestWorkerStopBudgetHandsBackATaskThatRunsTooLong(t *testing.T) {
	s := newSystem(t, provision.Options{VisibilityTimeout: 30 * time.Second})
	_, conn := s.api()
	c := taskv1.NewTaskServiceClient(conn)
	task := submit(t, c, "overlong-sleep-0", "sleep", "8s")

	first := s.worker("CONVEYOR_STOP_BUDGET=1s", "CONVEYOR_TASK_TIMEOUT=1m")
	if _, err := first.WaitLog(20*time.Second, `"msg":"task started"`, task.TaskId); err != nil {
		t.Fatal(err)
	}
	if err := first.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := first.Wait(15 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("worker after SIGTERM: exit %d, %v; want exit 0", code, err)
	}
	if !strings.Contains(first.Logs(), "task interrupted by shutdown") {
		t.Errorf("the first worker did not report the interrupted task")
	}
	s.worker()
	got := waitStatus(t, c, task.TaskId, taskv1.TaskStatus_TASK_STATUS_SUCCEEDED, 25*time.Second)
	if got.Attempts != 2 {
		t.Errorf("attempts %d, want 2: interrupted once, then run to the end", got.Attempts)
	}
}
