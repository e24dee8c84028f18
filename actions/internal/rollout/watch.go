package rollout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

// Watcher watches deployments to their verdicts in one poll loop.
type Watcher struct {
	API API
	// Poll is the interval between rounds (default 5 s). Throttling doubles
	// it, up to MaxPoll (default 1 min); quiet rounds bring it back.
	Poll, MaxPoll time.Duration
	// Timeout bounds each deployment, from its start (default 30 min).
	Timeout time.Duration
	// Logf prints progress (default: nowhere).
	Logf func(format string, args ...any)

	// Stats
	Rounds, Throttled int
}

// neverHeals are stop reasons that no retry fixes: a missing image or tag,
// registry auth, a secret or parameter that does not exist.
var neverHeals = []string{"CannotPullContainerError", "ResourceInitializationError"}

var unhealthyRE = regexp.MustCompile(`\(task ([0-9a-f]+)\) \(port \d+\) is unhealthy in \(target-group [^)]*\) due to \(reason (.*)\)\.?$`)

type watched struct {
	r          *Result
	deadline   time.Time
	seenEvent  map[string]bool
	seenTask   map[string]bool
	elb        map[string]string // task id → unhealthy reason
	lastFailed int32
	last       *types.Service
	parent     *watched // for an ECS rollback: the deployment that failed
	done       bool
	// verifying: the deployment COMPLETED; only the running tasks' digests
	// remain to be checked (runningArns caches the listing between tries).
	verifying   bool
	runningArns []string
	// stopping: a task of this deployment was told to stop but has not
	// STOPPED yet (it drains first); its reasons are still to be read.
	stopping bool
}

// Watch polls until every result has a verdict; it fills Verdict, Reason,
// Phase, Evidence and Ended. Results whose Verdict is already set are
// skipped. An ECS rollback is watched too and put in Result.Rollback.
func (w *Watcher) Watch(ctx context.Context, results []*Result) {
	poll := w.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	maxPoll := w.MaxPoll
	if maxPoll <= 0 {
		maxPoll = time.Minute
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	var all []*watched
	for _, r := range results {
		if r.Verdict != "" {
			continue
		}
		seen := map[string]bool{}
		for id := range r.knownEvents {
			seen[id] = true
		}
		all = append(all, &watched{r: r, deadline: r.Started.Add(timeout), seenEvent: seen, seenTask: map[string]bool{}, elb: map[string]string{}})
	}
	interval := poll
	for {
		throttled := w.round(ctx, &all, timeout)
		if throttled {
			interval = min(interval*2, maxPoll)
			w.logf("ECS is throttling reads: next poll in %s", interval)
		} else if interval > poll {
			interval = max(poll, interval/2)
		}
		pending := 0
		for _, x := range all {
			if !x.done {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if ctx.Err() != nil {
			for _, x := range all {
				if !x.done {
					w.finish(x, TimedOut, "the watch was cancelled: "+ctx.Err().Error())
					x.r.Phase = phase(x)
				}
			}
			return
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func (w *Watcher) logf(format string, args ...any) {
	if w.Logf != nil {
		w.Logf(format, args...)
	}
}

func isThrottle(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException":
			return true
		}
	}
	return false
}

// noRetry leaves throttling to the watcher's own backoff, which slows the
// whole loop instead of hammering one call.
func noRetry(o *ecs.Options) { o.RetryMaxAttempts = 1 }

// round describes every pending service once and evaluates it. It reports
// whether ECS throttled any call.
func (w *Watcher) round(ctx context.Context, all *[]*watched, timeout time.Duration) bool {
	w.Rounds++
	byCluster := map[string][]*watched{}
	var clusters []string
	throttled := false
	for _, x := range *all {
		if x.done || throttled {
			continue
		}
		if x.verifying {
			// ECS already said COMPLETED: describing again would spend
			// the read budget the digest check needs.
			if err := w.verify(ctx, x); err != nil {
				throttled = w.readFailed(x, err)
			}
			continue
		}
		if byCluster[x.r.Cluster] == nil {
			clusters = append(clusters, x.r.Cluster)
		}
		byCluster[x.r.Cluster] = append(byCluster[x.r.Cluster], x)
	}
	for _, c := range clusters {
		xs := byCluster[c]
		var names []string
		seen := map[string]bool{}
		for _, x := range xs {
			if !seen[x.r.Service] {
				seen[x.r.Service] = true
				names = append(names, x.r.Service)
			}
		}
		for i := 0; i < len(names) && !throttled; i += 10 {
			batch := names[i:min(i+10, len(names))]
			out, err := w.API.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(c), Services: batch}, noRetry)
			if err != nil {
				if w.countThrottle(err) {
					throttled = true
					break
				}
				w.logf("describe services %s in %s failed (will retry): %v", strings.Join(batch, ", "), c, err)
				continue
			}
			for _, svc := range out.Services {
				for _, x := range xs {
					if x.r.Service == aws.ToString(svc.ServiceName) && !x.done {
						s := svc
						if w.evaluate(ctx, x, &s, all, timeout) {
							throttled = true
						}
					}
				}
			}
			for _, f := range out.Failures {
				for _, x := range xs {
					if strings.HasSuffix(aws.ToString(f.Arn), "/"+x.r.Service) && !x.done {
						w.finish(x, Failed, fmt.Sprintf("service %s disappeared from cluster %s (%s)", x.r.Service, c, aws.ToString(f.Reason)))
					}
				}
			}
		}
	}
	now := time.Now()
	for _, x := range *all {
		if !x.done && now.After(x.deadline) {
			x.r.Phase = phase(x)
			w.finish(x, TimedOut, fmt.Sprintf("deployment %s was still in progress after %s; stalled while %s", x.r.DeploymentID, timeout, x.r.Phase))
		}
	}
	return throttled
}

func findDeployment(svc *types.Service, id string) (*types.Deployment, *types.Deployment) {
	var mine, primary *types.Deployment
	for i := range svc.Deployments {
		d := &svc.Deployments[i]
		if aws.ToString(d.Id) == id {
			mine = d
		}
		if aws.ToString(d.Status) == "PRIMARY" && primary == nil {
			primary = d
		}
	}
	return mine, primary
}

// evaluate looks at one service and maybe settles its verdict. It reports
// whether a follow-up read was throttled.
func (w *Watcher) evaluate(ctx context.Context, x *watched, svc *types.Service, all *[]*watched, timeout time.Duration) bool {
	r := x.r
	x.last = svc
	w.events(x, svc)
	d, primary := findDeployment(svc, r.DeploymentID)
	throttled := false
	if d != nil {
		r.FailedTasks = d.FailedTasks
		r.Threshold = plan.Threshold(d.DesiredCount)
		if d.FailedTasks != x.lastFailed || x.stopping {
			breaker := "circuit breaker off"
			if breakerOn(svc) {
				breaker = fmt.Sprintf("circuit breaker %d/%d", d.FailedTasks, r.Threshold)
			}
			w.logf("%s: deployment %s: %d failed tasks (%s)", r.Service, r.DeploymentID, d.FailedTasks, breaker)
			var err error
			var fatal string
			if fatal, err = w.stoppedTasks(ctx, x); err != nil {
				throttled = w.countThrottle(err)
			} else if !x.stopping {
				x.lastFailed = d.FailedTasks
			}
			if fatal != "" {
				w.finish(x, Failed, fmt.Sprintf("deployment %s cannot succeed: %s (this error does not heal with retries)", r.DeploymentID, fatal))
				return throttled
			}
		}
	}
	if p := x.parent; p != nil && p.stopping {
		// The failed deployment's last tasks drain while the rollback
		// runs: their stop reasons are the evidence.
		if _, err := w.stoppedTasks(ctx, p); err != nil && w.countThrottle(err) {
			throttled = true
		}
	}
	newer := primary != nil && aws.ToString(primary.Id) != r.DeploymentID
	rollingBack := newer && (strings.Contains(aws.ToString(primary.RolloutStateReason), "rolling back") ||
		(d != nil && d.RolloutState == types.DeploymentRolloutStateFailed))
	switch {
	case d != nil && d.RolloutState == types.DeploymentRolloutStateCompleted && !newer:
		x.verifying = true
		if err := w.verify(ctx, x); err != nil && w.readFailed(x, err) {
			return true
		}
	case rollingBack:
		reason := aws.ToString(primary.RolloutStateReason)
		if d != nil && d.RolloutStateReason != nil {
			reason = aws.ToString(d.RolloutStateReason)
		}
		w.finish(x, RolledBack, fmt.Sprintf("ECS failed deployment %s (%s) and is rolling back with deployment %s to %s", r.DeploymentID, reason,
			aws.ToString(primary.Id), plan.ShortTaskDef(aws.ToString(primary.TaskDefinition))))
		rb := &Result{Cluster: r.Cluster, Service: r.Service, Kind: KindRollback, By: "ECS circuit breaker", DeploymentID: aws.ToString(primary.Id),
			OldTaskDef: r.NewTaskDef, NewTaskDef: aws.ToString(primary.TaskDefinition), Started: time.Now()}
		r.Rollback = rb
		child := &watched{r: rb, deadline: time.Now().Add(timeout), seenEvent: x.seenEvent, seenTask: map[string]bool{}, elb: x.elb, parent: x}
		*all = append(*all, child)
		w.evaluate(ctx, child, svc, all, timeout)
	case d != nil && d.RolloutState == types.DeploymentRolloutStateFailed:
		why := fmt.Sprintf("ECS failed deployment %s (%s)", r.DeploymentID, aws.ToString(d.RolloutStateReason))
		if r.Kind == KindDeploy {
			why += "; ECS did not roll back: no earlier deployment of this service COMPLETED, so there is nothing to roll back to and the service stalls retrying"
		}
		w.finish(x, Failed, why)
	case newer:
		w.finish(x, Superseded, fmt.Sprintf("deployment %s (%s) took over from %s", aws.ToString(primary.Id),
			plan.ShortTaskDef(aws.ToString(primary.TaskDefinition)), r.DeploymentID))
	case d == nil:
		w.finish(x, Failed, fmt.Sprintf("deployment %s is no longer listed and no other deployment is PRIMARY", r.DeploymentID))
	}
	return throttled
}

func digestList(m map[string]string) string {
	if len(m) == 0 {
		return "the target task definition"
	}
	return digestPairs(m, "=")
}

func (w *Watcher) finish(x *watched, v Verdict, reason string) {
	if x.done {
		return
	}
	x.done = true
	x.r.Verdict, x.r.Reason, x.r.Ended = v, reason, time.Now()
	w.logf("%s: %s %s: %s — %s", x.r.Service, x.r.Kind, x.r.DeploymentID, v, reason)
	if x.parent != nil {
		x.parent.r.Ended = x.r.Ended
		x.parent.r.Evidence = append(x.parent.r.Evidence, x.r.Evidence...)
		x.r.Evidence = nil
	}
}

// events prints the service's new events, oldest first, once each.
func (w *Watcher) events(x *watched, svc *types.Service) {
	for i := len(svc.Events) - 1; i >= 0; i-- {
		e := svc.Events[i]
		id := aws.ToString(e.Id)
		if x.seenEvent[id] {
			continue
		}
		x.seenEvent[id] = true
		msg := aws.ToString(e.Message)
		if m := unhealthyRE.FindStringSubmatch(msg); m != nil {
			x.elb[m[1]] = m[2]
		}
		w.logf("%s: event: %s", x.r.Service, msg)
		x.r.Evidence = append(x.r.Evidence, "event: "+msg)
	}
}

// stoppedTasks records the deployment's newly stopped tasks and returns a
// never-healing reason if one of them has it.
func (w *Watcher) stoppedTasks(ctx context.Context, x *watched) (string, error) {
	r := x.r
	list, err := w.API.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(r.Cluster), StartedBy: aws.String(r.DeploymentID),
		DesiredStatus: types.DesiredStatusStopped}, noRetry)
	if err != nil {
		return "", fmt.Errorf("list stopped tasks of %s: %w", r.DeploymentID, err)
	}
	x.stopping = false
	var fresh []string
	for _, arn := range list.TaskArns {
		if !x.seenTask[arn] {
			fresh = append(fresh, arn)
		}
	}
	if len(fresh) == 0 {
		return "", nil
	}
	out, err := w.API.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(r.Cluster), Tasks: fresh[:min(len(fresh), 100)]}, noRetry)
	if err != nil {
		return "", fmt.Errorf("describe stopped tasks of %s: %w", r.DeploymentID, err)
	}
	fatal := ""
	sort.Slice(out.Tasks, func(i, j int) bool {
		return aws.ToTime(out.Tasks[i].StoppedAt).Before(aws.ToTime(out.Tasks[j].StoppedAt))
	})
	for _, t := range out.Tasks {
		if t.LastStatus == nil || *t.LastStatus != "STOPPED" {
			x.stopping = true // still draining: look again next time
			continue
		}
		arn := aws.ToString(t.TaskArn)
		x.seenTask[arn] = true
		line := describeStopped(t, x.elb)
		w.logf("%s: %s", r.Service, line)
		r.Evidence = append(r.Evidence, line)
		for _, s := range neverHeals {
			text := aws.ToString(t.StoppedReason)
			for _, c := range t.Containers {
				text += " " + aws.ToString(c.Reason)
			}
			if strings.Contains(text, s) && fatal == "" {
				fatal = fmt.Sprintf("task %s stopped with %s", taskID(arn), strings.TrimSpace(aws.ToString(t.StoppedReason)))
			}
		}
	}
	return fatal, nil
}

// taskID is the last part of a task ARN, the id ECS prints in its events.
func taskID(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func describeStopped(t types.Task, elb map[string]string) string {
	id := taskID(aws.ToString(t.TaskArn))
	var b strings.Builder
	fmt.Fprintf(&b, "stopped task %s (%s): stop code %s, reason %q", id, plan.ShortTaskDef(aws.ToString(t.TaskDefinitionArn)), t.StopCode, aws.ToString(t.StoppedReason))
	for _, c := range t.Containers {
		if c.ExitCode != nil {
			fmt.Fprintf(&b, "; container %s exit code %d", aws.ToString(c.Name), *c.ExitCode)
		}
		if c.Reason != nil {
			fmt.Fprintf(&b, "; container %s: %s", aws.ToString(c.Name), aws.ToString(c.Reason))
		}
	}
	if why := elb[id]; why != "" {
		fmt.Fprintf(&b, "; ELB: %s", why)
	}
	return b.String()
}

// countThrottle counts err in Throttled if ECS throttled the read, and
// reports whether it did.
func (w *Watcher) countThrottle(err error) bool {
	if !isThrottle(err) {
		return false
	}
	w.Throttled++
	return true
}

// readFailed counts a failed follow-up read and reports whether it was
// throttling.
func (w *Watcher) readFailed(x *watched, err error) bool {
	if w.countThrottle(err) {
		return true
	}
	w.logf("%s: %v (will retry)", x.r.Service, err)
	return false
}

// verify settles a COMPLETED deployment: SUCCEEDED once the running tasks
// are the deployment's and use the pinned digests; FAILED if, at the
// deadline, other tasks still run.
func (w *Watcher) verify(ctx context.Context, x *watched) error {
	r := x.r
	desired := int32(-1)
	if x.last != nil {
		desired = x.last.DesiredCount
	}
	ok, why, err := w.runningDigests(ctx, x, desired)
	if err != nil {
		return err
	}
	if ok {
		w.finish(x, Succeeded, fmt.Sprintf("deployment %s COMPLETED; %d running tasks use %s", r.DeploymentID, max(desired, 0), digestList(r.Digests)))
	} else if time.Now().After(x.deadline) {
		w.finish(x, Failed, "deployment "+r.DeploymentID+" COMPLETED but "+why)
	}
	return nil
}

// runningDigests checks that the service's running tasks are the
// deployment's and use the pinned digests.
func (w *Watcher) runningDigests(ctx context.Context, x *watched, desired int32) (bool, string, error) {
	r := x.r
	if x.runningArns == nil {
		list, err := w.API.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(r.Cluster), ServiceName: aws.String(r.Service), DesiredStatus: types.DesiredStatusRunning}, noRetry)
		if err != nil {
			return false, "", fmt.Errorf("list running tasks of %s: %w", r.Service, err)
		}
		x.runningArns = list.TaskArns
	}
	arns := x.runningArns
	if len(arns) == 0 {
		x.runningArns = nil
		return desired == 0, fmt.Sprintf("no task of %s is running", r.Service), nil
	}
	out, err := w.API.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(r.Cluster), Tasks: arns[:min(len(arns), 100)]}, noRetry)
	if err != nil {
		return false, "", fmt.Errorf("describe running tasks of %s: %w", r.Service, err)
	}
	x.runningArns = nil
	for _, t := range out.Tasks {
		id := taskID(aws.ToString(t.TaskArn))
		if aws.ToString(t.TaskDefinitionArn) != r.NewTaskDef {
			return false, fmt.Sprintf("running task %s uses %s, not %s", id, plan.ShortTaskDef(aws.ToString(t.TaskDefinitionArn)), plan.ShortTaskDef(r.NewTaskDef)), nil
		}
		for _, c := range t.Containers {
			want, pinned := r.Digests[aws.ToString(c.Name)]
			if pinned && aws.ToString(c.ImageDigest) != "" && aws.ToString(c.ImageDigest) != want {
				return false, fmt.Sprintf("running task %s container %s uses digest %s, not the pinned %s", id, aws.ToString(c.Name), aws.ToString(c.ImageDigest), want), nil
			}
		}
	}
	return true, "", nil
}

// breakerOn reports whether ECS counts failed tasks against the deployment
// circuit breaker for this service.
func breakerOn(svc *types.Service) bool {
	dc := svc.DeploymentConfiguration
	return dc != nil && dc.DeploymentCircuitBreaker != nil && dc.DeploymentCircuitBreaker.Enable
}

// phase names what a stalled deployment was waiting for.
func phase(x *watched) string {
	svc := x.last
	if svc == nil {
		return "waiting for the first DescribeServices answer (ECS never answered)"
	}
	d, _ := findDeployment(svc, x.r.DeploymentID)
	if d == nil {
		return "waiting for deployment " + x.r.DeploymentID + " to appear"
	}
	var oldTasks int32
	for _, o := range svc.Deployments {
		if aws.ToString(o.Id) != x.r.DeploymentID {
			oldTasks += o.RunningCount + o.PendingCount
		}
	}
	breaker := "no circuit breaker"
	if breakerOn(svc) {
		breaker = fmt.Sprintf("circuit breaker %d/%d", d.FailedTasks, plan.Threshold(d.DesiredCount))
	}
	switch {
	case d.RolloutState == types.DeploymentRolloutStateCompleted:
		return "verifying that the running tasks use the pinned digests (ECS said COMPLETED; the checks were throttled or old tasks still ran)"
	case d.FailedTasks > 0 && d.RunningCount < d.DesiredCount:
		return fmt.Sprintf("starting tasks: %d failed so far, %d of %d running (%s)", d.FailedTasks, d.RunningCount, d.DesiredCount, breaker)
	case d.PendingCount > 0:
		return fmt.Sprintf("starting tasks: %d of %d still PENDING (provisioning or pulling the image), %d running", d.PendingCount, d.DesiredCount, d.RunningCount)
	case d.RunningCount < d.DesiredCount:
		return fmt.Sprintf("placing tasks: %d of %d running and none pending (maximumPercent may leave no room while minimumHealthyPercent keeps old tasks)", d.RunningCount, d.DesiredCount)
	case oldTasks > 0 && len(svc.LoadBalancers) > 0:
		return fmt.Sprintf("health checks: all %d new tasks run but %d old tasks wait for them to pass load-balancer health checks (or to drain)", d.RunningCount, oldTasks)
	case oldTasks > 0:
		return fmt.Sprintf("draining: %d old tasks still running", oldTasks)
	}
	return "steady state: every task runs but ECS has not marked the deployment COMPLETED"
}
