package rollout

import (
	"context"
	"errors"
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
	// Timeout bounds the whole run, rollbacks included (default 30 min).
	Timeout time.Duration
	// RollbackBudget is the part of Timeout kept for a rollback after a
	// failed deploy (default: a third of Timeout).
	RollbackBudget time.Duration
	Poll           time.Duration
	// Settle is how long a SUCCESSFUL deployment must hold (default: Poll;
	// negative: not at all).
	Settle time.Duration
	// Force deploys even when the services already run the digests.
	Force bool
	// Logf and Warnf print progress and pre-deploy warnings.
	Logf, Warnf func(format string, args ...any)
	Assumptions plan.Assumptions
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 30 * time.Minute
	}
	return o.Timeout
}

// RollbackBudgetOrDefault is the part of the timeout a rollback gets.
func (o Options) RollbackBudgetOrDefault() time.Duration {
	if o.RollbackBudget > 0 {
		return min(o.RollbackBudget, o.timeout())
	}
	// A third, to the tenth of a second: the summary shows the split.
	return max((o.timeout() / 3).Round(100*time.Millisecond), min(o.timeout()/3, time.Millisecond))
}

func (o Options) watcher(api API) *Watcher {
	settle := o.Settle
	if settle == 0 {
		// One poll, but never more than a tenth of the timeout: a
		// settle window that outlasts the run makes it overrun the
		// timeout that bounds it (a 30 s poll with a 900 ms timeout).
		poll := o.Poll
		if poll <= 0 {
			poll = DefaultPoll
		}
		settle = max(min(poll, o.timeout()/10), time.Millisecond)
	}
	return &Watcher{API: api, Poll: o.Poll, Settle: settle, Logf: o.Logf}
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o Options) warnf(format string, args ...any) {
	if o.Warnf != nil {
		o.Warnf(format, args...)
	}
}

// Deploy rolls the image map out to every service in parallel and watches
// them in one loop. The deploy gets the timeout minus the rollback budget
// (when rollback is set); a deployment that FAILED or TIMED_OUT without an
// ECS rollback is then rolled back by conveyor, to the last service
// deployment that succeeded, within what is left of the timeout. It
// returns one result per service, in the order given; the error is for
// problems before any service was touched.
func Deploy(ctx context.Context, api API, o Options, images map[string]plan.Image, gitSHA string, rollback bool) ([]*Result, *Watcher, error) {
	start := time.Now()
	hard := start.Add(o.timeout())
	deadline := hard
	if rollback {
		deadline = hard.Add(-o.RollbackBudgetOrDefault())
	}
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
			r, err := Start(ctx, api, o.Cluster, svc, images, gitSHA, o.Force)
			if err != nil {
				r.Verdict, r.Reason, r.Ended = Failed, err.Error(), time.Now()
			}
			if r.live != nil {
				r.Warnings = plan.Warnings(svc, r.live, deadline.Sub(start), o.Assumptions)
			}
			r.Deadline, r.HardDeadline = deadline, hard
			results[i] = r
		}()
	}
	wg.Wait()
	for _, r := range results {
		for _, wmsg := range r.Warnings {
			o.warnf("%s", wmsg)
		}
		if r.DeploymentID != "" {
			o.logf("%s: deployment %s: %s → %s (%s)", r.Service, r.DeploymentID, plan.ShortTaskDef(r.OldTaskDef), plan.ShortTaskDef(r.NewTaskDef), digestList(r.Digests))
		} else if r.Verdict == Succeeded {
			o.logf("%s: %s", r.Service, r.Reason)
		}
	}
	w := o.watcher(api)
	w.Watch(ctx, results)
	if rollback && ctx.Err() != nil {
		// A cancelled run starts nothing it cannot watch: the runner
		// kills it seconds later.
		for _, r := range results {
			if (r.Verdict == Failed || r.Verdict == TimedOut) && r.Rollback == nil && r.DeploymentID != "" {
				r.Reason += fmt.Sprintf("; the run was cancelled (%v) before conveyor rolled back: the service may still be on %s",
					ctx.Err(), plan.ShortTaskDef(r.NewTaskDef))
			}
		}
	} else if rollback {
		RollBackFailures(ctx, api, o, results, w, hard)
	}
	return results, w, nil
}

// RollBackFailures rolls back the deployments that FAILED or TIMED_OUT
// without an ECS rollback, to the last service deployment before them that
// succeeded, watches the rollbacks until hard, and folds each outcome into
// its deployment's verdict: ROLLED_BACK or ROLLBACK_FAILED. An UNKNOWN
// deployment is never rolled back: it may have succeeded.
func RollBackFailures(ctx context.Context, api API, o Options, results []*Result, w *Watcher, hard time.Time) {
	var rbs []*Result
	var parents []*Result
	for _, r := range results {
		if r.Verdict != Failed && r.Verdict != TimedOut || r.Rollback != nil || r.DeploymentID == "" {
			continue
		}
		if r.Verdict == TimedOut && r.ECSStatus == types.ServiceDeploymentStatusSuccessful {
			// Short of tasks at the deadline with none failed (a
			// scale-out still placing them): a rollback would replace
			// healthy tasks with ones that must start too.
			r.Reason += "; conveyor did not roll back: ECS reported the deployment SUCCESSFUL and none of its tasks failed, so a rollback would replace healthy tasks; " +
				"watch the service, or run the rollback workflow if it does not reach its desired count"
			continue
		}
		target, from, err := LastSuccessful(ctx, api, r.Cluster, r.Service, r.ServiceDeployment)
		if err != nil {
			r.Reason += "; conveyor did not roll back: " + err.Error()
			continue
		}
		svcs, err := DescribeAll(ctx, api, r.Cluster, []string{r.Service})
		if err != nil {
			r.Reason += "; conveyor's rollback did not start: " + err.Error()
			continue
		}
		td, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(target)})
		if err == nil {
			err = deployable(r.Service, td.TaskDefinition)
		}
		if err != nil {
			r.Reason += fmt.Sprintf("; conveyor's rollback to %s did not start: %v", plan.ShortTaskDef(target), err)
			continue
		}
		rb, err := StartRollback(ctx, api, r.Cluster, svcs[r.Service], td.TaskDefinition, "conveyor")
		r.Rollback = rb
		rb.Deadline, rb.HardDeadline = hard, hard
		if err != nil {
			rb.Verdict, rb.Reason, rb.Ended = Failed, err.Error(), time.Now()
		} else {
			o.logf("%s: rolling back with deployment %s to %s (what service deployment %s ran), %s left", r.Service, rb.DeploymentID,
				plan.ShortTaskDef(rb.NewTaskDef), from, time.Until(hard).Round(time.Second))
			rbs = append(rbs, rb)
		}
		parents = append(parents, r)
	}
	if len(rbs) > 0 {
		w.Watch(ctx, rbs)
	}
	for _, r := range parents {
		rb := r.Rollback
		r.Cause = r.Verdict
		switch rb.Verdict {
		case Succeeded:
			r.Verdict = RolledBack
		case Superseded, Unknown:
			// Someone else's deployment replaced the rollback, or the
			// rollback's outcome is unknown: ROLLBACK_FAILED would send
			// the operator to roll back again, over what now runs.
			r.Verdict = rb.Verdict
		default:
			r.Verdict = RollbackFailed
		}
		r.Reason += fmt.Sprintf("; conveyor rolled back to %s: %s: %s", plan.ShortTaskDef(rb.NewTaskDef), rb.Verdict, rb.Reason)
		if rb.Ended.After(r.Ended) {
			r.Ended = rb.Ended
		}
	}
}

// Rollback sends each service back to a target (plan.ParseTarget) and
// watches the rollbacks. Every target is resolved before any service is
// touched; a target of another task definition family is an input error
// (*TargetError) and nothing is rolled back.
func Rollback(ctx context.Context, api API, o Options, target plan.Target) ([]*Result, *Watcher, error) {
	start := time.Now()
	hard := start.Add(o.timeout())
	svcs, err := DescribeAll(ctx, api, o.Cluster, o.Services)
	if err != nil {
		return nil, nil, err
	}
	results := make([]*Result, len(o.Services))
	var todo []*Result
	tds := make([]*types.TaskDefinition, len(o.Services))
	for i, name := range o.Services {
		svc := svcs[name]
		td, err := ResolveTarget(ctx, api, o.Cluster, svc, target)
		if err != nil {
			var te *TargetError
			if errors.As(err, &te) {
				return nil, nil, te
			}
			results[i] = &Result{Cluster: o.Cluster, Service: name, Kind: KindRollback, By: "conveyor", OldTaskDef: aws.ToString(svc.TaskDefinition),
				Verdict: Failed, Reason: err.Error(), Started: start, Ended: time.Now()}
			continue
		}
		tds[i] = td
	}
	for i, name := range o.Services {
		if results[i] != nil {
			continue
		}
		svc, td := svcs[name], tds[i]
		if steadyOn(svc, aws.ToString(td.TaskDefinitionArn)) {
			results[i] = &Result{Cluster: o.Cluster, Service: name, Kind: KindRollback, By: "conveyor", OldTaskDef: aws.ToString(svc.TaskDefinition),
				NewTaskDef: aws.ToString(td.TaskDefinitionArn), Digests: plan.Digests(td), Verdict: Succeeded, Started: start, Ended: time.Now(),
				Reason: fmt.Sprintf("%s already runs %s, steady: nothing to do, no deployment started", name, plan.ShortTaskDef(aws.ToString(td.TaskDefinitionArn)))}
			continue
		}
		r, err := StartRollback(ctx, api, o.Cluster, svc, td, "conveyor")
		r.Deadline, r.HardDeadline = hard, hard
		if err != nil {
			r.Verdict, r.Reason, r.Ended = Failed, err.Error(), time.Now()
		}
		results[i] = r
		todo = append(todo, r)
	}
	w := o.watcher(api)
	w.Watch(ctx, todo)
	return results, w, nil
}
