package taskstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/servicetest"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

func TestCreateIsIdempotentOnTheKey(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	first, created, err := s.Create(ctx, "order-0001", "echo", []byte("hi"), time.Minute)
	if err != nil || !created {
		t.Fatalf("first Create = %v, created=%v", err, created)
	}
	again, created, err := s.Create(ctx, "order-0001", "echo", []byte("hi"), time.Minute)
	if err != nil || created {
		t.Fatalf("second Create = %v, created=%v; want the existing task", err, created)
	}
	if again.ID != first.ID || again.Fingerprint != first.Fingerprint || again.Status != taskstore.Accepted || string(again.Payload) != "hi" {
		t.Errorf("second Create returned %+v, want the stored %+v", again, first)
	}
	other, created, err := s.Create(ctx, "order-0001", "echo", []byte("different"), time.Minute)
	if err != nil || created || other.Fingerprint == taskstore.Fingerprint("echo", []byte("different")) {
		t.Errorf("Create with a different request: created=%v err=%v fingerprint=%s; want the old task back for the caller to refuse", created, err, other.Fingerprint)
	}
}

func TestRunLifecycleIsFencedByTheOwner(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	task, _, err := s.Create(ctx, "order-0002", "echo", []byte("x"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id := task.ID
	if err := s.MarkQueued(ctx, id); err != nil {
		t.Fatal(err)
	}
	run1, err := s.Start(ctx, id, "w1/a", time.Minute, 3)
	if err != nil || run1.Runs != 1 || run1.Owner != "w1/a" || run1.Status != taskstore.Running {
		t.Fatalf("Start = %+v, %v; want run 1 owned by w1/a", run1, err)
	}
	// Issue 12 item 1: RUNNING -> RUNNING by a second owner is refused
	// while the lease is live.
	var te *taskstore.TransitionError
	if _, err := s.Start(ctx, id, "w2/b", time.Minute, 3); !errors.As(err, &te) || te.Task.Owner != "w1/a" {
		t.Fatalf("second Start with a live lease = %v, want refused naming owner w1/a", err)
	}
	if err := s.Renew(ctx, id, "w2/b", time.Minute); !errors.As(err, &te) {
		t.Errorf("Renew by a non-owner = %v, want refused", err)
	}
	if err := s.Succeed(ctx, id, "w2/b", []byte("stale")); !errors.As(err, &te) {
		t.Errorf("Succeed by a non-owner = %v, want refused", err)
	}
	if _, err := s.Fail(ctx, id, "w1/a", "boom"); err != nil {
		t.Fatal(err)
	}
	run2, err := s.Start(ctx, id, "w2/b", time.Minute, 3)
	if err != nil || run2.Runs != 2 || run2.Failures != 1 {
		t.Fatalf("Start after a failure = %+v, %v; want run 2 with 1 failure", run2, err)
	}
	// The first run's late outcome cannot overwrite the second's.
	if err := s.Succeed(ctx, id, "w1/a", []byte("late")); !errors.As(err, &te) {
		t.Errorf("Succeed by the fenced run = %v, want refused", err)
	}
	if err := s.Succeed(ctx, id, "w2/b", []byte("out")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, id, "w3/c", time.Minute, 3); !errors.As(err, &te) || te.Task.Status != taskstore.Succeeded {
		t.Errorf("Start on a SUCCEEDED task = %v, want refused from SUCCEEDED", err)
	}
	got, _ := s.Get(ctx, id)
	if got.Status != taskstore.Succeeded || string(got.Result) != "out" || got.Runs != 2 || got.Failures != 1 || got.Owner != "" {
		t.Errorf("final task %+v, want SUCCEEDED with result out after 2 runs, 1 failure, no owner", got)
	}
}

func TestALapsedLeaseLetsTheNextRunIn(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	task, _, _ := s.Create(ctx, "order-0003", "echo", nil, time.Minute)
	if _, err := s.Start(ctx, task.ID, "w1/a", 300*time.Millisecond, 3); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := s.Start(ctx, task.ID, "w2/b", time.Minute, 3); err != nil {
		t.Fatalf("Start after the lease lapsed = %v, want taken over", err)
	}
	var te *taskstore.TransitionError
	if err := s.Renew(ctx, task.ID, "w1/a", time.Minute); !errors.As(err, &te) {
		t.Errorf("Renew by the lapsed owner = %v, want refused (it must stop)", err)
	}
}

// Eight workers start one task at once: exactly one run.
func TestConcurrentStartsYieldOneRun(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	task, _, _ := s.Create(ctx, "order-0004", "echo", nil, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Go(func() {
			_, err := s.Start(ctx, task.ID, "w/"+string(rune('a'+i)), time.Minute, 3)
			var te *taskstore.TransitionError
			if err != nil && !errors.As(err, &te) {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			}
		})
	}
	wg.Wait()
	got, _ := s.Get(ctx, task.ID)
	if won != 1 || got.Runs != 1 {
		t.Errorf("%d Starts won, runs=%d; want exactly one", won, got.Runs)
	}
}

func TestDeadOnlyAfterTheRecordedFailures(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	task, _, _ := s.Create(ctx, "order-0005", "fail", nil, time.Minute)
	var te *taskstore.TransitionError
	if _, err := s.MarkDead(ctx, task.ID, 2); !errors.As(err, &te) {
		t.Fatalf("MarkDead of a task that never ran = %v, want refused", err)
	}
	for i := range 2 {
		if _, err := s.Start(ctx, task.ID, "w/a", time.Minute, 2); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if _, err := s.Fail(ctx, task.ID, "w/a", "fail task: failing on purpose"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Start(ctx, task.ID, "w/b", time.Minute, 2); !errors.As(err, &te) || te.Task.Failures != 2 {
		t.Fatalf("third Start with 2 of 2 failures = %v, want refused", err)
	}
	dead, err := s.MarkDead(ctx, task.ID, 2)
	if err != nil || dead.Status != taskstore.Dead || dead.Error != "fail task: failing on purpose" || dead.Failures != 2 {
		t.Fatalf("MarkDead = %+v, %v; want DEAD with the last error and 2 failures", dead, err)
	}
	if _, err := s.MarkDead(ctx, task.ID, 2); err != nil {
		t.Errorf("MarkDead again = %v, want a no-op", err)
	}
	if _, err := s.MarkDead(ctx, "t-missing", 1); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("MarkDead on a missing task = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "t-missing"); !errors.Is(err, taskstore.ErrNotFound) {
		t.Errorf("Get of a missing task = %v, want ErrNotFound", err)
	}
}

func TestRedrivesAreCountedAndBounded(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	task, _, _ := s.Create(ctx, "order-0006", "echo", nil, time.Minute)
	for i := 1; i <= 2; i++ {
		got, err := s.NoteRedrive(ctx, task.ID, 3, 2)
		if err != nil || got.Redrives != i {
			t.Fatalf("redrive %d = %+v, %v", i, got, err)
		}
	}
	var te *taskstore.TransitionError
	if _, err := s.NoteRedrive(ctx, task.ID, 3, 2); !errors.As(err, &te) || te.Task.Redrives != 2 {
		t.Fatalf("third redrive with a bound of 2 = %v, want refused", err)
	}
	dead, err := s.MarkUnrunnable(ctx, task.ID, 2, "never finishes")
	if err != nil || dead.Status != taskstore.Dead || dead.Error != "never finishes" {
		t.Errorf("MarkUnrunnable = %+v, %v", dead, err)
	}
}

// Issue 12 item 3: a task left ACCEPTED is found through the sparse index
// once its enqueue claim lapsed, and only one claimant gets it.
func TestStrandedTasksAreListedOnceTheirClaimLapses(t *testing.T) {
	s := servicetest.New(t).Store
	ctx := context.Background()
	stranded, _, _ := s.Create(ctx, "order-0007", "echo", nil, 200*time.Millisecond)
	fresh, _, _ := s.Create(ctx, "order-0008", "echo", nil, time.Minute)
	queued, _, _ := s.Create(ctx, "order-0009", "echo", nil, 200*time.Millisecond)
	if err := s.MarkQueued(ctx, queued.ID); err != nil {
		t.Fatal(err)
	}
	var te *taskstore.TransitionError
	if _, err := s.ClaimEnqueue(ctx, stranded.ID, time.Minute); !errors.As(err, &te) {
		t.Errorf("ClaimEnqueue while the creator's claim is live = %v, want refused", err)
	}
	time.Sleep(300 * time.Millisecond)
	pending, err := s.Pending(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != stranded.ID {
		t.Fatalf("Pending = %+v, want only %s (not the fresh %s nor the queued %s)", pending, stranded.ID, fresh.ID, queued.ID)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 4 {
		wg.Go(func() {
			if _, err := s.ClaimEnqueue(ctx, stranded.ID, time.Minute); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d claimants won the stranded task, want 1", won)
	}
}
