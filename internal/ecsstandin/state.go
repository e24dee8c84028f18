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
	name, arn   string
	cluster     *cluster
	created     time.Time
	taskDef     string // the PRIMARY deployment's task definition ARN
	desired     int
	minPct      int
	maxPct      int
	breaker     bool
	rollback    bool
	grace       int
	lbs         []loadBalancer
	launchType  string
	network     any
	deployments []*deployment // [0] is PRIMARY
	completed   []*deployment // deployments that reached COMPLETED, oldest first
	events      []event       // newest first
	nextEvent   int
	steady      bool // a steady-state event was written for the current PRIMARY
}

type loadBalancer struct {
	TargetGroupArn string `json:"targetGroupArn,omitempty"`
	ContainerName  string `json:"containerName,omitempty"`
	ContainerPort  int    `json:"containerPort,omitempty"`
}

type deployment struct {
	id, status, taskDef string
	rollout, reason     string
	failed              int
	created, updated    time.Time
	terminalAt          time.Time // when rollout left IN_PROGRESS
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

// threshold is the circuit breaker's failure threshold for a desired count:
// ceil(0.5 × desired) clamped to [3, 200].
func threshold(desired int) int {
	t := int(math.Ceil(0.5 * float64(desired)))
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

func (w *world) breaker(s *service, now time.Time) {
	p := s.primary()
	if p == nil || p.rollout != "IN_PROGRESS" || !s.breaker || p.failed < threshold(s.desired) {
		return
	}
	p.rollout, p.updated, p.terminalAt = "FAILED", now, now
	p.reason = "ECS deployment circuit breaker: tasks failed to start."
	s.addEvent(now, "(service %s) (deployment %s) deployment failed: tasks failed to start.", s.name, p.id)
	if !s.rollback {
		return
	}
	var last *deployment
	for i := len(s.completed) - 1; i >= 0; i-- {
		if s.completed[i].id != p.id {
			last = s.completed[i]
			break
		}
	}
	if last == nil {
		// Nothing ever completed: there is nothing to roll back to, and
		// the service keeps trying the failed task definition.
		return
	}
	r := w.newDeployment(s, last.taskDef, now)
	r.reason = fmt.Sprintf("ECS deployment circuit breaker: rolling back to deploymentId %s.", last.id)
	p.status = "ACTIVE"
	s.deployments = append([]*deployment{r}, s.deployments...)
	s.taskDef = last.taskDef
	s.steady = false
	s.addEvent(now, "(service %s) rolling back to deployment %s.", s.name, last.id)
}

func (w *world) schedule(s *service, now time.Time) {
	p := s.primary()
	if p == nil {
		return
	}
	upper := maxTotal(s.desired, s.maxPct)
	lower := minHealthy(s.desired, s.minPct)
	var live, primaryLive, healthy int
	var old []*task
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
		} else {
			old = append(old, t)
		}
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
		s.completed = append(s.completed, p)
		s.addEvent(now, "(service %s) (deployment %s) deployment completed.", s.name, p.id)
	}
	if p.rollout == "COMPLETED" && others == 0 {
		// Drained deployments leave the list once the PRIMARY is done.
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
