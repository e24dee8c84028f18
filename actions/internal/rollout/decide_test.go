package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

const sdArn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/sd1"

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

func sd(status types.ServiceDeploymentStatus, mods ...func(*types.ServiceDeployment)) *types.ServiceDeployment {
	d := &types.ServiceDeployment{ServiceDeploymentArn: aws.String(sdArn), Status: status, FinishedAt: aws.Time(t0.Add(30 * time.Second)),
		DeploymentCircuitBreaker: &types.ServiceDeploymentCircuitBreaker{Status: types.ServiceDeploymentRollbackMonitorsStatusMonitoring, Threshold: 3}}
	for _, m := range mods {
		m(d)
	}
	return d
}

func tripped(d *types.ServiceDeployment) {
	d.DeploymentCircuitBreaker = &types.ServiceDeploymentCircuitBreaker{Status: types.ServiceDeploymentRollbackMonitorsStatusTriggered, FailureCount: 3, Threshold: 3}
}

// healthy is a round in which 2 of 2 tasks run the pinned digests.
func healthy(at time.Duration, d *types.ServiceDeployment) Round {
	return Round{At: t0.Add(at), SD: d, Desired: 2, Running: 2, ServiceDesired: 2, ServiceRunning: 2}
}

var throttled = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}

func TestDecide(t *testing.T) {
	poll := 5 * time.Second
	crash := StoppedTask{ID: "t9", Code: types.TaskStopCodeEssentialContainerExited, Class: StopFailure, At: t0.Add(120 * time.Second), Line: "stopped task t9: exit code 1"}
	transient := StoppedTask{ID: "t1", Code: types.TaskStopCodeTaskFailedToStart, Class: StopTransient, At: t0.Add(5 * time.Second),
		Line: "stopped task t1: ResourceInitializationError: unable to pull secrets or registry auth: dial tcp 10.0.0.1:443: i/o timeout"}
	missing := StoppedTask{ID: "t2", Code: types.TaskStopCodeTaskFailedToStart, Class: StopPermanent, At: t0.Add(5 * time.Second),
		Line: "stopped task t2: CannotPullContainerError: manifest unknown"}
	type step struct {
		r      Round
		final  bool
		want   Verdict // "" keep watching
		first  string  // prefix of the reason
		extend time.Duration
		// cancelled: the run was cancelled before this round.
		cancelled bool
	}
	tests := []struct {
		name   string
		settle time.Duration
		steps  []step
	}{
		{"pending then in progress keep watching", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusPending)}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2, Running: 1, Pending: 1}},
		}},
		{"not listed yet, then listed", 0, []step{
			{r: Round{At: t0}},
			{r: healthy(poll, sd(types.ServiceDeploymentStatusSuccessful)), want: Succeeded, first: "service deployment " + sdArn + " SUCCESSFUL; 2 of 2"},
		}},
		{"never listed at the deadline", 0, []step{
			{r: Round{At: t0}, final: true, want: TimedOut, first: "ECS never listed the service deployment"},
		}},
		{"successful needs the settle window", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: healthy(poll, sd(types.ServiceDeploymentStatusSuccessful)), want: Succeeded, first: "service deployment " + sdArn + " SUCCESSFUL"},
		}},
		{"successful but a task crashes inside the settle window", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 1, Pending: 1, ServiceDesired: 2, ServiceRunning: 1, Stopped: []StoppedTask{crash}},
				want: Failed, first: "ECS reported service deployment " + sdArn + " SUCCESSFUL, then a task of it failed: stopped task t9: exit code 1"},
		}},
		{"crash 90 s after start, first look after the crash: pending is not running", poll, []step{
			{r: Round{At: t0.Add(150 * time.Second), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 0, Pending: 2, ServiceDesired: 2,
				Stopped: []StoppedTask{crash}}, want: Failed, first: "ECS reported service deployment " + sdArn + " SUCCESSFUL, then a task of it failed"},
		}},
		{"successful with fewer running at the deadline and no failure seen: TIMED_OUT, not FAILED", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 0, Pending: 2, ServiceDesired: 2}, final: true,
				want: TimedOut, first: "ECS reported service deployment " + sdArn + " SUCCESSFUL but at the deadline 0 of 2 tasks run (2 pending)"},
		}},
		{"successful, then autoscaling scales out and the new tasks are still starting at the deadline", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(poll / 2), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 4, Running: 2, Pending: 2, ServiceDesired: 4, ServiceRunning: 2}, final: true,
				want: TimedOut, first: "ECS reported service deployment " + sdArn + " SUCCESSFUL but at the deadline 2 of 4 tasks run (2 pending)"},
		}},
		{"successful, then scaled in mid-settle: still settles", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 1, Running: 1, ServiceDesired: 1, ServiceRunning: 1},
				want: Succeeded, first: "service deployment " + sdArn + " SUCCESSFUL; 1 of 1 tasks"},
		}},
		{"successful but an old task still runs", 0, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 2, ServiceDesired: 2, ServiceRunning: 2,
				Strangers: []string{"running task t5 uses conveyor-api:1"}}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 2, ServiceDesired: 2, ServiceRunning: 2,
				Strangers: []string{"running task t5 uses conveyor-api:1"}}, final: true, want: Failed, first: "ECS reported service deployment " + sdArn + " SUCCESSFUL but at the deadline running task t5"},
		}},
		{"successful at the deadline: the deadline moves once to finish settling", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful)), final: true, extend: poll},
			{r: healthy(poll, sd(types.ServiceDeploymentStatusSuccessful)), final: true, want: Succeeded, first: "service deployment " + sdArn + " SUCCESSFUL"},
		}},
		{"successful at the deadline, settle window still not passed after the one extension", time.Minute, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful)), final: true, extend: time.Minute},
			{r: healthy(poll, sd(types.ServiceDeploymentStatusSuccessful)), final: true, want: TimedOut, first: "service deployment " + sdArn + " SUCCESSFUL and every task"},
		}},
		{"successful but the task reads were throttled: no verdict without them", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 2, ServiceDesired: 2, ServiceRunning: 2, TasksErr: throttled}},
			{r: Round{At: t0.Add(2 * poll), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 2, ServiceDesired: 2, ServiceRunning: 2, TasksErr: throttled}, final: true,
				want: Unknown, first: "the final read of ECS failed"},
		}},
		{"task reads do not matter to a rollback verdict", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusRollbackSuccessful, tripped), TasksErr: throttled}, want: RolledBack, first: "service deployment"},
		}},
		{"throttled reads are not evidence; ECS completes meanwhile", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2}},
			{r: Round{At: t0.Add(poll), Err: throttled}},
			{r: Round{At: t0.Add(2 * poll), Err: throttled}},
			{r: healthy(3*poll, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: healthy(4*poll, sd(types.ServiceDeploymentStatusSuccessful)), final: true, want: Succeeded, first: "service deployment"},
		}},
		{"unreadable at the deadline is UNKNOWN, never TIMED_OUT", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2}},
			{r: Round{At: t0.Add(poll), Err: throttled}, final: true, want: Unknown, first: "the final read of ECS failed (api error ThrottlingException: Rate exceeded), so the outcome is unknown (last read at 08:00:00: status IN_PROGRESS"},
		}},
		{"never read at all", poll, []step{
			{r: Round{At: t0, Err: errors.New("connection refused")}, final: true, want: Unknown, first: "the final read of ECS failed (connection refused), so the outcome is unknown (ECS was never read successfully"},
		}},
		{"in progress at the deadline after throttled reads says so", poll, []step{
			{r: Round{At: t0, Err: throttled}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2}, final: true,
				want: TimedOut, first: "service deployment " + sdArn + " was still IN_PROGRESS after 1m0s (1 of 2 reads of ECS failed, the last with: api error ThrottlingException: Rate exceeded)"},
		}},
		{"in progress at the deadline", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2, Running: 1, Pending: 1, ServiceRunning: 3}, final: true,
				want: TimedOut, first: "service deployment " + sdArn + " was still IN_PROGRESS after"},
		}},
		{"transient start failures are left to ECS", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2, Stopped: []StoppedTask{transient}}},
			{r: healthy(poll, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: healthy(2*poll, sd(types.ServiceDeploymentStatusSuccessful)), want: Succeeded, first: "service deployment"},
		}},
		{"a permanent start failure fails at once", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2, Stopped: []StoppedTask{missing}},
				want: Failed, first: "service deployment " + sdArn + " cannot succeed: stopped task t2: CannotPullContainerError: manifest unknown"},
		}},
		{"ECS rolls back and the rollback succeeds", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusRollbackRequested, tripped)}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusRollbackInProgress, tripped)}},
			{r: Round{At: t0.Add(2 * poll), SD: sd(types.ServiceDeploymentStatusRollbackSuccessful, tripped)}, want: RolledBack,
				first: "service deployment " + sdArn + " failed (the circuit breaker tripped after 3 failed tasks (threshold 3)); ECS rolled back"},
		}},
		{"the rollback completes between two polls", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress)}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusRollbackSuccessful, tripped)}, want: RolledBack, first: "service deployment"},
		}},
		{"ECS's rollback fails", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusRollbackInProgress, tripped)}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusRollbackFailed, tripped)}, want: RollbackFailed, first: "service deployment " + sdArn + " failed (the circuit breaker"},
		}},
		{"ECS's rollback still running at the deadline", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusRollbackInProgress, tripped)}, final: true, want: TimedOut, first: "service deployment " + sdArn + " failed (the circuit breaker"},
		}},
		{"breaker trips with rollback off", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusStopped, tripped)}, want: Failed,
				first: "ECS stopped service deployment " + sdArn + " (the circuit breaker tripped after 3 failed tasks (threshold 3)): rollback is off in the deployment configuration"},
		}},
		{"breaker trips with rollback on but nothing succeeded before", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusStopped, tripped), RollbackOn: true}, want: Failed,
				first: "ECS stopped service deployment " + sdArn + " (the circuit breaker tripped after 3 failed tasks (threshold 3)): rollback is on, but no earlier service deployment"},
		}},
		{"an alarm stops it", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusStopped, func(d *types.ServiceDeployment) {
				d.Alarms = &types.ServiceDeploymentAlarms{Status: types.ServiceDeploymentRollbackMonitorsStatusTriggered, TriggeredAlarmNames: []string{"conveyor-api-5xx"}}
			})}, want: Failed, first: "ECS stopped service deployment " + sdArn + " (CloudWatch alarm conveyor-api-5xx went into ALARM)"},
		}},
		{"stop requested by a newer deployment", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusStopRequested), Newer: &types.ServiceDeploymentBrief{ServiceDeploymentArn: aws.String("sd2"), Status: types.ServiceDeploymentStatusInProgress}},
				want: Superseded, first: "service deployment sd2 (IN_PROGRESS) replaced " + sdArn},
		}},
		{"stopped by a user, nothing newer", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusStopped, func(d *types.ServiceDeployment) { d.StatusReason = aws.String("stopped by user") })},
				want: Failed, first: "ECS stopped service deployment " + sdArn + ": stopped by user"},
		}},
		{"a status conveyor does not know fails closed", poll, []step{
			{r: Round{At: t0, SD: sd("PAUSED")}, want: Failed, first: "service deployment " + sdArn + ` has status "PAUSED", which conveyor does not know`},
		}},
		{"successful, then back to in progress (should not happen) keeps watching", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2, Running: 2, ServiceDesired: 2, ServiceRunning: 2}},
			{r: healthy(2*poll, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: healthy(3*poll, sd(types.ServiceDeploymentStatusSuccessful)), want: Succeeded, first: "service deployment"},
		}},
		// Found by attacking the watcher after issue 11.
		{"cancelled while in progress is UNKNOWN, not TIMED_OUT", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2, Pending: 2}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2, Pending: 2}, cancelled: true,
				want: Unknown, first: "the run was cancelled (context canceled) while service deployment " + sdArn + " was still IN_PROGRESS; ECS carries on"},
		}},
		{"cancelled while ECS rolls back is UNKNOWN and names the failure", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusRollbackInProgress, tripped)}, cancelled: true,
				want: Unknown, first: "the run was cancelled (context canceled) while service deployment " + sdArn + " was still ROLLBACK_IN_PROGRESS (the circuit breaker tripped"},
		}},
		{"cancelled inside the settle window: no extension, UNKNOWN", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: healthy(poll/2, sd(types.ServiceDeploymentStatusSuccessful)), cancelled: true,
				want: Unknown, first: "the run was cancelled (context canceled) 2.5s into the settle window (5s) of service deployment " + sdArn},
		}},
		{"cancelled after the settle window held: the verdict is known", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: healthy(poll, sd(types.ServiceDeploymentStatusSuccessful)), cancelled: true, want: Succeeded, first: "service deployment " + sdArn + " SUCCESSFUL"},
		}},
		{"cancelled and the last read fails", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusInProgress), Desired: 2}},
			{r: Round{At: t0.Add(poll), Err: throttled}, cancelled: true,
				want: Unknown, first: "the run was cancelled (context canceled) and the last read of ECS failed (api error ThrottlingException: Rate exceeded)"},
		}},
		{"cancelled before ECS listed it", poll, []step{
			{r: Round{At: t0}, cancelled: true, want: Unknown, first: "the run was cancelled (context canceled) before ECS listed the service deployment"},
		}},
		{"cancelled after a crash that followed SUCCESSFUL: the failure is known", poll, []step{
			{r: Round{At: t0.Add(150 * time.Second), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 1, Pending: 1, ServiceDesired: 2, ServiceRunning: 1,
				Stopped: []StoppedTask{crash}}, cancelled: true, want: Failed, first: "ECS reported service deployment " + sdArn + " SUCCESSFUL, then a task of it failed"},
		}},
		{"a task crashes exactly as the settle window ends: FAILED, not SUCCEEDED", poll, []step{
			{r: healthy(40*time.Second, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(40*time.Second + poll), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 2, Running: 2, ServiceDesired: 2, ServiceRunning: 2,
				Stopped: []StoppedTask{{ID: "t8", Code: types.TaskStopCodeEssentialContainerExited, Class: StopFailure, At: t0.Add(40*time.Second + poll), Line: "stopped task t8: exit code 137"}}},
				want: Failed, first: "ECS reported service deployment " + sdArn + " SUCCESSFUL, then a task of it failed: stopped task t8: exit code 137"},
		}},
		{"successful, then someone else's deployment takes over inside the settle window", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(poll / 2), SD: sd(types.ServiceDeploymentStatusSuccessful), Desired: 0, Running: 0, ServiceDesired: 2, ServiceRunning: 2,
				Strangers: []string{"running task t7 uses conveyor-api:3, not conveyor-api:2"},
				Newer:     &types.ServiceDeploymentBrief{ServiceDeploymentArn: aws.String("sd3"), Status: types.ServiceDeploymentStatusInProgress}},
				want: Superseded, first: "service deployment sd3 (IN_PROGRESS) replaced " + sdArn + " after ECS reported it SUCCESSFUL, before the settle window (5s) passed"},
		}},
		{"ECS's rollback itself replaced: SUPERSEDED, and the failure stays in the reason", poll, []step{
			{r: Round{At: t0, SD: sd(types.ServiceDeploymentStatusRollbackInProgress, tripped)}},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusStopped, tripped),
				Newer: &types.ServiceDeploymentBrief{ServiceDeploymentArn: aws.String("sd3"), Status: types.ServiceDeploymentStatusPending}},
				want: Superseded, first: "service deployment sd3 (PENDING) replaced " + sdArn + " before it finished, after it had failed (the circuit breaker tripped after 3 failed tasks (threshold 3))"},
		}},
		{"rollback successful after success (should not happen) still tells the truth", poll, []step{
			{r: healthy(0, sd(types.ServiceDeploymentStatusSuccessful))},
			{r: Round{At: t0.Add(poll), SD: sd(types.ServiceDeploymentStatusRollbackSuccessful)}, want: RolledBack, first: "service deployment " + sdArn + " failed; ECS rolled back"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Memory
			for i, s := range tc.steps {
				var out Outcome
				p := Policy{Settle: tc.settle, Final: s.final, Timeout: time.Minute}
				if s.cancelled {
					p.Cancelled = context.Canceled
				}
				out, m = Decide(m, s.r, p)
				if out.Verdict != s.want {
					t.Fatalf("step %d: verdict %q (%s), want %q", i, out.Verdict, out.Reason, s.want)
				}
				if out.Extend != s.extend {
					t.Errorf("step %d: extend %s, want %s", i, out.Extend, s.extend)
				}
				if s.want != "" && !strings.HasPrefix(out.Reason, s.first) {
					t.Errorf("step %d: reason\n  %s\nwant prefix\n  %s", i, out.Reason, s.first)
				}
				if s.want == TimedOut && out.Phase == "" {
					t.Errorf("step %d: TIMED_OUT without a phase", i)
				}
			}
		})
	}
}

func TestClassifyStop(t *testing.T) {
	tests := []struct {
		code   types.TaskStopCode
		reason string
		want   StopClass
	}{
		{types.TaskStopCodeTaskFailedToStart, "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.us-east-1.amazonaws.com/\": dial tcp 10.0.2.15:443: i/o timeout", StopTransient},
		{types.TaskStopCodeTaskFailedToStart, "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref registry.local/conveyor/api@sha256:00: registry.local/conveyor/api@sha256:00: not found", StopPermanent},
		{types.TaskStopCodeTaskFailedToStart, "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has failed to be retried: ResourceNotFoundException: Secrets Manager can't find the specified secret.", StopPermanent},
		{types.TaskStopCodeTaskFailedToStart, "ResourceInitializationError: unable to pull secrets or registry auth: AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue", StopPermanent},
		{types.TaskStopCodeTaskFailedToStart, "ResourceInitializationError: unable to pull secrets or registry auth: ThrottlingException: Rate exceeded", StopTransient},
		{types.TaskStopCodeTaskFailedToStart, "Task failed to start", StopFailure},
		{types.TaskStopCodeEssentialContainerExited, "Essential container in task exited", StopFailure},
		{types.TaskStopCodeServiceSchedulerInitiated, "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/1)", StopFailure},
		{types.TaskStopCodeServiceSchedulerInitiated, "Task failed container health checks", StopFailure},
		{types.TaskStopCodeServiceSchedulerInitiated, "Scaling activity initiated by (deployment ecs-svc/1234)", StopExpected},
		{types.TaskStopCodeUserInitiated, "Task stopped by user", StopExpected},
		{types.TaskStopCodeSpotInterruption, "Your Spot Task was interrupted.", StopExpected},
	}
	for _, tc := range tests {
		if got := classifyStop(tc.code, tc.reason); got != tc.want {
			t.Errorf("%s %q: %s, want %s", tc.code, tc.reason, got, tc.want)
		}
	}
}
