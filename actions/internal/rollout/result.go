// Package rollout calls ECS to deploy and roll back services and watches the
// deployments it creates to an honest verdict: one poll loop for every
// service, DescribeServices ten at a time, backing off when throttled, with
// the events, the stopped tasks and the circuit breaker's count as evidence.
// What to deploy is decided in package plan.
package rollout

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// API is the part of the ECS client rollout uses; *ecs.Client satisfies it.
type API interface {
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(context.Context, *ecs.DescribeTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(context.Context, *ecs.RegisterTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	ListTaskDefinitions(context.Context, *ecs.ListTaskDefinitionsInput, ...func(*ecs.Options)) (*ecs.ListTaskDefinitionsOutput, error)
	ListServiceDeployments(context.Context, *ecs.ListServiceDeploymentsInput, ...func(*ecs.Options)) (*ecs.ListServiceDeploymentsOutput, error)
	DescribeServiceDeployments(context.Context, *ecs.DescribeServiceDeploymentsInput, ...func(*ecs.Options)) (*ecs.DescribeServiceDeploymentsOutput, error)
	DescribeServiceRevisions(context.Context, *ecs.DescribeServiceRevisionsInput, ...func(*ecs.Options)) (*ecs.DescribeServiceRevisionsOutput, error)
	UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	ListTasks(context.Context, *ecs.ListTasksInput, ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(context.Context, *ecs.DescribeTasksInput, ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

// Verdict is how a deployment ended.
type Verdict string

const (
	// Succeeded: ECS reported the service deployment SUCCESSFUL and every
	// desired task ran the pinned digests through the settle window.
	Succeeded Verdict = "SUCCEEDED"
	// RolledBack: the deployment failed and a rollback (by ECS or by
	// conveyor) brought the service back and succeeded.
	RolledBack Verdict = "ROLLED_BACK"
	// RollbackFailed: the deployment failed and so did the rollback.
	RollbackFailed Verdict = "ROLLBACK_FAILED"
	// Failed: the deployment failed and nothing rolled it back.
	Failed Verdict = "FAILED"
	// TimedOut: ECS still had it in progress at the deadline
	// (Result.Phase says where it stood).
	TimedOut Verdict = "TIMED_OUT"
	// Superseded: another service deployment replaced it.
	Superseded Verdict = "SUPERSEDED"
	// Unknown: ECS could not be read at the deadline, so nothing can be
	// said; the deployment may still succeed.
	Unknown Verdict = "UNKNOWN"
)

// Kind says whether a deployment rolls forward or back.
type Kind string

const (
	KindDeploy   Kind = "deploy"
	KindRollback Kind = "rollback"
)

// Result is one deployment and what became of it.
type Result struct {
	Cluster, Service string
	Kind             Kind
	By               string // who started it: "conveyor" or "ECS circuit breaker"
	// DeploymentID is the ecs-svc/… deployment UpdateService created and
	// ServiceDeployment the service deployment ECS tracks it as.
	DeploymentID      string
	ServiceDeployment string
	OldTaskDef        string
	NewTaskDef        string
	Digests           map[string]string // container → pinned digest
	Started, Ended    time.Time
	// Created is when ECS created the deployment, by ECS's clock.
	Created time.Time
	// Deadline ends the watch of this deployment; HardDeadline ends the
	// whole run (ECS's rollback of it may be watched until then).
	Deadline, HardDeadline time.Time

	Verdict Verdict
	Reason  string // why this verdict
	Phase   string // TIMED_OUT: where the deployment stood
	// Cause is the verdict before conveyor's own rollback (FAILED or
	// TIMED_OUT) when Rollback is conveyor's.
	Cause Verdict
	// ECSStatus is the service deployment's status at the verdict.
	ECSStatus types.ServiceDeploymentStatus
	// FailedTasks and Threshold are the circuit breaker's count at the end.
	FailedTasks, Threshold int32
	// Rollback is the rollback that followed, by ECS or by conveyor.
	Rollback *Result
	// Evidence: events and stopped tasks, oldest first.
	Evidence []string
	Warnings []string
	// LogGroup is the awslogs group of the task definition, for the
	// annotation's next step.
	LogGroup string

	// knownEvents are the service's event ids from before this deployment:
	// history, not evidence.
	knownEvents map[string]bool
	// live is the task definition the deployment replaced.
	live *types.TaskDefinition
	tl   *Timeline
}

func (r *Result) knowEvents(svc types.Service) {
	r.knownEvents = map[string]bool{}
	for _, e := range svc.Events {
		r.knownEvents[aws.ToString(e.Id)] = true
	}
}

// Duration is how long the deployment was watched.
func (r *Result) Duration() time.Duration {
	if r.Ended.IsZero() {
		return 0
	}
	return r.Ended.Sub(r.Started).Round(time.Second)
}

// OK says whether the service ended where it was sent.
func (r *Result) OK() bool { return r.Verdict == Succeeded }
