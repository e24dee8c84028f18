package ecsstandin

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// The deployment state machine. Time moves in one-second virtual ticks each
// time the server is touched, so the state is exactly what it would be had
// the scheduler run continuously.

const (
	stoppedRetention = time.Hour // ECS shows stopped tasks for about an hour
	maxEvents        = 100       // DescribeServices keeps the latest 100 events
)

type cluster struct {
	name, arn string
	services  map[string]*service
	tasks     map[string]*task // by task ARN
}

type service struct {
	name, arn string
	cluster   *cluster
	created   time.Time
	taskDef   string // the PRIMARY deployment's task definition ARN
	desired   int
	minPct    int
	maxPct    int
	breaker   bool
	rollback  bool
	// resetOnHealthy, thresholdType and thresholdValue are the circuit
	// breaker's DeploymentCircuitBreaker.resetOnHealthyTask and
	// thresholdConfiguration (defaults true, BOUNDED_PERCENT, 50).
	resetOnHealthy bool
	thresholdType  string
	thresholdValue int
	sdeps          []*serviceDeployment // service deployments, oldest first
	inactive       []*deployment        // replaced deployments, for Stats
	grace          int
	lbs            []loadBalancer
	launchType     string
	network        any
	deployments    []*deployment // [0] is PRIMARY
	completed      []*deployment // deployments that reached COMPLETED, oldest first
	events         []event       // newest first
	nextEvent      int
	steady         bool // a steady-state event was written for the current PRIMARY
}

type loadBalancer struct {
	TargetGroupArn string `json:"targetGroupArn,omitempty"`
	ContainerName  string `json:"containerName,omitempty"`
	ContainerPort  int    `json:"containerPort,omitempty"`
}

type deployment struct {
	id, status, taskDef string
	rollout, reason     string
	failed              int // consecutive failed tasks (failedTasks)
	rev                 *serviceRevision
	sd                  *serviceDeployment // the service deployment that started it
	// rollbackOf is the service deployment whose failure this deployment
	// rolls back (nil for a deployment started by Create/UpdateService).
	rollbackOf       *serviceDeployment
	created, updated time.Time
	terminalAt       time.Time // when rollout left IN_PROGRESS
}

type event struct {
	id      string
	created time.Time
	message string
}

type task struct {
	arn, id      string
	svc          *service
	dep          *deployment
	taskDef      string
	containers   []ContainerSpec
	handle       Handle
	lastStatus   string
	desired      string
	created      time.Time
	startedAt    time.Time
	stoppingAt   time.Time
	stoppedAt    time.Time
	deregUntil   time.Time
	stopCode     string
	reason       string
	exitCodes    map[string]int
	ctrReasons   map[string]string
	digests      map[string]string
	health       string // target health: "", "healthy", "unhealthy"
	registered   bool
	failureTaken bool
}

// threshold is the circuit breaker's default failure threshold for a desired
// count: ceil(0.5 × desired) clamped to [3, 200] (SDCB: "a minimum threshold
// of 3 and a maximum threshold of 200 ... 0.5 * desired task count").
func threshold(desired int) int { return breakerThreshold("", 0, desired) }

// breakerThreshold is the failure threshold for a thresholdConfiguration
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ThresholdConfiguration.html):
// "For the percentage types (BOUNDED_PERCENT and UNBOUNDED_PERCENT), Amazon
// ECS multiplies value by the latest service desired count. For COUNT, Amazon
// ECS uses value directly as the threshold. The default is BOUNDED_PERCENT"
// with value 50. BOUNDED keeps SDCB's bounds [3, 200]; UNBOUNDED drops them.
// Two choices of ours where AWS documents nothing: the percentage rounds up
// (as the bounded default, ceil(0.5 × desired), does), and an unbounded
// threshold is at least 1, since a threshold of 0 would fail a deployment
// before any task ran.
func breakerThreshold(typ string, value, desired int) int {
	if typ == "" {
		typ, value = "BOUNDED_PERCENT", 50
	}
	switch typ {
	case "COUNT":
		return value
	case "UNBOUNDED_PERCENT":
		return max(1, int(math.Ceil(float64(value)*float64(desired)/100)))
	}
	t := int(math.Ceil(float64(value) * float64(desired) / 100))
	return min(max(t, 3), 200)
}

// minHealthy rounds up and maxTotal rounds down, as ECS documents.
func minHealthy(desired, pct int) int {
	return int(math.Ceil(float64(desired) * float64(pct) / 100))
}

func maxTotal(desired, pct int) int {
	return int(math.Floor(float64(desired) * float64(pct) / 100))
}

func (s *service) primary() *deployment {
	if len(s.deployments) == 0 {
		return nil
	}
	return s.deployments[0]
}

func (s *service) addEvent(now time.Time, format string, args ...any) {
	s.nextEvent++
	e := event{id: fmt.Sprintf("%s-%d", shortID(s.arn), s.nextEvent), created: now,
		message: fmt.Sprintf(format, args...)}
	s.events = append([]event{e}, s.events...)
	if len(s.events) > maxEvents {
		s.events = s.events[:maxEvents]
	}
}

func shortID(arn string) string {
	sum := uint32(2166136261)
	for i := 0; i < len(arn); i++ {
		sum = (sum ^ uint32(arn[i])) * 16777619
	}
	return fmt.Sprintf("%08x", sum)
}

func (s *service) targetGroup() string {
	if len(s.lbs) == 0 {
		return ""
	}
	return s.lbs[0].TargetGroupArn
}

func (s *service) tasks() []*task {
	var out []*task
	for _, t := range s.cluster.tasks {
		if t.svc == s {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].arn < out[j].arn
	})
	return out
}

func (t *task) live() bool { return t.desired != "STOPPED" && t.lastStatus != "STOPPED" }

// healthy: counts toward minimumHealthyPercent and toward completing a
// deployment. Behind a load balancer that is the target's health; without
// one, the container health check's (or, with none, having kept running
// through the scenario's HealthySeconds).
func (t *task) healthy() bool {
	return t.live() && t.lastStatus == "RUNNING" && t.health == "healthy"
}

// tick advances one service to virtual time now.
func (w *world) tick(s *service, now time.Time) {
	w.advanceServiceDeployments(s, now)
	w.observe(s, now)
	w.breaker(s, now)
	w.schedule(s, now)
	w.complete(s, now)
}

func (w *world) observe(s *service, now time.Time) {
	tg := s.targetGroup()
	for _, t := range s.tasks() {
		if t.lastStatus == "STOPPED" {
			continue
		}
		o := t.handle.Observe(now)
		if o.Digests != nil {
			t.digests = o.Digests
		}
		if t.desired == "STOPPED" {
			if t.lastStatus == "DEACTIVATING" && !now.Before(t.deregUntil) {
				t.handle.Stop(now)
				t.lastStatus = "STOPPING"
				continue
			}
			if o.Exited {
				w.finish(t, now, o)
			}
			continue
		}
		switch {
		case o.Exited:
			t.stopCode, t.reason = o.StopCode, o.Reason
			t.desired = "STOPPED"
			w.finish(t, now, o)
			w.countFailure(t)
		case o.Running && t.lastStatus != "RUNNING":
			t.lastStatus, t.startedAt = "RUNNING", now
			if tg != "" {
				t.registered = true
				s.addEvent(now, "(service %s) registered 1 targets in (target-group %s)", s.name, tg)
			}
		case t.lastStatus == "RUNNING" && o.Health != "" && t.health == "":
			graceOver := !now.Before(t.startedAt.Add(time.Duration(s.grace) * time.Second))
			if o.Health == "healthy" {
				t.health = "healthy"
				// resetOnHealthyTask (default true): "a task that reaches
				// a healthy state resets the failure count to 0"
				// (API_DeploymentCircuitBreaker.html); failedTasks is "the
				// number of consecutively failed tasks" (API_Deployment.html).
				if s.resetOnHealthy && t.dep != nil {
					t.dep.failed = 0
				}
				continue
			}
			if !graceOver {
				continue
			}
			t.health = "unhealthy"
			w.countFailure(t)
			if tg != "" {
				port := 0
				if len(s.lbs) > 0 {
					port = s.lbs[0].ContainerPort
				}
				s.addEvent(now, "(service %s) (task %s) (port %d) is unhealthy in (target-group %s) due to (reason %s)",
					s.name, t.id, port, tg, o.HealthReason)
				w.stopTask(t, now, "ServiceSchedulerInitiated", fmt.Sprintf("Task failed ELB health checks in (target-group %s)", tg))
			} else {
				s.addEvent(now, "(service %s) (task %s) failed container health checks.", s.name, t.id)
				w.stopTask(t, now, "ServiceSchedulerInitiated", "Task failed container health checks")
			}
		}
	}
}

func (w *world) countFailure(t *task) {
	if t.failureTaken || t.dep == nil {
		return
	}
	t.failureTaken = true
	t.dep.failed++
}

func (w *world) finish(t *task, now time.Time, o Observation) {
	t.lastStatus, t.desired, t.stoppedAt = "STOPPED", "STOPPED", now
	if t.stoppingAt.IsZero() {
		t.stoppingAt = now
	}
	if o.ExitCodes != nil {
		t.exitCodes = o.ExitCodes
	}
	if o.ContainerReasons != nil {
		t.ctrReasons = o.ContainerReasons
	}
	if o.Reason != "" && t.reason == "" {
		t.reason = o.Reason
	}
}

// stopTask is the scheduler stopping a task: deregister from the target
// group first (the deregistration delay), then SIGTERM.
func (w *world) stopTask(t *task, now time.Time, code, reason string) {
	if t.desired == "STOPPED" {
		return
	}
	t.desired, t.stoppingAt = "STOPPED", now
	if t.stopCode == "" {
		t.stopCode, t.reason = code, reason
	}
	if t.registered {
		t.lastStatus = "DEACTIVATING"
		t.deregUntil = now.Add(w.scenario().seconds(w.scenario().DeregistrationSeconds, 30))
		t.svc.addEvent(now, "(service %s) deregistered 1 targets in (target-group %s)", t.svc.name, t.svc.targetGroup())
		return
	}
	t.handle.Stop(now)
	t.lastStatus = "STOPPING"
}

// Reason texts ECS writes into a deployment's rolloutStateReason, and
// nothing else (no deployment ever says just "rolling back"):
//   - "ECS deployment circuit breaker: rolling back to deploymentId <id>.":
//     the rollback deployment's reason in the developer guide's example
//     events, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
//     ("The difference between the two is in the reason field").
//   - "ECS deployment circuit breaker: tasks failed to start.": a capture in
//     https://github.com/aws/containers-roadmap/issues/1488.
//   - "ECS deployment <id> in progress." and "ECS deployment <id>
//     completed.": captures of real describe-services output published in
//     public repositories (for example "ECS deployment
//     ecs-svc/2474979950726421586 completed." in an ECS Anywhere
//     walkthrough); a rollback deployment that completes says "completed."
//     like any other, which is why no verdict may look for "rolling back".
const (
	reasonInProgress  = "ECS deployment %s in progress."
	reasonCompleted   = "ECS deployment %s completed."
	reasonBreaker     = "ECS deployment circuit breaker: tasks failed to start."
	reasonRollingBack = "ECS deployment circuit breaker: rolling back to deploymentId %s."
)

// breaker fails the PRIMARY deployment once its consecutive failed tasks
// reach the threshold, and rolls back to the last deployment that completed
// when rollback is on ("the service is rolled back to the last deployment
// that completed successfully", API_DeploymentCircuitBreaker.html; the
// service deployment goes ROLLBACK_REQUESTED → ROLLBACK_IN_PROGRESS →
// ROLLBACK_SUCCESSFUL, SD-LIFE in servicedeploy.go; no new service revision
// is made, the last successful one is reused, SR-LIFE).
func (w *world) breaker(s *service, now time.Time) {
	p := s.primary()
	if p == nil || p.rollout != "IN_PROGRESS" || !s.breaker {
		return
	}
	th := breakerThreshold(s.thresholdType, s.thresholdValue, s.desired)
	if p.failed < th {
		return
	}
	p.rollout, p.updated, p.terminalAt = "FAILED", now, now
	p.reason = reasonBreaker
	s.addEvent(now, "(service %s) (deployment %s) deployment failed: tasks failed to start.", s.name, p.id)
	if sd := p.rollbackOf; sd != nil {
		// The rollback itself failed. ECS documents ROLLBACK_FAILED but not
		// what follows it. We choose the conservative behaviour: the service
		// deployment ends ROLLBACK_FAILED, the service keeps the failed
		// rollback deployment as PRIMARY (FAILED, launching no new tasks),
		// and nothing further happens automatically: no second rollback, no
		// retry of the original target. Anything else would be the
		// stand-in inventing a recovery ECS does not promise, and a watcher
		// tested against it could report a recovery that never happens.
		sd.breakerStatus, sd.threshold = "TRIGGERED", th
		sd.finish(w, sdRollbackFailed, now, fmt.Sprintf("ECS deployment circuit breaker: rollback deployment %s failed: tasks failed to start.", p.id))
		return
	}
	sd := p.sd
	if sd != nil {
		sd.breakerStatus, sd.threshold = "TRIGGERED", th
	}
	if !s.rollback {
		// SD-API stoppedAt: the deployment stops when "the rollback option
		// is not in use ... and the service fails".
		if sd != nil {
			sd.finish(w, sdStopped, now, reasonBreaker)
		}
		return
	}
	last := s.lastCompleted(p)
	if last == nil {
		// Nothing ever completed: there is nothing to roll back to. The
		// failed deployment launches no new tasks (API_Deployment.html
		// rolloutState: "A deployment in FAILED state doesn't launch any
		// new tasks") and the service deployment stops.
		if sd != nil {
			sd.finish(w, sdStopped, now, reasonBreaker+" No earlier service revision succeeded, so there is nothing to roll back to.")
		}
		return
	}
	r := w.rollBack(s, p, last, sd, now, fmt.Sprintf("Circuit breaker: %d tasks of deployment %s failed to start (threshold %d); rolling back to service revision %s.", p.failed, p.id, th, last.rev.arn))
	r.reason = fmt.Sprintf(reasonRollingBack, last.id)
	if sd != nil {
		sd.reason = reasonBreaker
	}
}

// lastCompleted is the deployment that completed last, other than p.
func (s *service) lastCompleted(p *deployment) *deployment {
	for i := len(s.completed) - 1; i >= 0; i-- {
		if s.completed[i] != p {
			return s.completed[i]
		}
	}
	return nil
}

// rollBack replaces PRIMARY p by a deployment of last's task definition and
// revision, and moves sd (p's service deployment) to ROLLBACK_REQUESTED.
func (w *world) rollBack(s *service, p, last *deployment, sd *serviceDeployment, now time.Time, why string) *deployment {
	r := w.newDeployment(s, last.taskDef, now)
	r.rev = last.rev
	p.status = "ACTIVE"
	s.deployments = append([]*deployment{r}, s.deployments...)
	s.taskDef = last.taskDef
	s.steady = false
	if sd != nil {
		r.rollbackOf = sd
		sd.status, sd.updated = sdRollbackRequested, now
		sd.rollbackDep, sd.rollbackStarted, sd.rollbackRevision, sd.rollbackReason = r, now, last.rev, why
	}
	return r
}

func (w *world) schedule(s *service, now time.Time) {
	p := s.primary()
	if p == nil || p.rollout == "FAILED" {
		// "A deployment in FAILED state doesn't launch any new tasks"
		// (API_Deployment.html, rolloutState).
		return
	}
	upper := maxTotal(s.desired, s.maxPct)
	lower := minHealthy(s.desired, s.minPct)
	var live, primaryLive, healthy int
	var old, mine []*task
	for _, t := range s.tasks() {
		if !t.live() {
			continue
		}
		live++
		if t.healthy() {
			healthy++
		}
		if t.dep == p {
			primaryLive++
			mine = append(mine, t)
		} else {
			old = append(old, t)
		}
	}
	// A scale-in (UpdateService with a lower desiredCount, which starts no
	// deployment: SD-LIFE lists the changes that do) shrinks the PRIMARY:
	// tasks that are not healthy go first, then the newest.
	if extra := primaryLive - s.desired; extra > 0 {
		sort.SliceStable(mine, func(i, j int) bool {
			if mine[i].healthy() != mine[j].healthy() {
				return !mine[i].healthy()
			}
			return mine[i].created.After(mine[j].created)
		})
		var stopped []string
		for _, t := range mine[:extra] {
			if t.healthy() {
				healthy--
			}
			w.stopTask(t, now, "ServiceSchedulerInitiated", "Scaling activity initiated by (service "+s.name+")")
			stopped = append(stopped, "(task "+t.id+")")
			primaryLive--
			live--
		}
		s.addEvent(now, "(service %s) has stopped %d running tasks: %s.", s.name, len(stopped), strings.Join(stopped, " "))
	}
	var started []string
	for primaryLive < s.desired && live < upper {
		t := w.launch(s, p, now)
		started = append(started, "(task "+t.id+")")
		primaryLive++
		live++
	}
	if len(started) > 0 {
		s.addEvent(now, "(service %s) has started %d tasks: %s.", s.name, len(started), strings.Join(started, " "))
	}
	// Tasks that are not healthy never count toward the minimum, so they go
	// first; healthy ones only while the minimum still holds afterwards.
	sort.SliceStable(old, func(i, j int) bool { return !old[i].healthy() && old[j].healthy() })
	var stopped []string
	for _, t := range old {
		if t.healthy() {
			if healthy-1 < lower {
				continue
			}
			healthy--
		}
		w.stopTask(t, now, "ServiceSchedulerInitiated", fmt.Sprintf("Scaling activity initiated by (deployment %s)", p.id))
		stopped = append(stopped, "(task "+t.id+")")
	}
	if len(stopped) > 0 {
		s.addEvent(now, "(service %s) has stopped %d running tasks: %s.", s.name, len(stopped), strings.Join(stopped, " "))
	}
}

func (w *world) complete(s *service, now time.Time) {
	p := s.primary()
	if p == nil {
		return
	}
	var primaryHealthy, others int
	for _, t := range s.tasks() {
		if t.lastStatus == "STOPPED" {
			continue
		}
		if t.dep != p {
			others++
		} else if t.healthy() {
			primaryHealthy++
		}
	}
	if p.rollout == "IN_PROGRESS" && others == 0 && primaryHealthy >= s.desired {
		p.rollout, p.updated, p.terminalAt = "COMPLETED", now, now
		p.reason = fmt.Sprintf(reasonCompleted, p.id)
		s.completed = append(s.completed, p)
		s.addEvent(now, "(service %s) (deployment %s) deployment completed.", s.name, p.id)
		if sd := p.sd; sd != nil && !sdDone(sd.status) {
			sd.finish(w, sdSuccessful, now, "")
		}
		if sd := p.rollbackOf; sd != nil && !sdDone(sd.status) {
			sd.finish(w, sdRollbackSuccessful, now, "")
		}
	}
	if p.rollout == "COMPLETED" && others == 0 {
		// Drained deployments are INACTIVE ("A deployment that has been
		// completely replaced", API_Deployment.html status) and leave the
		// list once the PRIMARY is done.
		for _, d := range s.deployments[1:] {
			d.status = "INACTIVE"
		}
		s.inactive = append(s.inactive, s.deployments[1:]...)
		s.deployments = s.deployments[:1]
		if !s.steady {
			s.steady = true
			s.addEvent(now, "(service %s) has reached a steady state.", s.name)
		}
	}
}

func (w *world) newDeployment(s *service, taskDef string, now time.Time) *deployment {
	w.seq++
	d := &deployment{id: fmt.Sprintf("ecs-svc/%019d", w.idBase+w.seq),
		status: "PRIMARY", taskDef: taskDef, rollout: "IN_PROGRESS", created: now, updated: now}
	d.reason = fmt.Sprintf(reasonInProgress, d.id)
	w.deployments[d.id] = d
	return d
}

func (w *world) launch(s *service, d *deployment, now time.Time) *task {
	w.seq++
	id := fmt.Sprintf("%032x", uint64(now.UnixNano())^uint64(w.seq)*0x9e3779b97f4a7c15)[:32]
	td := w.taskDefs[d.taskDef]
	t := &task{arn: fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", region, account, s.cluster.name, id), id: id,
		svc: s, dep: d, taskDef: d.taskDef, lastStatus: "PENDING", desired: "RUNNING", created: now}
	if td != nil {
		t.containers = td.containers()
	}
	t.handle = w.launcher.Launch(TaskSpec{TaskArn: t.arn, Service: s.name, Containers: t.containers,
		HasLoadBalancer: s.targetGroup() != ""}, now)
	s.cluster.tasks[t.arn] = t
	return t
}

// gc forgets tasks stopped more than an hour ago.
func (w *world) gc(c *cluster, now time.Time) {
	for arn, t := range c.tasks {
		if t.lastStatus == "STOPPED" && now.Sub(t.stoppedAt) > stoppedRetention {
			delete(c.tasks, arn)
		}
	}
}
