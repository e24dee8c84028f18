package taskservice_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/conveyor-dev/conveyor/services/internal/faultproxy"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// Issue 12 item 1: eight concurrent submits of one key left eight messages
// (10 of 10 keys). Now: all succeed, one creates, one message per key.
func TestConcurrentSubmitsOfOneKeySendOneMessage(t *testing.T) {
	r := start(t, true)
	const keys, callers = 5, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[string]int{}
	for k := range keys {
		key := fmt.Sprintf("concurrent-%04d", k)
		for range callers {
			wg.Go(func() {
				resp, err := r.client.SubmitTask(context.Background(), &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: "echo", Payload: []byte("x")})
				if err != nil {
					t.Errorf("submit %s: %v", key, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if !resp.Deduplicated {
					created[key]++
				}
			})
		}
	}
	wg.Wait()
	for k := range keys {
		key := fmt.Sprintf("concurrent-%04d", k)
		if created[key] != 1 {
			t.Errorf("key %s: %d calls created the task, want 1", key, created[key])
		}
	}
	if n := drain(t, r.queue); n != keys {
		t.Errorf("queue holds %d messages for %d keys submitted %d times each, want %d", n, keys, callers, keys)
	}
}

// A repeat while the first call may still be between PutItem and
// SendMessage must not send a second message: it waits for the claimant
// (here one that never finishes) as long as its own bound, then returns the
// task ACCEPTED.
func TestRepeatDuringTheFirstSubmitDoesNotSendTwice(t *testing.T) {
	r := start(t, true)
	ctx := context.Background()
	inFlight, _, err := r.store.Create(ctx, "order-4001", "echo", []byte("x"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: "order-4001", Type: "echo", Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Deduplicated || resp.Task.TaskId != inFlight.ID || resp.Task.Status != taskv1.TaskStatus_TASK_STATUS_ACCEPTED {
		t.Errorf("repeat while the first call holds the claim = %v, want the ACCEPTED task, deduplicated", resp)
	}
	if n := drain(t, r.queue); n != 0 {
		t.Errorf("queue holds %d messages, want 0: the first call sends", n)
	}
}

func TestResubmittingADeadTaskSaysSo(t *testing.T) {
	r := start(t, true)
	ctx := context.Background()
	task, _, _ := r.store.Create(ctx, "order-5001", "fail", nil, 0)
	if _, err := r.store.Start(ctx, task.ID, "w/a", time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Fail(ctx, task.ID, "w/a", "fail task: failing on purpose"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.MarkDead(ctx, task.ID, 1); err != nil {
		t.Fatal(err)
	}
	_, err := r.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: "order-5001", Type: "fail"})
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(msg, task.ID) || !strings.Contains(msg, "new idempotency key") {
		t.Errorf("resubmitting a DEAD task's key = %v, want FailedPrecondition naming %s and how to retry", err, task.ID)
	}
	got, err := r.client.GetTask(ctx, &taskv1.GetTaskRequest{TaskId: task.ID})
	if err != nil || !got.Task.Final || got.Task.FailedRuns != 1 {
		t.Errorf("GetTask of the DEAD task = %v, %v; want final with 1 failed run", got, err)
	}
}

// rawCodec sends pre-encoded bytes, so a test can put invalid UTF-8 on the
// wire (the generated client refuses to encode it).
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) ([]byte, error) {
	return *(v.(*[]byte)), nil
}
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}

func TestInvalidUTF8IsInvalidArgument(t *testing.T) {
	r := start(t, false)
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
	}
	for _, tc := range []struct {
		name, method string
		req          []byte
		want         string
	}{
		{"key", "/conveyor.task.v1.TaskService/SubmitTask", append(str(1, "order-\xff\xfe01"), str(2, "echo")...), "idempotency_key is not valid UTF-8"},
		{"type", "/conveyor.task.v1.TaskService/SubmitTask", append(str(1, "order-0001"), str(2, "ec\xc3ho")...), "type is not valid UTF-8"},
		{"task id", "/conveyor.task.v1.TaskService/GetTask", str(1, "t-\xff"), "is not a task id"},
	} {
		var out []byte
		err := r.conn.Invoke(context.Background(), tc.method, &tc.req, &out, grpc.ForceCodec(rawCodec{}))
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want InvalidArgument containing %q", tc.name, err, tc.want)
		}
	}
}

// Issue 12 item 5: a missing table is permanent: INTERNAL, with a reference
// the log also has, and no table name, account id or request id.
func TestAMissingTableIsInternalWithoutInfrastructureNames(t *testing.T) {
	r := start(t, true)
	table := r.stack.World.Table
	if _, err := r.stack.Store.Get(context.Background(), "t-00000000000000000000000000000000"); err == nil {
		t.Fatal("expected NotFound from a fresh table")
	}
	deleteTable(t, r, table)
	_, err := r.client.SubmitTask(context.Background(), &taskv1.SubmitTaskRequest{IdempotencyKey: "order-6001", Type: "echo"})
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.Internal {
		t.Fatalf("submit with the table gone = %v, want Internal", err)
	}
	for _, leak := range []string{table, "123456789012", "arn:", "RequestID", "request id", "ResourceNotFound"} {
		if strings.Contains(msg, leak) {
			t.Errorf("client message %q leaks %q", msg, leak)
		}
	}
	ref := refIn(msg)
	if ref == "" || !strings.Contains(r.logs.String(), ref) || !strings.Contains(r.logs.String(), table) {
		t.Errorf("message %q: want a ref that the log also has, next to the full error", msg)
	}
}

// A store outage is transient: UNAVAILABLE, retry with the same key.
func TestAStoreOutageIsUnavailable(t *testing.T) {
	r := start(t, true)
	r.stack.Proxy.SetPlan(faultproxy.Plan{Outage: true, Services: []string{"dynamodb"}})
	_, err := r.client.SubmitTask(context.Background(), &taskv1.SubmitTaskRequest{IdempotencyKey: "order-7001", Type: "echo"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "same idempotency key") || strings.Contains(err.Error(), r.stack.World.Table) {
		t.Errorf("submit during a store outage = %v, want Unavailable without the table name (faults %v)", err, r.stack.Proxy.Counts())
	}
	r.stack.Proxy.SetPlan(faultproxy.Plan{})
	if _, err := r.client.SubmitTask(context.Background(), &taskv1.SubmitTaskRequest{IdempotencyKey: "order-7001", Type: "echo"}); err != nil {
		t.Errorf("retry after the outage: %v", err)
	}
}

func refIn(msg string) string {
	i := strings.Index(msg, "ref-")
	if i < 0 || len(msg) < i+16 {
		return ""
	}
	return msg[i : i+16]
}

func deleteTable(t *testing.T, r rig, table string) {
	t.Helper()
	db := dynamodb.NewFromConfig(r.stack.Cfg)
	if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
		t.Fatal(err)
	}
}

// Issue 12 item 6: an abandoned submit used to run on for up to 10 s. Now
// the api's backend calls end when the client's deadline does.
func TestAnAbandonedSubmitStopsWithItsClient(t *testing.T) {
	r := start(t, true)
	r.stack.Proxy.SetPlan(faultproxy.Plan{Rate: 1, Kinds: []faultproxy.Kind{faultproxy.Latency}, Latency: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: "order-8001", Type: "echo"})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("submit with a 50 ms deadline through 0-5 s of latency = %v, want DeadlineExceeded", err)
	}
	for !strings.Contains(r.logs.String(), `"idempotency_key":"order-8001"`) {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the api was still working on the abandoned submit after 2 s; log:\n%s", r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 12 item 1: a plain client retry after a 2-10 ms deadline left a
// duplicate message for 5 of 9 keys. Now every key ends with one message,
// and the retry returns the task queued: the abandoned call gave its claim
// up, or the retry waited for it.
func TestARetryAfterAShortDeadlineQueuesOnce(t *testing.T) {
	r := start(t, true)
	const keys = 9
	for k := range keys {
		req := &taskv1.SubmitTaskRequest{IdempotencyKey: fmt.Sprintf("short-deadline-%04d", k), Type: "echo", Payload: []byte("x")}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2+k)*time.Millisecond)
		_, _ = r.client.SubmitTask(ctx, req)
		cancel()
		resp, err := r.client.SubmitTask(context.Background(), req)
		if err != nil {
			t.Fatalf("retry of %s: %v", req.IdempotencyKey, err)
		}
		if resp.Task.Status != taskv1.TaskStatus_TASK_STATUS_QUEUED {
			t.Errorf("retry of %s = %v, want QUEUED", req.IdempotencyKey, resp.Task.Status)
		}
	}
	if n := drain(t, r.queue); n != keys {
		t.Errorf("queue holds %d messages for %d keys, want %d", n, keys, keys)
	}
}
