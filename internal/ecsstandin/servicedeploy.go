package ecsstandin

import (
	"fmt"
	"time"
)

// Service deployments and service revisions: the ECS API's own record of
// each rollout, read through ListServiceDeployments,
// DescribeServiceDeployments and DescribeServiceRevisions.
//
// Sources (ECS Developer Guide and API Reference):
//   - SD-LIFE https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html
//     "Amazon ECS automatically creates a new service deployment when ... a
//     user creates a service ... updates a service and uses the force new
//     deployment option ... updates one or more service properties that
//     require a deployment"; "A service deployment starts in the PENDING
//     state"; stages: Pending = PENDING; Ongoing = IN_PROGRESS,
//     STOP_REQUESTED, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS; Completed =
//     SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED.
//   - SD-API https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html
//     the fields; stoppedAt: "The service deployment stops when ... A user
//     manually stops the deployment [or] The rollback option is not in use
//     for the failure detection mechanism (the circuit breaker or
//     alarm-based) and the service fails."
//   - SD-PROP https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment-property.html
//     "Target service revision: The service revision to deploy"; "Source
//     service revisions: The currently running service revisions".
//   - SR-LIFE https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-revision.html
//     "Amazon ECS automatically creates a new service revision when you
//     create a service, or update a service property that starts a
//     deployment"; "Amazon ECS doesn't create a new service revision for a
//     rollback operation. Amazon ECS uses the last successful service
//     revision for the rollback."
//   - SDCB https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeploymentCircuitBreaker.html
//     status TRIGGERED | MONITORING | MONITORING_COMPLETE | DISABLED,
//     failureCount, threshold.
//   - LIST https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html
//     (and the SDK's ListServiceDeploymentsInput): status filter ("If you do
//     not specify a status, then all status values are included"),
//     createdAt {before, after}, maxResults 1-100 default 20, nextToken.
//   - CREATED https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreatedAt.html

// Service deployment statuses (SD-LIFE).
const (
	sdPending            = "PENDING"
	sdInProgress         = "IN_PROGRESS"
	sdSuccessful         = "SUCCESSFUL"
	sdStopped            = "STOPPED"
	sdStopRequested      = "STOP_REQUESTED"
	sdRollbackRequested  = "ROLLBACK_REQUESTED"
	sdRollbackInProgress = "ROLLBACK_IN_PROGRESS"
	sdRollbackSuccessful = "ROLLBACK_SUCCESSFUL"
	sdRollbackFailed     = "ROLLBACK_FAILED"
)

var sdStatuses = map[string]bool{sdPending: true, sdInProgress: true, sdSuccessful: true, sdStopped: true,
	sdStopRequested: true, sdRollbackRequested: true, sdRollbackInProgress: true, sdRollbackSuccessful: true, sdRollbackFailed: true}

// sdDone says whether a status is in the Completed stage (SD-LIFE).
func sdDone(status string) bool {
	switch status {
	case sdSuccessful, sdStopped, sdRollbackSuccessful, sdRollbackFailed:
		return true
	}
	return false
}

// serviceRevision is the immutable record of what a deployment runs (SR-LIFE).
type serviceRevision struct {
	arn        string
	svc        *service
	taskDef    string
	created    time.Time
	launchType string
	lbs        []loadBalancer
	network    any
	images     []ContainerSpec
}

// revCount is a ServiceRevisionSummary's task counts.
type revCount struct{ requested, running, pending int }

type serviceDeployment struct {
	arn                                 string
	svc                                 *service
	status                              string
	reason                              string // statusReason
	created                             time.Time
	started, finished, stopped, updated time.Time
	target                              *serviceRevision
	sources                             []*serviceRevision
	// frozen holds the revision counts once the deployment is done: "This
	// number represents the running tasks when the deployment completed"
	// (SD-LIFE, on the running task count).
	frozen map[*serviceRevision]revCount
	dep    *deployment // the DescribeServices deployment this one started
	// rollback is set once the circuit breaker asked for a rollback.
	rollbackDep      *deployment
	rollbackReason   string
	rollbackStarted  time.Time
	rollbackRevision *serviceRevision
	// The circuit breaker as configured when the deployment started.
	breakerOn     bool
	breakerStatus string // SDCB status
	threshold     int
	minPct        int
	maxPct        int
	rollbackOn    bool
	resetOnHealth bool
	thresholdType string
	thresholdVal  int
}

func (w *world) newRevision(s *service, taskDef string, now time.Time) *serviceRevision {
	w.seq++
	r := &serviceRevision{arn: fmt.Sprintf("arn:aws:ecs:%s:%s:service-revision/%s/%s/%019d", region, account, s.cluster.name, s.name, w.idBase+w.seq),
		svc: s, taskDef: taskDef, created: now, launchType: s.launchType, lbs: s.lbs, network: s.network}
	if td := w.taskDefs[taskDef]; td != nil {
		r.images = td.containers()
	}
	w.revisions[r.arn] = r
	return r
}

// sdID is a service deployment id: AWS's are about 20 characters of
// letters, digits, '-' and '_' (NCWGC2ZR-taawPAYrIaU5 in the API
// reference's DescribeServiceDeployments example; a published real one,
// EXsdro8Rs9T3dIOLon0qU, has 21), while service revision ids are 19 digits
// (4980306466373577095 in the same example). Clients must treat both as
// opaque.
func (w *world) sdID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	w.seq++
	x := (w.idBase + w.seq) * 0x9e3779b97f4a7c15
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[x%64]
		x = x/64 ^ (x * 0x2545F4914F6CDD1D)
	}
	return string(b)
}

// startServiceDeployment records the service deployment d starts. Whatever
// service deployment of the service was still ongoing is STOPPED: the new
// one took the service over. AWS documents no statusReason text for that;
// ours names the deployment that took over, and a watcher must key on the
// status, not on the text.
func (w *world) startServiceDeployment(s *service, d *deployment, now time.Time) *serviceDeployment {
	var sources []*serviceRevision
	seen := map[*serviceRevision]bool{}
	for _, old := range s.deployments {
		if old.rev != nil && !seen[old.rev] && old != d {
			seen[old.rev] = true
			sources = append(sources, old.rev)
		}
	}
	sd := &serviceDeployment{arn: fmt.Sprintf("arn:aws:ecs:%s:%s:service-deployment/%s/%s/%s", region, account, s.cluster.name, s.name, w.sdID()),
		svc: s, status: sdPending, created: now, updated: now, target: d.rev, sources: sources, dep: d,
		breakerOn: s.breaker, rollbackOn: s.rollback, resetOnHealth: s.resetOnHealthy,
		thresholdType: s.thresholdType, thresholdVal: s.thresholdValue, minPct: s.minPct, maxPct: s.maxPct}
	sd.breakerStatus = "DISABLED"
	if sd.breakerOn {
		sd.breakerStatus = "MONITORING"
	}
	for _, old := range s.sdeps {
		if !sdDone(old.status) {
			old.finish(w, sdStopped, now, fmt.Sprintf("Service deployment stopped: service deployment %s took over the service.", sd.arn))
		}
	}
	d.sd = sd
	s.sdeps = append(s.sdeps, sd)
	w.sdeps[sd.arn] = sd
	return sd
}

// finish moves a service deployment into the Completed stage and freezes
// its revisions' counts.
func (sd *serviceDeployment) finish(w *world, status string, now time.Time, reason string) {
	sd.frozen = map[*serviceRevision]revCount{}
	for _, r := range append(append([]*serviceRevision{}, sd.sources...), sd.target) {
		sd.frozen[r] = w.revCounts(sd.svc, r)
	}
	sd.status, sd.updated, sd.finished = status, now, now
	if status == sdStopped {
		sd.stopped = now
	}
	if reason != "" {
		sd.reason = reason
	}
	if sd.breakerStatus == "MONITORING" {
		sd.breakerStatus = "MONITORING_COMPLETE"
	}
}

// advanceServiceDeployments moves the requested states along on the tick
// after they were requested: PENDING → IN_PROGRESS, ROLLBACK_REQUESTED →
// ROLLBACK_IN_PROGRESS.
func (w *world) advanceServiceDeployments(s *service, now time.Time) {
	for _, sd := range s.sdeps {
		switch {
		case sd.status == sdPending && now.After(sd.created):
			sd.status, sd.started, sd.updated = sdInProgress, now, now
		case sd.status == sdRollbackRequested && now.After(sd.rollbackStarted):
			sd.status, sd.updated = sdRollbackInProgress, now
		}
	}
}

// revCounts counts a revision's tasks now: requested is the service's
// desired count for the PRIMARY's revision and the live tasks otherwise.
func (w *world) revCounts(s *service, r *serviceRevision) revCount {
	var c revCount
	for _, t := range s.tasks() {
		if t.dep == nil || t.dep.rev != r || !t.live() {
			continue
		}
		if t.lastStatus == "RUNNING" {
			c.running++
		} else {
			c.pending++
		}
	}
	c.requested = c.running + c.pending
	if p := s.primary(); p != nil && p.rev == r {
		c.requested = s.desired
	}
	return c
}

func (w *world) revSummary(sd *serviceDeployment, r *serviceRevision) map[string]any {
	c, ok := sd.frozen[r]
	if !ok {
		c = w.revCounts(sd.svc, r)
	}
	return map[string]any{"arn": r.arn, "requestedTaskCount": c.requested, "runningTaskCount": c.running, "pendingTaskCount": c.pending}
}

func (w *world) serviceDeploymentJSON(sd *serviceDeployment) map[string]any {
	sources := []any{}
	for _, r := range sd.sources {
		sources = append(sources, w.revSummary(sd, r))
	}
	// The breaker's count is that of the deployment it watches: the target
	// until a rollback starts, then the rollback deployment.
	failures := sd.dep.failed
	if sd.rollbackDep != nil && sd.status != sdRollbackRequested && sd.rollbackDep.failed > 0 {
		failures = sd.rollbackDep.failed
	}
	th := sd.threshold
	if th == 0 {
		th = breakerThreshold(sd.thresholdType, sd.thresholdVal, sd.svc.desired)
	}
	m := map[string]any{
		"serviceDeploymentArn": sd.arn, "serviceArn": sd.svc.arn, "clusterArn": sd.svc.cluster.arn,
		"createdAt": epoch(sd.created), "updatedAt": epoch(sd.updated),
		"sourceServiceRevisions": sources, "targetServiceRevision": w.revSummary(sd, sd.target),
		"status": sd.status,
		"deploymentConfiguration": map[string]any{
			"deploymentCircuitBreaker": breakerConfigJSON(sd.breakerOn, sd.rollbackOn, sd.resetOnHealth, sd.thresholdType, sd.thresholdVal),
			"maximumPercent":           sd.maxPct, "minimumHealthyPercent": sd.minPct,
		},
		"deploymentCircuitBreaker": map[string]any{"status": sd.breakerStatus, "failureCount": failures, "threshold": th},
		// The stand-in models no CloudWatch alarms: they are DISABLED, as
		// for a service without alarms configured.
		"alarms": map[string]any{"status": "DISABLED"},
	}
	for k, t := range map[string]time.Time{"startedAt": sd.started, "finishedAt": sd.finished, "stoppedAt": sd.stopped} {
		if !t.IsZero() {
			m[k] = epoch(t)
		}
	}
	if sd.reason != "" {
		m["statusReason"] = sd.reason
	}
	if sd.rollbackRevision != nil {
		m["rollback"] = map[string]any{"reason": sd.rollbackReason, "startedAt": epoch(sd.rollbackStarted),
			"serviceRevisionArn": sd.rollbackRevision.arn}
	}
	return m
}

func (w *world) serviceRevisionJSON(r *serviceRevision) map[string]any {
	images := []any{}
	for _, c := range r.images {
		images = append(images, map[string]any{"containerName": c.Name, "image": c.Image, "imageDigest": digestOf(c.Image)})
	}
	lbs := r.lbs
	if lbs == nil {
		lbs = []loadBalancer{}
	}
	m := map[string]any{"serviceRevisionArn": r.arn, "serviceArn": r.svc.arn, "clusterArn": r.svc.cluster.arn,
		"taskDefinition": r.taskDef, "launchType": r.launchType, "loadBalancers": lbs, "containerImages": images,
		"createdAt": epoch(r.created), "guardDutyEnabled": false}
	if r.network != nil {
		m["networkConfiguration"] = r.network
	}
	return m
}
