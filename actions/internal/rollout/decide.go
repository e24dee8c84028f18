package rollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// The verdict is decided here, apart from the calls that gather its inputs:
// Decide takes what one polling round read (Round) and what earlier rounds
// established (Memory), and answers with a verdict or "keep watching". It
// reads only structured fields of the ECS API (service-deployment status,
// counts, stop codes, task definitions and digests): no verdict rests on
// free text AWS does not document. The one text it reads, a stopped task's
// reason, only makes a failure known sooner than the circuit breaker would
// (see classifyStop).

// Round is what one polling round read about one watched deployment.
type Round struct {
	// At is when the round was read (the watcher's clock).
	At time.Time
	// Err is set when a read this round failed, throttled or not. Nothing
	// else in the round is then evidence.
	Err error
	// SD is the service deployment being watched; nil while ECS has not
	// listed it yet.
	SD *types.ServiceDeployment
	// Newer is a service deployment of the same service created after SD,
	// when SD stopped or, SUCCESSFUL, is no longer the service's PRIMARY
	// deployment (nil otherwise).
	Newer *types.ServiceDeploymentBrief
	// Counts of the deployment's own tasks (DescribeServices, the
	// deployment with the id UpdateService returned) and of the service.
	Desired, Running, Pending int32
	FailedTasks               int32
	ServiceRunning            int32
	ServiceDesired            int32
	// Strangers are running tasks that do not run the target task
	// definition with the pinned digests, one line each.
	Strangers []string
	// Stopped are the deployment's tasks that stopped since the last round.
	Stopped []StoppedTask
	// TasksErr is set when the task reads failed. The verdict of a
	// SUCCESSFUL deployment needs them (digests, crashes); no other does.
	TasksErr error
	// RollbackOn is the circuit breaker's rollback setting (the service
	// deployment's configuration, else the service's).
	RollbackOn bool
}

// StoppedTask is a task of the watched deployment that stopped.
type StoppedTask struct {
	ID    string
	Code  types.TaskStopCode
	Class StopClass
	At    time.Time
	// Line is the evidence line (stop code, reason, exit codes, ELB reason).
	Line string
}

// Memory is what earlier rounds established about one deployment.
type Memory struct {
	// Reads counts rounds that read ECS without error; Failed those that
	// did not, LastErr is the latest such error.
	Reads, Failed int
	LastErr       error
	// Phase describes the deployment as of the last good read, and PhaseAt
	// is when that was.
	Phase   string
	PhaseAt time.Time
	// Status is the service deployment's status at the last good read.
	Status types.ServiceDeploymentStatus
	// HealthySince is the first read of an unbroken run of reads that
	// found ECS SUCCESSFUL with every task running the pinned digests.
	HealthySince time.Time
	// CrashedAfter is the first task of the deployment that failed after
	// ECS reported it SUCCESSFUL.
	CrashedAfter string
	// Extended: the deadline was moved once, by at most the settle
	// window, so that a deployment found SUCCESSFUL at the deadline can
	// finish settling.
	Extended bool
}

// Policy is what Decide needs to know beyond the reads.
type Policy struct {
	// Settle is how long a SUCCESSFUL deployment must keep running every
	// desired task on the pinned digests before it SUCCEEDED (0: one read).
	Settle time.Duration
	// Final: the deadline has passed and this round is the last read.
	Final bool
	// Deadline is what the timeout allowed, for the reasons.
	Timeout time.Duration
	// Cancelled is why the run was cancelled (the runner's SIGINT or
	// SIGTERM), nil if it was not. A cancelled round is the last one; what
	// ECS has not finished is UNKNOWN, not TIMED_OUT: ECS carries on.
	Cancelled error
}

// Outcome is Decide's answer: Verdict "" means keep watching.
type Outcome struct {
	Verdict Verdict
	Reason  string
	Phase   string
	// Extend, with no verdict, asks for the deadline to move this much
	// later (once, at most the settle window).
	Extend time.Duration
}

// Decide settles a deployment's verdict from one more round.
func Decide(m Memory, r Round, p Policy) (Outcome, Memory) {
	if r.Err == nil && r.TasksErr != nil && r.SD != nil && r.SD.Status == types.ServiceDeploymentStatusSuccessful {
		r.Err = r.TasksErr
	}
	if r.Err != nil {
		m.Failed++
		m.LastErr = r.Err
		if !p.Final && p.Cancelled == nil {
			return Outcome{}, m
		}
		last := "ECS was never read successfully"
		if m.Reads > 0 {
			last = fmt.Sprintf("last read at %s: status %s, %s", m.PhaseAt.UTC().Format("15:04:05"), orNone(string(m.Status)), m.Phase)
		}
		if p.Cancelled != nil {
			return Outcome{Verdict: Unknown, Reason: fmt.Sprintf("the run was cancelled (%v) and the last read of ECS failed (%v), so the outcome is unknown (%s); ECS carries on without conveyor",
				p.Cancelled, r.Err, last)}, m
		}
		return Outcome{Verdict: Unknown, Reason: fmt.Sprintf("the final read of ECS failed (%v), so the outcome is unknown (%s; %d of %d reads failed)",
			r.Err, last, m.Failed, m.Failed+m.Reads)}, m
	}
	if p.Cancelled != nil {
		p.Final = true
	}
	m.Reads++
	m.PhaseAt = r.At
	m.Phase = phaseOf(r)
	if r.SD == nil {
		if p.Cancelled != nil {
			return Outcome{Verdict: Unknown, Phase: m.Phase, Reason: fmt.Sprintf("the run was cancelled (%v) before ECS listed the service deployment; ECS carries on without conveyor", p.Cancelled)}, m
		}
		if p.Final {
			return Outcome{Verdict: TimedOut, Reason: fmt.Sprintf("ECS never listed the service deployment within %s", p.Timeout), Phase: m.Phase}, m
		}
		return Outcome{}, m
	}
	sd := r.SD
	m.Status = sd.Status
	arn := aws.ToString(sd.ServiceDeploymentArn)
	switch sd.Status {
	case types.ServiceDeploymentStatusPending, types.ServiceDeploymentStatusInProgress:
		m.HealthySince = time.Time{}
		for _, s := range r.Stopped {
			if s.Class == StopPermanent {
				return Outcome{Verdict: Failed, Reason: fmt.Sprintf("service deployment %s cannot succeed: %s (a permanent error: retries do not heal it)", arn, s.Line)}, m
			}
		}
		if p.Cancelled != nil {
			return cancelled(m, p, arn, sd)
		}
		if p.Final {
			return Outcome{Verdict: TimedOut, Phase: m.Phase,
				Reason: fmt.Sprintf("service deployment %s was still %s after %s%s", arn, sd.Status, p.Timeout, failedReads(m))}, m
		}
		return Outcome{}, m
	case types.ServiceDeploymentStatusSuccessful:
		// A task that fails after ECS called the deployment done (a crash
		// some time after start) means the release does not hold.
		finished := aws.ToTime(sd.FinishedAt)
		for _, s := range r.Stopped {
			if (s.Class == StopFailure || s.Class == StopPermanent) && !s.At.Before(finished) && m.CrashedAfter == "" {
				m.CrashedAfter = s.Line
			}
		}
		if m.CrashedAfter == "" && r.Newer != nil {
			// Someone else's deployment took the service over before the
			// settle window passed: its run has the verdict, and a
			// rollback of this one would undo it.
			return Outcome{Verdict: Superseded, Reason: fmt.Sprintf("service deployment %s (%s) replaced %s after ECS reported it SUCCESSFUL, before the settle window (%s) passed",
				aws.ToString(r.Newer.ServiceDeploymentArn), r.Newer.Status, arn, p.Settle)}, m
		}
		return decideSuccessful(m, r, p, arn)
	case types.ServiceDeploymentStatusStopped, types.ServiceDeploymentStatusStopRequested:
		if r.Newer != nil {
			// A failure ECS had already seen (the breaker, an alarm, its
			// rollback under way) stays in the reason: superseded is not
			// "would have succeeded".
			failed := ""
			if w := why(sd); w != "" {
				failed = ", after it had failed" + w
			}
			return Outcome{Verdict: Superseded, Reason: fmt.Sprintf("service deployment %s (%s) replaced %s before it finished%s",
				aws.ToString(r.Newer.ServiceDeploymentArn), r.Newer.Status, arn, failed)}, m
		}
		return Outcome{Verdict: Failed, Reason: fmt.Sprintf("ECS stopped service deployment %s%s: %s", arn, why(sd), stopCause(sd, r.RollbackOn))}, m
	case types.ServiceDeploymentStatusRollbackRequested, types.ServiceDeploymentStatusRollbackInProgress:
		if p.Cancelled != nil {
			return cancelled(m, p, arn, sd)
		}
		if p.Final {
			return Outcome{Verdict: TimedOut, Phase: m.Phase,
				Reason: fmt.Sprintf("service deployment %s failed%s and ECS's rollback was still %s after %s", arn, why(sd), sd.Status, p.Timeout)}, m
		}
		return Outcome{}, m
	case types.ServiceDeploymentStatusRollbackSuccessful:
		return Outcome{Verdict: RolledBack, Reason: fmt.Sprintf("service deployment %s failed%s; ECS rolled back and the rollback succeeded", arn, why(sd))}, m
	case types.ServiceDeploymentStatusRollbackFailed:
		return Outcome{Verdict: RollbackFailed, Reason: fmt.Sprintf("service deployment %s failed%s and ECS's rollback failed too", arn, why(sd))}, m
	}
	return Outcome{Verdict: Failed, Reason: fmt.Sprintf("service deployment %s has status %q, which conveyor does not know; treated as a failure", arn, sd.Status)}, m
}

func decideSuccessful(m Memory, r Round, p Policy, arn string) (Outcome, Memory) {
	if m.CrashedAfter != "" {
		return Outcome{Verdict: Failed, Reason: fmt.Sprintf("ECS reported service deployment %s SUCCESSFUL, then a task of it failed: %s", arn, m.CrashedAfter)}, m
	}
	var short string
	// A task short of the desired count with no failure seen (a scale-out
	// still placing tasks) is not a failure: at the deadline it is
	// TIMED_OUT. A task on the wrong revision or digest is one.
	shortIs := TimedOut
	switch {
	case r.Running < r.Desired:
		short = fmt.Sprintf("%d of %d tasks run (%d pending)", r.Running, r.Desired, r.Pending)
	case r.ServiceRunning < r.ServiceDesired:
		short = fmt.Sprintf("the service runs %d of %d desired tasks", r.ServiceRunning, r.ServiceDesired)
	case len(r.Strangers) > 0:
		short, shortIs = r.Strangers[0], Failed
	}
	if short != "" {
		m.HealthySince = time.Time{}
		if p.Cancelled != nil {
			return Outcome{Verdict: Unknown, Phase: m.Phase, Reason: fmt.Sprintf("the run was cancelled (%v) while ECS reported service deployment %s SUCCESSFUL but %s; whether it holds is unknown",
				p.Cancelled, arn, short)}, m
		}
		if p.Final {
			return Outcome{Verdict: shortIs, Phase: m.Phase,
				Reason: fmt.Sprintf("ECS reported service deployment %s SUCCESSFUL but at the deadline %s", arn, short)}, m
		}
		return Outcome{}, m
	}
	if m.HealthySince.IsZero() {
		m.HealthySince = r.At
	}
	held := r.At.Sub(m.HealthySince)
	// Reads one poll apart are a settle window of one poll, give or take
	// the jitter of the loop (a tenth).
	if held >= p.Settle-p.Settle/10 {
		return Outcome{Verdict: Succeeded, Reason: fmt.Sprintf("service deployment %s SUCCESSFUL; %d of %d tasks run the pinned digests, steady for %s",
			arn, r.Running, r.Desired, held.Round(time.Millisecond))}, m
	}
	if p.Cancelled != nil {
		return Outcome{Verdict: Unknown, Phase: m.Phase, Reason: fmt.Sprintf("the run was cancelled (%v) %s into the settle window (%s) of service deployment %s, which ECS reported SUCCESSFUL; whether it holds is unknown",
			p.Cancelled, held.Round(time.Millisecond), p.Settle, arn)}, m
	}
	if p.Final && !m.Extended {
		m.Extended = true
		return Outcome{Extend: p.Settle - held}, m
	}
	if p.Final {
		return Outcome{Verdict: TimedOut, Phase: m.Phase,
			Reason: fmt.Sprintf("service deployment %s SUCCESSFUL and every task runs the pinned digests, but the settle window (%s) had not passed at the deadline", arn, p.Settle)}, m
	}
	return Outcome{}, m
}

// cancelled is the verdict of a deployment ECS had not finished when the
// run was cancelled: UNKNOWN, because ECS goes on without conveyor.
func cancelled(m Memory, p Policy, arn string, sd *types.ServiceDeployment) (Outcome, Memory) {
	return Outcome{Verdict: Unknown, Phase: m.Phase, Reason: fmt.Sprintf("the run was cancelled (%v) while service deployment %s was still %s%s; ECS carries on without conveyor",
		p.Cancelled, arn, sd.Status, why(sd))}, m
}

// why is the ECS-side cause of a failed service deployment, from its
// structured fields: the circuit breaker, the alarms and the rollback.
func why(sd *types.ServiceDeployment) string {
	var parts []string
	if cb := sd.DeploymentCircuitBreaker; cb != nil && cb.Status == types.ServiceDeploymentRollbackMonitorsStatusTriggered {
		parts = append(parts, fmt.Sprintf("the circuit breaker tripped after %d failed tasks (threshold %d)", cb.FailureCount, cb.Threshold))
	}
	if a := sd.Alarms; a != nil && a.Status == types.ServiceDeploymentRollbackMonitorsStatusTriggered {
		parts = append(parts, "CloudWatch alarm "+strings.Join(a.TriggeredAlarmNames, ", ")+" went into ALARM")
	}
	if rb := sd.Rollback; rb != nil && rb.Reason != nil {
		parts = append(parts, "rollback: "+aws.ToString(rb.Reason))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// stopCause explains a STOPPED deployment that nothing newer replaced.
func stopCause(sd *types.ServiceDeployment, rollbackOn bool) string {
	cb := sd.DeploymentCircuitBreaker
	triggered := cb != nil && cb.Status == types.ServiceDeploymentRollbackMonitorsStatusTriggered ||
		sd.Alarms != nil && sd.Alarms.Status == types.ServiceDeploymentRollbackMonitorsStatusTriggered
	if triggered && rollbackOn {
		return "rollback is on, but no earlier service deployment of the service succeeded, so ECS had nothing to roll back to and stopped"
	}
	if triggered {
		return "rollback is off in the deployment configuration, so ECS stopped and left the service on the failed revision"
	}
	if s := aws.ToString(sd.StatusReason); s != "" {
		return s
	}
	return "it was stopped before it finished and no newer service deployment replaced it"
}

// phaseOf names what the deployment is doing, for TIMED_OUT and UNKNOWN.
func phaseOf(r Round) string {
	if r.SD == nil {
		return "waiting for ECS to list the service deployment"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d new tasks running, %d pending", r.Running, r.Desired, r.Pending)
	if cb := r.SD.DeploymentCircuitBreaker; cb != nil && cb.Status != types.ServiceDeploymentRollbackMonitorsStatusDisabled && cb.Threshold > 0 {
		fmt.Fprintf(&b, ", circuit breaker %d/%d", cb.FailureCount, cb.Threshold)
	} else if r.FailedTasks > 0 {
		fmt.Fprintf(&b, ", %d failed tasks", r.FailedTasks)
	}
	if old := r.ServiceRunning - r.Running; old > 0 {
		fmt.Fprintf(&b, ", %d other tasks still running", old)
	}
	return b.String()
}

// failedReads says how many reads failed, for a TIMED_OUT reason: a watch
// that saw little of the deployment should say so.
func failedReads(m Memory) string {
	if m.Failed == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d of %d reads of ECS failed, the last with: %v)", m.Failed, m.Failed+m.Reads, m.LastErr)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
