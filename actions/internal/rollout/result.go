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
	UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	ListTasks(context.Context, *ecs.ListTasksInput, ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(context.Context, *ecs.DescribeTasksInput, ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

// Verdict is how a deployment ended.
type Verdict string

const (
	// Succeeded: the deployment COMPLETED and the running tasks use the
	// pinned digests.
	Succeeded Verdict = "SUCCEEDED"
	// RolledBack: the circuit breaker failed the deployment and ECS rolled
	// back (Result.Rollback says whether that completed).
	RolledBack Verdict = "ROLLED_BACK"
	// Failed: the deployment failed and ECS did not roll back, or it hit an
	// error that never heals.
	Failed Verdict = "FAILED"
	// TimedOut: still in progress at the timeout (Result.Phase says where).
	TimedOut Verdict = "TIMED_OUT"
	// Superseded: another deployment took over.
	Superseded Verdict = "SUPERSEDED"
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
	DeploymentID     string
	OldTaskDef       string
	NewTaskDef       string
	Digests          map[string]string // container → pinned digest
	Started, Ended   time.Time

	Verdict Verdict
	Reason  string // one sentence: why this verdict
	Phase   string // TIMED_OUT: the phase that stalled
	// FailedTasks and Threshold are the circuit breaker's count at the end.
	FailedTasks, Threshold int32
	// RollbackTarget is the task definition of the last COMPLETED
	// deployment before this one ("" if none ever completed).
	RollbackTarget string
	// Rollback is the rollback that followed, by ECS or by conveyor.
	Rollback *Result
	// Evidence: events and stopped tasks, oldest first.
	Evidence []string
	Warnings []string

	// knownEvents are the service's event ids from before this deployment:
	// history, not evidence.
	knownEvents map[string]bool
	// live is the task definition the deployment replaced.
	live *types.TaskDefinition
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

// RollbackCompleted says whether a rollback followed and completed.
func (r *Result) RollbackCompleted() bool {
	return r.Rollback != nil && r.Rollback.Verdict == Succeeded
}
