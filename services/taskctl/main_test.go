package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/services/api/taskservice"
	"github.com/conveyor-dev/conveyor/services/internal/servicetest"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
)

func taskctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrorsExitWith64(t *testing.T) {
	for _, args := range [][]string{{}, {"launch"}, {"--addr", "127.0.0.1:1", "submit"}} {
		if code, _, _ := taskctl(t, args...); code != exitUsage {
			t.Errorf("taskctl %v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestSubmitGetAndWatchAgainstTheAPI(t *testing.T) {
	st := servicetest.New(t)
	store := st.Store
	ctx := context.Background()
	gs, _ := taskservice.NewGRPCServer(taskservice.New(store, st.Queue, tasktype.Builtin(), slog.New(slog.NewJSONHandler(io.Discard, nil))))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	defer gs.Stop()
	addr := lis.Addr().String()

	code, out, errOut := taskctl(t, "--addr", addr, "--json", "submit", "--type", "echo", "--payload", "hi", "--key", "ctl-key-0001")
	if code != exitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	var resp struct {
		Task struct {
			TaskID string `json:"taskId"`
			Status string `json:"status"`
		} `json:"task"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Task.Status != "TASK_STATUS_QUEUED" {
		t.Fatalf("submit --json printed %q (%v), want a QUEUED task", out, err)
	}
	id := resp.Task.TaskID

	code, out, _ = taskctl(t, "--addr", addr, "submit", "--type", "echo", "--payload", "hi", "--key", "ctl-key-0001")
	if code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "deduplicated") {
		t.Errorf("second submit: exit %d, %q; want %s marked deduplicated", code, out, id)
	}
	code, _, errOut = taskctl(t, "--addr", addr, "submit", "--type", "echo", "--payload", "other", "--key", "ctl-key-0001")
	if code != exitError || !strings.Contains(errOut, "AlreadyExists") {
		t.Errorf("conflicting submit: exit %d, %q; want exit 1 with AlreadyExists", code, errOut)
	}
	code, _, errOut = taskctl(t, "--addr", addr, "submit", "--type", "sleep", "--payload", "soon")
	if code != exitError || !strings.Contains(errOut, "not a duration") {
		t.Errorf("bad payload: exit %d, %q; want the InvalidArgument message", code, errOut)
	}

	// Play the worker and the dlq: one task succeeds, another dies.
	if _, err := store.Start(ctx, id, "test-worker", time.Minute, 3); err != nil {
		t.Fatal(err)
	}
	if err := store.Succeed(ctx, id, "test-worker", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = taskctl(t, "--addr", addr, "get", id)
	if code != exitOK || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, `result="hi"`) {
		t.Errorf("get: exit %d, %q", code, out)
	}
	dead, _, _ := store.Create(ctx, "ctl-key-0002", "fail", nil, time.Second)
	if _, err := store.Start(ctx, dead.ID, "test-worker", time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Fail(ctx, dead.ID, "test-worker", "gave up"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.MarkDead(ctx, dead.ID, 1); err != nil {
		t.Fatal(err)
	}
	code, out, _ = taskctl(t, "--addr", addr, "watch", id, dead.ID)
	if code != exitDead || !strings.Contains(out, "DEAD") || !strings.Contains(out, `error="gave up"`) {
		t.Errorf("watch: exit %d, %q; want exit %d with the DEAD task's error", code, out, exitDead)
	}
}
