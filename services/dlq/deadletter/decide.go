package deadletter

import (
	"errors"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

// verdict is what the dlq service does with one dead letter.
type verdict int

const (
	// keep: the store failed; the letter is read again later.
	keep verdict = iota
	// drop: nothing to do (finished task, unknown task, not a task message).
	drop
	// redrive: the task never failed enough to die; put it back on the
	// queue (NoteRedrive already counted it).
	redrive
	// bury: the recorded failed runs reached the limit; mark it DEAD.
	bury
	// buryUnrunnable: re-driven the maximum number of times without
	// finishing a run; mark it DEAD as unrunnable.
	buryUnrunnable
)

// decide reads the outcome of NoteRedrive on a dead letter's task. Receive
// counts never decide: hand-backs on SIGTERM, store errors before a run
// and runs cut by a deploy all count as deliveries, and none is a failure.
func decide(err error, maxFailures, maxRedrives int) verdict {
	var te *taskstore.TransitionError
	switch {
	case err == nil:
		return redrive
	case errors.Is(err, taskstore.ErrNotFound):
		return drop
	case !errors.As(err, &te):
		return keep
	case te.Task.Status.Terminal():
		return drop
	case te.Task.Failures >= maxFailures:
		return bury
	case te.Task.Redrives >= maxRedrives:
		return buryUnrunnable
	}
	return keep
}

// redriveDelay is how long a re-driven message stays invisible: until a
// live lease would lapse (its run may still finish), else at once.
func redriveDelay(t taskstore.Task, now time.Time) time.Duration {
	if t.LeaseLive(now) {
		return t.LeaseUntil.Sub(now) + time.Second
	}
	return 0
}

// taskRuns is the run count of the task a refusal carries.
func taskRuns(err error) int {
	var te *taskstore.TransitionError
	if errors.As(err, &te) {
		return te.Task.Runs
	}
	return 0
}
