package runner

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

func TestOnStartRefused(t *testing.T) {
	refused := func(t taskstore.Task) error { return &taskstore.TransitionError{Task: t, To: "start a run"} }
	for _, tc := range []struct {
		name string
		err  error
		want refusal
	}{
		{"store outage", errors.New("dial tcp: connection refused"), retryMessage},
		{"no such task", fmt.Errorf("x: %w", taskstore.ErrNotFound), leaveForDLQ},
		{"succeeded", refused(taskstore.Task{Status: taskstore.Succeeded}), dropMessage},
		{"dead", refused(taskstore.Task{Status: taskstore.Dead, Failures: 3}), dropMessage},
		{"live lease elsewhere", refused(taskstore.Task{Status: taskstore.Running, Owner: "w2/ab"}), waitForLease},
		{"out of retries", refused(taskstore.Task{Status: taskstore.Failed, Failures: 3}), buryTask},
		{"raced into queued", refused(taskstore.Task{Status: taskstore.Queued}), retryMessage},
	} {
		if got := onStartRefused(tc.err, 3); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFenceFallsBeforeTheLeaseLapses(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, lease := range []time.Duration{2 * time.Second, 30 * time.Second} {
		at := fenceAt(t0, lease)
		if !at.Before(t0.Add(lease)) || !at.After(t0.Add(lease/2)) {
			t.Errorf("lease %s renewed at t0: fence at t0+%s, want between half the lease and the lease", lease, at.Sub(t0))
		}
	}
	if got := leaseWait(taskstore.Task{LeaseUntil: t0.Add(10 * time.Second)}, t0); got != 11*time.Second {
		t.Errorf("leaseWait = %s, want 11s", got)
	}
	if got := leaseWait(taskstore.Task{LeaseUntil: t0.Add(-time.Minute)}, t0); got != time.Second {
		t.Errorf("leaseWait of a lapsed lease = %s, want 1s", got)
	}
}
