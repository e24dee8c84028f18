package taskstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/conveyor-dev/conveyor/services/internal/servicetest"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

func TestCreateIsIdempotentOnTheKey(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	first, created, err := s.Create(ctx, "order-0001", "echo", []byte("hi"))
	if err != nil || !created {
		t.Fatalf("first Create = %v, created=%v", err, created)
	}
	again, created, err := s.Create(ctx, "order-0001", "echo", []byte("hi"))
	if err != nil || created {
		t.Fatalf("second Create = %v, created=%v; want the existing task", err, created)
	}
	if again.ID != first.ID || again.Fingerprint != first.Fingerprint || again.Status != taskstore.Accepted || string(again.Payload) != "hi" {
		t.Errorf("second Create returned %+v, want the stored %+v", again, first)
	}
	other, created, err := s.Create(ctx, "order-0001", "echo", []byte("different"))
	if err != nil || created || other.Fingerprint == taskstore.Fingerprint("echo", []byte("different")) {
		t.Errorf("Create with a different request: created=%v err=%v fingerprint=%s; want the old task back for the caller to refuse", created, err, other.Fingerprint)
	}
}

func TestTransitionsAreConditionalAndIdempotent(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	task, _, err := s.Create(ctx, "order-0002", "echo", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	id := task.ID
	steps := []struct {
		name string
		do   func() error
		want taskstore.Status
	}{
		{"queued", func() error { return s.MarkQueued(ctx, id) }, taskstore.Queued},
		{"queued again", func() error { return s.MarkQueued(ctx, id) }, taskstore.Queued},
		{"running", func() error { return s.MarkRunning(ctx, id, 1) }, taskstore.Running},
		{"queued after running is a no-op", func() error { return s.MarkQueued(ctx, id) }, taskstore.Running},
		{"failed", func() error { return s.MarkFailed(ctx, id, "boom", 1) }, taskstore.Failed},
		{"running again", func() error { return s.MarkRunning(ctx, id, 2) }, taskstore.Running},
		{"succeeded", func() error { return s.MarkSucceeded(ctx, id, []byte("out")) }, taskstore.Succeeded},
		{"succeeded again", func() error { return s.MarkSucceeded(ctx, id, []byte("out")) }, taskstore.Succeeded},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != st.want {
			t.Fatalf("after %s: status %s, want %s", st.name, got.Status, st.want)
		}
	}
	var te *taskstore.TransitionError
	if err := s.MarkRunning(ctx, id, 3); !errors.As(err, &te) || te.Status != taskstore.Succeeded {
		t.Errorf("MarkRunning on a SUCCEEDED task = %v, want a TransitionError from SUCCEEDED", err)
	}
	if err := s.MarkFailed(ctx, id, "late", 3); !errors.As(err, &te) {
		t.Errorf("MarkFailed on a SUCCEEDED task = %v, want a TransitionError", err)
	}
	if _, err := s.MarkDead(ctx, id, 3, "dead"); !errors.As(err, &te) {
		t.Errorf("MarkDead on a SUCCEEDED task = %v, want a TransitionError", err)
	}
	got, _ := s.Get(ctx, id)
	if got.Status != taskstore.Succeeded || string(got.Result) != "out" || got.Attempts != 2 {
		t.Errorf("final task %+v, want SUCCEEDED with result out after 2 attempts", got)
	}
}

func TestMarkDeadKeepsTheLastError(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	task, _, _ := s.Create(ctx, "order-0003", "fail", nil)
	if err := s.MarkRunning(ctx, task.ID, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, task.ID, "fail task: failing on purpose", 1); err != nil {
		t.Fatal(err)
	}
	dead, err := s.MarkDead(ctx, task.ID, 4, "moved to the dead-letter queue")
	if err != nil {
		t.Fatal(err)
	}
	if dead.Status != taskstore.Dead || dead.Error != "fail task: failing on purpose" || dead.Attempts != 4 {
		t.Errorf("MarkDead = %+v, want DEAD with the worker's error and 4 attempts", dead)
	}
	if _, err := s.MarkDead(ctx, task.ID, 4, "x"); err != nil {
		t.Errorf("MarkDead again = %v, want a no-op", err)
	}
	if _, err := s.MarkDead(ctx, "t-missing", 1, "x"); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("MarkDead on a missing task = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "t-missing"); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("Get of a missing task = %v, want ErrNotFound", err)
	}
}
