package runner

import (
	"errors"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

// refusal is what to do with a message whose task could not be started.
type refusal int

const (
	// retryMessage: the store failed; the message comes back after the
	// retry delay (its deliveries count, and the dlq service re-drives a
	// task that never failed instead of burying it).
	retryMessage refusal = iota
	// dropMessage: the task is finished; the message is a duplicate.
	dropMessage
	// buryTask: the task's recorded failures reached the limit; mark it
	// DEAD and drop the message.
	buryTask
	// waitForLease: another run holds a live lease; the message comes back
	// when that lease would lapse, in case its owner dies.
	waitForLease
	// leaveForDLQ: the message names no task in the table.
	leaveForDLQ
)

// onStartRefused decides what a refused Start means for the message.
func onStartRefused(err error, maxFailures int) refusal {
	var te *taskstore.TransitionError
	switch {
	case errors.Is(err, taskstore.ErrNotFound):
		return leaveForDLQ
	case !errors.As(err, &te):
		return retryMessage
	case te.Task.Status.Terminal():
		return dropMessage
	case te.Task.Status == taskstore.Running:
		return waitForLease
	case te.Task.Failures >= maxFailures:
		return buryTask
	}
	// A state Start should have taken (a concurrent change in between):
	// try again later.
	return retryMessage
}

// leaseWait is how long a message waits for a live lease held by another
// run to end or lapse, plus a second of slack for clocks; within SQS's
// visibility bounds.
func leaseWait(t taskstore.Task, now time.Time) time.Duration {
	return min(max(t.LeaseUntil.Sub(now)+time.Second, time.Second), 12*time.Hour)
}

// fenceAt is when a run whose lease was last renewed by a call started at
// renewed must stop: a margin before the lease could lapse in the table,
// so the run has ended before any other worker may start the task.
func fenceAt(renewed time.Time, lease time.Duration) time.Time {
	return renewed.Add(lease - lease/4)
}
