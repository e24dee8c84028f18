package rollout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

// Watcher watches deployments to their verdicts in one poll loop: each
// round reads every pending deployment (gather), then Decide settles what it
// can. Reads are DescribeServices (counts, events), ListServiceDeployments
// and DescribeServiceDeployments (the status a verdict rests on), and
// ListTasks/DescribeTasks (digests, stop reasons, the timeline).
type Watcher struct {
	API API
	// Poll is the interval between rounds (default DefaultPoll). Throttling doubles
	// it, up to MaxPoll (default 1 min); quiet rounds bring it back.
	Poll, MaxPoll time.Duration
	// Settle is how long a SUCCESSFUL deployment must hold (default: Poll).
	Settle time.Duration
	// Logf prints progress (default: nowhere).
	Logf func(format string, args ...any)

	// Stats
	Rounds, Throttled, ReadErrors int
}

// DefaultPoll is the interval between rounds when none is given.
const DefaultPoll = 5 * time.Second

var unhealthyRE = regexp.MustCompile(`\(task ([0-9a-f]+)\) \(port \d+\) is unhealthy in \(target-group [^)]*\) due to \(reason (.*)\)\.?$`)

// watched is one deployment being watched.
type watched struct {
	r *Result
	// deadline ends the deployment's own watch; hard ends everything,
	// ECS's rollback of it included.
	deadline, hard time.Time
	mem            Memory
	done           bool
	seenEvent      map[string]bool
	seenStopped    map[string]bool
	elb            map[string]string // task id → unhealthy reason
	// counts are the deployment's task counts when its tasks were last
	// read (tasksRead says they were).
	counts    [4]int32
	tasksRead bool
}

// Watch polls until every result has a verdict. Each result's watch ends
// at its Deadline (ECS's own rollback of it may run to HardDeadline); at the
// deadline one last read decides, and if ECS cannot be read the verdict is
// UNKNOWN. Results whose Verdict is already set are skipped.
func (w *Watcher) Watch(ctx context.Context, results []*Result) {
	poll := w.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	maxPoll := max(w.MaxPoll, poll)
	if w.MaxPoll <= 0 {
		maxPoll = max(time.Minute, poll)
	}
	settle := w.Settle
	if settle < 0 {
		settle = 0
	} else if settle == 0 {
		settle = poll
	}
	var all []*watched
	for _, r := range results {
		if r.Verdict != "" {
			continue
		}
		x := &watched{r: r, deadline: r.Deadline, hard: r.HardDeadline, seenEvent: map[string]bool{}, seenStopped: map[string]bool{}, elb: map[string]string{}}
		if x.hard.Before(x.deadline) {
			x.hard = x.deadline
		}
		for id := range r.knownEvents {
			x.seenEvent[id] = true
		}
		all = append(all, x)
	}
	interval := poll
	for {
		now := time.Now()
		var pending []*watched
		final := map[*watched]bool{}
		for _, x := range all {
			if x.done {
				continue
			}
			pending = append(pending, x)
			final[x] = x.isFinal(now)
		}
		if len(pending) == 0 {
			return
		}
		w.Rounds++
		if cause := ctx.Err(); cause != nil {
			// The runner cancelled the job: one last read, on a context
			// of its own (the cancelled one fails every call), decides
			// what can be decided; the rest is UNKNOWN. Looping on would
			// spin until the deadline on reads that cannot succeed.
			w.logf("the run was cancelled (%v): reading ECS once more for the verdicts", cause)
			last, stop := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
			w.roundWith(last, pending, final, settle, cause)
			stop()
			return
		}
		throttled := w.round(ctx, pending, final, settle)
		if throttled {
			interval = min(interval*2, maxPoll)
			w.logf("ECS is throttling reads: next poll in %s", interval)
		} else if interval > poll {
			interval = max(poll, interval/2)
		}
		if !anyPending(all) {
			return
		}
		// Sleep until the next poll or the next deadline, whichever is
		// first, so a verdict comes at most one poll after its deadline.
		wake := time.Now().Add(interval)
		for _, x := range all {
			if !x.done {
				if d := x.nextDeadline(); d.Before(wake) {
					wake = d
				}
			}
		}
		if wait := time.Until(wake); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

func anyPending(all []*watched) bool {
	for _, x := range all {
		if !x.done {
			return true
		}
	}
	return false
}

// isFinal says whether this round is the deployment's last: its deadline
// passed, unless ECS is rolling it back and the hard deadline has not.
func (x *watched) isFinal(now time.Time) bool {
	return !now.Before(x.nextDeadline())
}

func (x *watched) nextDeadline() time.Time {
	if rollingBack(x.mem.Status) {
		return x.hard
	}
	return x.deadline
}

func rollingBack(s types.ServiceDeploymentStatus) bool {
	return s == types.ServiceDeploymentStatusRollbackRequested || s == types.ServiceDeploymentStatusRollbackInProgress
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
// whole loop instead of hammering one call. The final read of a deployment
// keeps the SDK's retries: it is the last chance to know.
func noRetry(o *ecs.Options) { o.RetryMaxAttempts = 1 }

func retries(final bool) func(*ecs.Options) {
	if final {
		return func(o *ecs.Options) { o.RetryMaxAttempts = 4 }
	}
	return noRetry
}

// cancelGrace bounds the last read after a cancel: GitHub's runner sends
// SIGTERM 7.5 s after SIGINT and kills 2.5 s later, and the outputs and
// the summary must be written before that.
const cancelGrace = 5 * time.Second

// round reads every pending deployment once, cluster by cluster, and
// decides what it can. It reports whether ECS throttled a read.
func (w *Watcher) round(ctx context.Context, pending []*watched, final map[*watched]bool, settle time.Duration) bool {
	return w.roundWith(ctx, pending, final, settle, nil)
}

// roundWith is round; cancelled, when set, makes it every deployment's
// last (Policy.Cancelled).
func (w *Watcher) roundWith(ctx context.Context, pending []*watched, final map[*watched]bool, settle time.Duration, cancelled error) bool {
	byCluster := map[string][]*watched{}
	var clusters []string
	for _, x := range pending {
		if byCluster[x.r.Cluster] == nil {
			clusters = append(clusters, x.r.Cluster)
		}
		byCluster[x.r.Cluster] = append(byCluster[x.r.Cluster], x)
	}
	throttled := false
	for _, c := range clusters {
		xs := byCluster[c]
		anyFinal := false
		for _, x := range xs {
			anyFinal = anyFinal || final[x]
		}
		opt := retries(anyFinal)
		if cancelled != nil {
			opt = noRetry // no time for the SDK's backoff
		}
		rounds := w.gather(ctx, c, xs, opt)
		for _, x := range xs {
			rd := rounds[x]
			for _, err := range []error{rd.Err, rd.TasksErr} {
				if err == nil {
					continue
				}
				w.ReadErrors++
				if isThrottle(err) {
					w.Throttled++
					throttled = true
				} else {
					w.logf("%s: reading ECS failed (not evidence; will read again): %v", x.r.Service, err)
				}
			}
			was := x.mem.Status
			fin := final[x]
			if fin && rd.Err == nil && rd.SD != nil && rollingBack(rd.SD.Status) && time.Now().Before(x.hard) {
				// ECS began rolling back since the last read: its
				// rollback is watched until the hard deadline, which
				// the final flag (decided on the older status) missed.
				fin = false
			}
			out, mem := Decide(x.mem, rd, Policy{Settle: settle, Final: fin, Timeout: roundDuration(x.nextDeadline().Sub(x.r.Started)), Cancelled: cancelled})
			x.mem = mem
			if mem.Status != was {
				w.logf("%s: service deployment %s: %s (%s)", x.r.Service, x.r.ServiceDeployment, mem.Status, mem.Phase)
			}
			if out.Extend > 0 {
				// Found SUCCESSFUL at the deadline: one more read after
				// the rest of the settle window decides.
				later := time.Now().Add(out.Extend)
				x.deadline = later
				if later.After(x.hard) {
					x.hard = later
				}
				w.logf("%s: SUCCESSFUL at the deadline; reading once more in %s to finish the settle window", x.r.Service, out.Extend.Round(time.Millisecond))
			}
			if out.Verdict != "" {
				w.finish(ctx, x, out, rd)
			}
		}
	}
	return throttled
}

// gather reads one round for the deployments of one cluster. A failed read
// fails the round of every deployment it concerned.
func (w *Watcher) gather(ctx context.Context, cluster string, xs []*watched, opt func(*ecs.Options)) map[*watched]Round {
	now := time.Now()
	rounds := map[*watched]Round{}
	fail := func(x *watched, err error) {
		if rounds[x].Err == nil {
			rounds[x] = Round{At: now, Err: err}
		}
	}
	// Services, ten per call (DescribeServices' limit).
	svcs := map[string]types.Service{}
	var names []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x.r.Service] {
			seen[x.r.Service] = true
			names = append(names, x.r.Service)
		}
	}
	for i := 0; i < len(names); i += 10 {
		batch := names[i:min(i+10, len(names))]
		out, err := w.API.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch}, opt)
		if err != nil {
			for _, x := range xs {
				if slices.Contains(batch, x.r.Service) {
					fail(x, fmt.Errorf("describe services %s in cluster %s: %w", strings.Join(batch, ", "), cluster, err))
				}
			}
			continue
		}
		for _, s := range out.Services {
			svcs[aws.ToString(s.ServiceName)] = s
		}
		for _, f := range out.Failures {
			for _, x := range xs {
				if strings.HasSuffix(aws.ToString(f.Arn), "/"+x.r.Service) {
					fail(x, fmt.Errorf("service %s is not in cluster %s (%s)", x.r.Service, cluster, aws.ToString(f.Reason)))
				}
			}
		}
	}
	// Find each deployment's service deployment, then describe them all.
	var arns []string
	for _, x := range xs {
		if rounds[x].Err != nil {
			continue
		}
		if x.r.ServiceDeployment == "" {
			arn, err := findServiceDeployment(ctx, w.API, x.r, opt)
			if err != nil {
				fail(x, err)
				continue
			}
			if arn != "" {
				x.r.ServiceDeployment = arn
				w.logf("%s: %s %s is service deployment %s", x.r.Service, x.r.Kind, x.r.DeploymentID, arn)
			}
		}
		if x.r.ServiceDeployment != "" {
			arns = append(arns, x.r.ServiceDeployment)
		}
	}
	sds := map[string]*types.ServiceDeployment{}
	var sdErr error
	for i := 0; i < len(arns); i += 20 {
		out, err := w.API.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: arns[i:min(i+20, len(arns))]}, opt)
		if err != nil {
			sdErr = fmt.Errorf("describe service deployments: %w", err)
			break
		}
		for j := range out.ServiceDeployments {
			d := &out.ServiceDeployments[j]
			sds[aws.ToString(d.ServiceDeploymentArn)] = d
		}
	}
	for _, x := range xs {
		if rounds[x].Err != nil {
			continue
		}
		if sdErr != nil && x.r.ServiceDeployment != "" {
			fail(x, sdErr)
			continue
		}
		svc := svcs[x.r.Service]
		rd := Round{At: now, ServiceDesired: svc.DesiredCount, ServiceRunning: svc.RunningCount, RollbackOn: rollbackOn(svc.DeploymentConfiguration)}
		if x.r.ServiceDeployment != "" {
			rd.SD = sds[x.r.ServiceDeployment]
			if rd.SD == nil {
				fail(x, fmt.Errorf("service deployment %s of %s: ECS did not return it", x.r.ServiceDeployment, x.r.Service))
				continue
			}
			if dc := rd.SD.DeploymentConfiguration; dc != nil && dc.DeploymentCircuitBreaker != nil {
				rd.RollbackOn = rollbackOn(dc)
			}
		}
		for _, d := range svc.Deployments {
			if aws.ToString(d.Id) == x.r.DeploymentID {
				rd.Desired, rd.Running, rd.Pending, rd.FailedTasks = d.DesiredCount, d.RunningCount, d.PendingCount, d.FailedTasks
			}
		}
		w.events(x, svc)
		if rd.SD != nil && (rd.SD.Status == types.ServiceDeploymentStatusStopped || rd.SD.Status == types.ServiceDeploymentStatusStopRequested ||
			rd.SD.Status == types.ServiceDeploymentStatusSuccessful && !isPrimary(svc, x.r.DeploymentID)) {
			newer, err := newerServiceDeployment(ctx, w.API, x.r, rd.SD, opt)
			if err != nil {
				fail(x, err)
				continue
			}
			rd.Newer = newer
		}
		// Tasks are read when their story changed or a SUCCESSFUL
		// deployment needs its digests and crashes checked: every call
		// spends the account's shared read budget.
		counts := [4]int32{rd.Running, rd.Pending, rd.FailedTasks, rd.ServiceRunning}
		if rd.SD != nil && (rd.SD.Status == types.ServiceDeploymentStatusSuccessful || counts != x.counts || !x.tasksRead) {
			if err := w.tasks(ctx, x, &rd, opt); err != nil {
				rd.TasksErr = err
			} else {
				x.counts, x.tasksRead = counts, true
			}
		}
		rounds[x] = rd
	}
	return rounds
}

// isPrimary says whether the service's PRIMARY deployment is id: once
// another deployment is PRIMARY, a newer service deployment took over.
func isPrimary(svc types.Service, id string) bool {
	for _, d := range svc.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.Id) == id
		}
	}
	return true // no deployments listed: nothing says otherwise
}

// roundDuration rounds a timeout for a reason: to the second, or to the
// tenth of a second under ten seconds (a 600ms timeout is not "1s").
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func rollbackOn(dc *types.DeploymentConfiguration) bool {
	return dc != nil && dc.DeploymentCircuitBreaker != nil && dc.DeploymentCircuitBreaker.Enable && dc.DeploymentCircuitBreaker.Rollback
}

// tasks reads the service's running tasks (digest check, timeline) and the
// deployment's newly stopped ones (evidence, stop classes).
func (w *Watcher) tasks(ctx context.Context, x *watched, rd *Round, opt func(*ecs.Options)) error {
	r := x.r
	running, err := listTasks(ctx, w.API, r, types.DesiredStatusRunning, opt)
	if err != nil {
		return err
	}
	stopped, err := listTasks(ctx, w.API, r, types.DesiredStatusStopped, opt)
	if err != nil {
		return err
	}
	arns := append([]string{}, running...)
	for _, a := range stopped {
		if !x.seenStopped[a] {
			arns = append(arns, a)
		}
	}
	var tasks []types.Task
	for i := 0; i < len(arns); i += 100 {
		out, err := w.API.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(r.Cluster), Tasks: arns[i:min(i+100, len(arns))]}, opt)
		if err != nil {
			return fmt.Errorf("describe tasks of %s: %w", r.Service, err)
		}
		tasks = append(tasks, out.Tasks...)
	}
	sort.Slice(tasks, func(i, j int) bool { return aws.ToTime(tasks[i].CreatedAt).Before(aws.ToTime(tasks[j].CreatedAt)) })
	for _, t := range tasks {
		r.timeline().observe(t, r.DeploymentID)
		arn := aws.ToString(t.TaskArn)
		id := taskID(arn)
		if aws.ToString(t.LastStatus) == "STOPPED" {
			if x.seenStopped[arn] {
				continue
			}
			x.seenStopped[arn] = true
			if aws.ToTime(t.CreatedAt).Before(r.Created) {
				continue // history from before this deployment
			}
			line := describeStopped(t, x.elb)
			r.Evidence = append(r.Evidence, line)
			if aws.ToString(t.StartedBy) != r.DeploymentID {
				continue
			}
			w.logf("%s: %s", r.Service, line)
			st := StoppedTask{ID: id, Code: t.StopCode, At: aws.ToTime(t.StoppedAt), Line: line,
				Class: classifyStop(t.StopCode, stopReasons(t)...)}
			rd.Stopped = append(rd.Stopped, st)
			continue
		}
		if aws.ToString(t.DesiredStatus) != "RUNNING" || aws.ToString(t.LastStatus) != "RUNNING" {
			continue
		}
		if why := x.stranger(t); why != "" {
			rd.Strangers = append(rd.Strangers, why)
		}
	}
	return nil
}

// maxTaskPages bounds one ListTasks walk (100 tasks a page).
const maxTaskPages = 20

// listTasks lists every task of r's service with the desired status, page
// by page: ECS returns 100 a page in no documented order, and stopped
// tasks stay listed for an hour, so the first page of a service that
// crash-looped before the deploy may hold none of the deployment's own.
func listTasks(ctx context.Context, api API, r *Result, status types.DesiredStatus, opt func(*ecs.Options)) ([]string, error) {
	in := &ecs.ListTasksInput{Cluster: aws.String(r.Cluster), ServiceName: aws.String(r.Service), DesiredStatus: status}
	var arns []string
	for page := 0; page < maxTaskPages; page++ {
		out, err := api.ListTasks(ctx, in, opt)
		if err != nil {
			return nil, fmt.Errorf("list %s tasks of %s: %w", strings.ToLower(string(status)), r.Service, err)
		}
		arns = append(arns, out.TaskArns...)
		if out.NextToken == nil {
			return arns, nil
		}
		in.NextToken = out.NextToken
	}
	return nil, fmt.Errorf("list %s tasks of %s: more than %d pages of %d: not evidence", strings.ToLower(string(status)), r.Service, maxTaskPages, 100)
}

// stranger says why a running task is not the deployment's target, or "".
func (x *watched) stranger(t types.Task) string {
	r := x.r
	id := taskID(aws.ToString(t.TaskArn))
	if td := aws.ToString(t.TaskDefinitionArn); td != r.NewTaskDef {
		return fmt.Sprintf("running task %s uses %s, not %s", id, plan.ShortTaskDef(td), plan.ShortTaskDef(r.NewTaskDef))
	}
	for _, c := range t.Containers {
		want, pinned := r.Digests[aws.ToString(c.Name)]
		if pinned && aws.ToString(c.ImageDigest) != "" && aws.ToString(c.ImageDigest) != want {
			return fmt.Sprintf("running task %s container %s uses digest %s, not the pinned %s", id, aws.ToString(c.Name), aws.ToString(c.ImageDigest), want)
		}
	}
	return ""
}

func stopReasons(t types.Task) []string {
	out := []string{aws.ToString(t.StoppedReason)}
	for _, c := range t.Containers {
		out = append(out, aws.ToString(c.Reason))
	}
	return out
}

// findServiceDeployment finds the service deployment UpdateService started
// for r: the newest one of the service, created no earlier than r's
// deployment, whose target revision runs r's task definition. "" means ECS
// does not list it yet.
func findServiceDeployment(ctx context.Context, api API, r *Result, opt func(*ecs.Options)) (string, error) {
	in := &ecs.ListServiceDeploymentsInput{Cluster: aws.String(r.Cluster), Service: aws.String(r.Service)}
	if !r.Created.IsZero() {
		in.CreatedAt = &types.CreatedAt{After: aws.Time(r.Created.Add(-time.Second))}
	}
	out, err := api.ListServiceDeployments(ctx, in, opt)
	if err != nil {
		return "", fmt.Errorf("list service deployments of %s: %w", r.Service, err)
	}
	var revs []string
	byRev := map[string]string{}
	for _, b := range out.ServiceDeployments {
		rev := aws.ToString(b.TargetServiceRevisionArn)
		if rev != "" && byRev[rev] == "" {
			revs = append(revs, rev)
			byRev[rev] = aws.ToString(b.ServiceDeploymentArn)
		}
	}
	if len(revs) == 0 {
		return "", nil
	}
	tds, err := revisionTaskDefs(ctx, api, revs, opt)
	if err != nil {
		return "", err
	}
	for _, b := range out.ServiceDeployments { // newest first
		if tds[aws.ToString(b.TargetServiceRevisionArn)] == r.NewTaskDef {
			return aws.ToString(b.ServiceDeploymentArn), nil
		}
	}
	return "", nil
}

// revisionTaskDefs maps service revision ARNs to their task definitions.
func revisionTaskDefs(ctx context.Context, api API, arns []string, opt func(*ecs.Options)) (map[string]string, error) {
	revs, err := describeRevisions(ctx, api, arns, opt)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for arn, rev := range revs {
		m[arn] = aws.ToString(rev.TaskDefinition)
	}
	return m, nil
}

// describeRevisions describes service revisions, twenty a call
// (DescribeServiceRevisions' limit), by ARN.
func describeRevisions(ctx context.Context, api API, arns []string, opt func(*ecs.Options)) (map[string]types.ServiceRevision, error) {
	m := map[string]types.ServiceRevision{}
	if opt == nil {
		opt = func(*ecs.Options) {}
	}
	for i := 0; i < len(arns); i += 20 {
		out, err := api.DescribeServiceRevisions(ctx, &ecs.DescribeServiceRevisionsInput{ServiceRevisionArns: arns[i:min(i+20, len(arns))]}, opt)
		if err != nil {
			return nil, fmt.Errorf("describe service revisions: %w", err)
		}
		for _, rev := range out.ServiceRevisions {
			m[aws.ToString(rev.ServiceRevisionArn)] = rev
		}
	}
	return m, nil
}

// newerServiceDeployment is a service deployment of r's service created
// after sd, if any.
func newerServiceDeployment(ctx context.Context, api API, r *Result, sd *types.ServiceDeployment, opt func(*ecs.Options)) (*types.ServiceDeploymentBrief, error) {
	out, err := api.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String(r.Cluster), Service: aws.String(r.Service),
		CreatedAt: &types.CreatedAt{After: sd.CreatedAt}}, opt)
	if err != nil {
		return nil, fmt.Errorf("list service deployments of %s: %w", r.Service, err)
	}
	for i := range out.ServiceDeployments {
		b := &out.ServiceDeployments[i]
		if aws.ToString(b.ServiceDeploymentArn) != aws.ToString(sd.ServiceDeploymentArn) && aws.ToTime(b.CreatedAt).After(aws.ToTime(sd.CreatedAt)) {
			return b, nil
		}
	}
	return nil, nil
}

// finish records a verdict, and for a deployment ECS rolled back, the
// rollback it made.
func (w *Watcher) finish(ctx context.Context, x *watched, out Outcome, rd Round) {
	x.done = true
	r := x.r
	r.Verdict, r.Reason, r.Phase, r.Ended = out.Verdict, out.Reason, out.Phase, time.Now()
	if rd.SD != nil {
		r.ECSStatus = rd.SD.Status
		if cb := rd.SD.DeploymentCircuitBreaker; cb != nil {
			r.FailedTasks, r.Threshold = cb.FailureCount, cb.Threshold
		}
		r.timeline().mark(rd.SD)
		if rb := rd.SD.Rollback; rb != nil && (out.Verdict == RolledBack || out.Verdict == RollbackFailed || out.Verdict == TimedOut) {
			by := "ECS"
			if cb := rd.SD.DeploymentCircuitBreaker; cb != nil && cb.Status == types.ServiceDeploymentRollbackMonitorsStatusTriggered {
				by = "ECS circuit breaker"
			} else if a := rd.SD.Alarms; a != nil && a.Status == types.ServiceDeploymentRollbackMonitorsStatusTriggered {
				by = "ECS deployment alarm " + strings.Join(a.TriggeredAlarmNames, ", ")
			}
			rbr := &Result{Cluster: r.Cluster, Service: r.Service, Kind: KindRollback, By: by, OldTaskDef: r.NewTaskDef,
				Started: aws.ToTime(rb.StartedAt), Ended: r.Ended, Reason: aws.ToString(rb.Reason)}
			switch out.Verdict {
			case RolledBack:
				rbr.Verdict = Succeeded
			case RollbackFailed:
				rbr.Verdict = Failed
			default:
				rbr.Verdict = TimedOut
			}
			if rev := aws.ToString(rb.ServiceRevisionArn); rev != "" {
				if tds, err := revisionTaskDefs(ctx, w.API, []string{rev}, nil); err == nil {
					rbr.NewTaskDef = tds[rev]
				} else {
					rbr.NewTaskDef = rev
					w.logf("%s: could not read the rollback's revision %s: %v", r.Service, rev, err)
				}
			}
			r.Rollback = rbr
		}
	}
	w.logf("%s: %s %s: %s: %s", r.Service, r.Kind, r.DeploymentID, out.Verdict, out.Reason)
}

// events prints the service's new events, oldest first, once each.
func (w *Watcher) events(x *watched, svc types.Service) {
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

func digestList(m map[string]string) string {
	if len(m) == 0 {
		return "the target task definition"
	}
	return digestPairs(m, "=")
}
