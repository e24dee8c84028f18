package deadletter

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

func TestDeadLettersAreBuriedOnlyForRecordedFailures(t *testing.T) {
	refused := func(t taskstore.Task) error { return &taskstore.TransitionError{Task: t, To: "be re-driven"} }
	for _, tc := range []struct {
		name string
		err  error
		want verdict
	}{
		{"never failed: handed back, store errors, stop budget", nil, redrive},
		{"store outage", errors.New("connection reset"), keep},
		{"unknown task", fmt.Errorf("x: %w", taskstore.ErrNotFound), drop},
		{"already succeeded", refused(taskstore.Task{Status: taskstore.Succeeded}), drop},
		{"already dead", refused(taskstore.Task{Status: taskstore.Dead, Failures: 3}), drop},
		{"failures reached the limit", refused(taskstore.Task{Status: taskstore.Failed, Failures: 3}), bury},
		{"re-driven too often without a result", refused(taskstore.Task{Status: taskstore.Queued, Redrives: 10}), buryUnrunnable},
	} {
		if got := decide(tc.err, 3, 10); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRedriveWaitsForALiveLease(t *testing.T) {
	now := time.Unix(1000, 0)
	live := taskstore.Task{Status: taskstore.Running, LeaseUntil: now.Add(20 * time.Second)}
	if got := redriveDelay(live, now); got != 21*time.Second {
		t.Errorf("delay with a live lease = %s, want 21s", got)
	}
	if got := redriveDelay(taskstore.Task{Status: taskstore.Queued}, now); got != 0 {
		t.Errorf("delay of a queued task = %s, want 0", got)
	}
}
