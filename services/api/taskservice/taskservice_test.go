package taskservice_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/conveyor-dev/conveyor/services/api/taskservice"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/servicetest"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

type rig struct {
	client taskv1.TaskServiceClient
	conn   *grpc.ClientConn
	health healthpb.HealthClient
	store  *taskstore.Store
	queue  *queue.Queue
	stack  servicetest.Stack
	logs   *syncBuffer
}

// syncBuffer collects the server's log for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start serves a TaskService on loopback. With moto false the store and
// queue are nil: enough for calls that fail validation first.
func start(t *testing.T, moto bool) rig {
	t.Helper()
	r := rig{logs: &syncBuffer{}}
	if moto {
		r.stack = servicetest.New(t)
		r.store, r.queue = r.stack.Store, r.stack.Queue
	}
	log := slog.New(slog.NewJSONHandler(r.logs, nil))
	gs, _ := taskservice.NewGRPCServer(taskservice.New(r.store, r.queue, tasktype.Builtin(), log))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.conn = conn
	r.client = taskv1.NewTaskServiceClient(conn)
	r.health = healthpb.NewHealthClient(conn)
	return r
}

func TestSubmitRejectsBadInputWithInvalidArgument(t *testing.T) {
	r := start(t, false)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  *taskv1.SubmitTaskRequest
		want string
		code codes.Code
	}{
		{"short key", &taskv1.SubmitTaskRequest{IdempotencyKey: "abc", Type: "echo"}, "idempotency_key \"abc\" must be 8-128", codes.InvalidArgument},
		{"bad key characters", &taskv1.SubmitTaskRequest{IdempotencyKey: "order 0001/x", Type: "echo"}, "[A-Za-z0-9._:-]", codes.InvalidArgument},
		{"long key", &taskv1.SubmitTaskRequest{IdempotencyKey: strings.Repeat("k", 129), Type: "echo"}, "must be 8-128", codes.InvalidArgument},
		{"unknown type", &taskv1.SubmitTaskRequest{IdempotencyKey: "order-0001", Type: "print"}, "unknown task type \"print\": known types are echo, fail, hash, sleep", codes.InvalidArgument},
		{"bad sleep payload", &taskv1.SubmitTaskRequest{IdempotencyKey: "order-0001", Type: "sleep", Payload: []byte("soon")}, "payload: sleep payload", codes.InvalidArgument},
		{"payload over 64 KiB", &taskv1.SubmitTaskRequest{IdempotencyKey: "order-0001", Type: "echo", Payload: make([]byte, 64<<10+1)}, "more than the 65536-byte limit", codes.InvalidArgument},
		{"request over the receive bound", &taskv1.SubmitTaskRequest{IdempotencyKey: "order-0001", Type: "echo", Payload: make([]byte, 200<<10)}, "larger than max", codes.ResourceExhausted},
		{"every problem at once", &taskv1.SubmitTaskRequest{IdempotencyKey: "k", Type: "nope"}, "idempotency_key \"k\" must be 8-128 characters of [A-Za-z0-9._:-]; type: unknown task type", codes.InvalidArgument},
	} {
		_, err := r.client.SubmitTask(ctx, tc.req)
		if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.want) {
			t.Errorf("%s: SubmitTask = %v, want %s containing %q", tc.name, err, tc.code, tc.want)
		}
	}
	_, err := r.client.GetTask(ctx, &taskv1.GetTaskRequest{TaskId: "42"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetTask(42) = %v, want InvalidArgument", err)
	}
}

func TestHealthNotServingAnswersWithUnavailable(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	gs, hs := taskservice.NewGRPCServer(taskservice.New(nil, nil, tasktype.Builtin(), log))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := healthpb.NewHealthClient(conn)
	ctx := context.Background()
	for _, svc := range []string{"", taskservice.HealthService} {
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check(%q) while serving = %v, %v", svc, resp, err)
		}
	}
	hs.Shutdown()
	for _, svc := range []string{"", taskservice.HealthService} {
		_, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("Check(%q) after Shutdown = %v, want code Unavailable (the ALB reads only the code)", svc, err)
		}
	}
	if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"}); status.Code(err) != codes.NotFound {
		t.Errorf("Check(unknown) = %v, want NotFound", err)
	}
}

func TestSubmitThenGetShowsTheQueuedTask(t *testing.T) {
	r := start(t, true)
	ctx := context.Background()
	resp, err := r.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: "order-1001", Type: "echo", Payload: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Deduplicated || resp.Task.Status != taskv1.TaskStatus_TASK_STATUS_QUEUED || resp.Task.TaskId != taskstore.TaskID("order-1001") {
		t.Fatalf("SubmitTask = %v, want a new QUEUED task", resp)
	}
	got, err := r.client.GetTask(ctx, &taskv1.GetTaskRequest{TaskId: resp.Task.TaskId})
	if err != nil {
		t.Fatal(err)
	}
	if got.Task.Status != taskv1.TaskStatus_TASK_STATUS_QUEUED || string(got.Task.Payload) != "hello" || got.Task.CreatedAt == nil {
		t.Errorf("GetTask = %v", got)
	}
	_, err = r.client.GetTask(ctx, &taskv1.GetTaskRequest{TaskId: taskstore.TaskID("never-submitted")})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetTask of an unknown task = %v, want NotFound", err)
	}
}

func TestDuplicateSubmitIsOneTaskAndOneMessage(t *testing.T) {
	r := start(t, true)
	ctx := context.Background()
	req := &taskv1.SubmitTaskRequest{IdempotencyKey: "order-2001", Type: "echo", Payload: []byte("once")}
	first, err := r.client.SubmitTask(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.client.SubmitTask(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Deduplicated || second.Task.TaskId != first.Task.TaskId {
		t.Errorf("second SubmitTask = %v, want the first task, deduplicated", second)
	}
	if n := drain(t, r.queue); n != 1 {
		t.Errorf("queue holds %d messages after a duplicate submit, want 1", n)
	}

	_, err = r.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: "order-2001", Type: "echo", Payload: []byte("twice")})
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), first.Task.TaskId) {
		t.Errorf("same key, different payload = %v, want AlreadyExists naming %s", err, first.Task.TaskId)
	}
}

// A crash between PutItem and SendMessage leaves the task ACCEPTED with no
// message; the client's retry must enqueue it.
func TestRetriedSubmitReenqueuesAStrandedTask(t *testing.T) {
	r := start(t, true)
	ctx := context.Background()
	stranded, _, err := r.store.Create(ctx, "order-3001", "echo", []byte("lost?"), 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the creator's claim lapses
	resp, err := r.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: "order-3001", Type: "echo", Payload: []byte("lost?")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Task.TaskId != stranded.ID || resp.Task.Status != taskv1.TaskStatus_TASK_STATUS_QUEUED || !resp.Deduplicated {
		t.Errorf("retried SubmitTask = %v, want task %s QUEUED", resp, stranded.ID)
	}
	if n := drain(t, r.queue); n != 1 {
		t.Errorf("queue holds %d messages, want the stranded task's 1", n)
	}
}

// drain receives and deletes everything on q and counts it.
func drain(t *testing.T, q *queue.Queue) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for {
		msgs, err := q.Receive(ctx, 10, time.Second, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return n
		}
		var rh []string
		for _, m := range msgs {
			rh = append(rh, m.ReceiptHandle)
		}
		if err := q.Delete(ctx, rh); err != nil {
			t.Fatal(err)
		}
		n += len(msgs)
	}
}
