package rollout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

// Options configure a deploy or a rollback run.
type Options struct {
	Cluster  string
	Services []string
	Timeout  time.Duration
	Poll     time.Duration
	// Logf and Warnf print progress and pre-deploy warnings.
	Logf, Warnf func(format string, args ...any)
	Assumptions plan.Assumptions
}

func (o Options) watcher(api API) *Watcher {
	return &Watcher{API: api, Poll: o.Poll, Timeout: o.Timeout, Logf: o.Logf}
}

func (o Options) warnf(format string, args ...any) {
	if o.Warnf != nil {
		o.Warnf(format, args...)
	}
}

// Deploy rolls the image map out to every service in parallel and watches
// them in one loop. When a deployment fails or times out and ECS did not roll
// it back, Deploy rolls it back to the last COMPLETED task definition itself
// (if rollback is set) and watches that too. It returns one result per
// service, in the order given; the error is for problems before any service
// was touched.
func Deploy(ctx context.Context, api API, o Options, images map[string]plan.Image, gitSHA string, rollback bool) ([]*Result, *Watcher, error) {
	svcs, err := DescribeAll(ctx, api, o.Cluster, o.Services)
	if err != nil {
		return nil, nil, err
	}
	results := make([]*Result, len(o.Services))
	var wg sync.WaitGroup
	for i, name := range o.Services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := svcs[name]
			r, err := Start(ctx, api, o.Cluster, svc, images, gitSHA)
			if err != nil {
				r.Verdict, r.Reason, r.Ended = Failed, err.Error(), time.Now()
			}
			if r.live != nil {
				r.Warnings = plan.Warnings(svc, r.live, o.Timeout, o.Assumptions)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	for _, r := range results {
		for _, wmsg := range r.Warnings {
			o.warnf("%s", wmsg)
		}
		if r.DeploymentID != "" && o.Logf != nil {
			o.Logf("%s: deployment %s: %s → %s (%s)", r.Service, r.DeploymentID, plan.ShortTaskDef(r.OldTaskDef), plan.ShortTaskDef(r.NewTaskDef), digestList(r.Digests))
		}
	}
	w := o.watcher(api)
	w.Watch(ctx, results)
	if rollback {
		RollBackFailures(ctx, api, o, results, w)
	}
	return results, w, nil
}

// RollBackFailures rolls back, to their recorded targets, the deployments
// that failed or timed out without an ECS rollback, and watches the
// rollbacks in one loop.
func RollBackFailures(ctx context.Context, api API, o Options, results []*Result, w *Watcher) {
	var rbs []*Result
	for _, r := range results {
		if r.Verdict != Failed && r.Verdict != TimedOut || r.Rollback != nil || r.DeploymentID == "" {
			continue
		}
		if r.RollbackTarget == "" {
			r.Reason += "; conveyor cannot roll back either: " + ErrNoRollbackTarget.Error()
			continue
		}
		svcs, err := DescribeAll(ctx, api, r.Cluster, []string{r.Service})
		if err != nil {
			r.Reason += "; rollback not started: " + err.Error()
			continue
		}
		td, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(r.RollbackTarget)})
		if err != nil {
			r.Reason += fmt.Sprintf("; rollback to %s not started: %v", plan.ShortTaskDef(r.RollbackTarget), err)
			continue
		}
		rb, err := StartRollback(ctx, api, r.Cluster, svcs[r.Service], td.TaskDefinition, "conveyor")
		r.Rollback = rb
		if err != nil {
			rb.Verdict, rb.Reason, rb.Ended = Failed, err.Error(), time.Now()
			continue
		}
		if o.Logf != nil {
			o.Logf("%s: rolling back with deployment %s to %s", r.Service, rb.DeploymentID, plan.ShortTaskDef(rb.NewTaskDef))
		}
		rbs = append(rbs, rb)
	}
	if len(rbs) > 0 {
		w.Watch(ctx, rbs)
	}
}

// Rollback sends each service back to a target (plan.ParseTarget) and
// watches the rollbacks.
func Rollback(ctx context.Context, api API, o Options, target plan.Target) ([]*Result, *Watcher, error) {
	svcs, err := DescribeAll(ctx, api, o.Cluster, o.Services)
	if err != nil {
		return nil, nil, err
	}
	results := make([]*Result, len(o.Services))
	for i, name := range o.Services {
		svc := svcs[name]
		td, err := ResolveTarget(ctx, api, svc, target)
		if err != nil {
			results[i] = &Result{Cluster: o.Cluster, Service: name, Kind: KindRollback, By: "conveyor", OldTaskDef: aws.ToString(svc.TaskDefinition),
				Verdict: Failed, Reason: err.Error(), Started: time.Now(), Ended: time.Now()}
			continue
		}
		if done := alreadyThere(svc, td); done {
			results[i] = &Result{Cluster: o.Cluster, Service: name, Kind: KindRollback, By: "conveyor", OldTaskDef: aws.ToString(svc.TaskDefinition),
				NewTaskDef: aws.ToString(td.TaskDefinitionArn), Digests: plan.Digests(td), Verdict: Succeeded, Started: time.Now(), Ended: time.Now(),
				Reason: fmt.Sprintf("already running %s in a COMPLETED deployment; nothing to do", plan.ShortTaskDef(aws.ToString(td.TaskDefinitionArn)))}
			continue
		}
		r, err := StartRollback(ctx, api, o.Cluster, svc, td, "conveyor")
		if err != nil {
			r.Verdict, r.Reason, r.Ended = Failed, err.Error(), time.Now()
		}
		results[i] = r
	}
	w := o.watcher(api)
	w.Watch(ctx, results)
	return results, w, nil
}

func alreadyThere(svc types.Service, td *types.TaskDefinition) bool {
	if len(svc.Deployments) != 1 {
		return false
	}
	d := svc.Deployments[0]
	return aws.ToString(d.TaskDefinition) == aws.ToString(td.TaskDefinitionArn) && d.RolloutState == types.DeploymentRolloutStateCompleted
}
