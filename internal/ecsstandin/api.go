package ecsstandin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The ECS JSON 1.1 protocol: POST / with X-Amz-Target naming the operation.

const targetPrefix = "AmazonEC2ContainerServiceV20141113."

type apiError struct{ code, msg string }

func (e apiError) Error() string { return e.code + ": " + e.msg }

// readOps share the account's read budget (~20 requests a second).
var readOps = map[string]bool{
	"DescribeServices": true, "DescribeTasks": true, "DescribeTaskDefinition": true,
	"ListTasks": true, "ListTaskDefinitions": true, "DescribeClusters": true, "ListServices": true,
	"ListServiceDeployments": true, "DescribeServiceDeployments": true, "DescribeServiceRevisions": true,
}

func (s *Server) serveECS(rw http.ResponseWriter, r *http.Request) {
	// Every AWS answer, error or not, carries a request id.
	rw.Header().Set("X-Amzn-Requestid", requestID())
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok || r.Method != http.MethodPost {
		writeError(rw, apiError{"UnknownOperationException", "missing or unknown X-Amz-Target header"})
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(rw, apiError{"SerializationException", "request body is not JSON: " + err.Error()})
		return
	}
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls[op]++
	now := w.clock.Now()
	if readOps[op] && !w.bucket.take(time.Now()) || w.scen.throttled(op, now.Sub(w.start).Seconds()) {
		w.throttled++
		writeError(rw, apiError{"ThrottlingException", "Rate exceeded"})
		return
	}
	w.advance(now)
	h := handlers[op]
	if h == nil {
		writeError(rw, apiError{"UnknownOperationException", "the ECS stand-in does not implement " + op})
		return
	}
	out, err := h(w, req(body), now)
	if err != nil {
		writeError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, out)
}

// writeJSON answers with a Content-Length, as AWS does ("Content-Length:
// 220", "Connection: keep-alive" in the sample responses of
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html).
// A chunked answer
// (what net/http sends for a body over its buffer when no length is set)
// ends with a terminating chunk that a client's JSON decoder may never read;
// closing such a body early makes Go's transport drop the connection, so
// the stand-in itself would cause the reconnects it must never cause.
func writeJSON(rw http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"__type": "ServerException", "message": "ecs stand-in: encode the answer: " + err.Error()})
	}
	rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
	rw.Header().Set("Content-Length", strconv.Itoa(len(b)))
	rw.WriteHeader(status)
	_, _ = rw.Write(b)
}

func writeError(rw http.ResponseWriter, err error) {
	ae, ok := err.(apiError)
	if !ok {
		ae = apiError{"ServerException", err.Error()}
	}
	rw.Header().Set("X-Amzn-ErrorType", ae.code)
	status := http.StatusBadRequest
	if ae.code == "ServerException" {
		status = http.StatusInternalServerError
	}
	writeJSON(rw, status, map[string]string{"__type": ae.code, "message": ae.msg})
}

var reqSeq atomic.Uint64

func requestID() string {
	n := reqSeq.Add(1)
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(n*2654435761), uint16(n>>8), n&0xfff, (n>>12)&0xfff, n*0x9e3779b97f4a7c15&0xffffffffffff)
}

type req map[string]any

func (r req) str(k string) string { v, _ := r[k].(string); return v }

func (r req) num(k string, def int) int {
	if v, ok := r[k].(float64); ok {
		return int(v)
	}
	return def
}

func (r req) strs(k string) []string {
	var out []string
	vs, _ := r[k].([]any)
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (r req) obj(k string) req { v, _ := r[k].(map[string]any); return req(v) }

func epoch(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return float64(t.UnixNano()) / 1e9
}

type handler func(w *world, r req, now time.Time) (any, error)

var handlers = map[string]handler{
	"CreateCluster":            createCluster,
	"RegisterTaskDefinition":   registerTaskDefinition,
	"DescribeTaskDefinition":   describeTaskDefinition,
	"DeregisterTaskDefinition": deregisterTaskDefinition,
	"ListTaskDefinitions":      listTaskDefinitions,
	"CreateService":            createService,
	"UpdateService":            updateService,
	"DescribeServices":         describeServices,
	"ListTasks":                listTasks,
	"DescribeTasks":            describeTasks,
	// servicedeployapi.go
	"ListServiceDeployments":     listServiceDeployments,
	"DescribeServiceDeployments": describeServiceDeployments,
	"DescribeServiceRevisions":   describeServiceRevisions,
	"StopServiceDeployment":      stopServiceDeployment,
}

func createCluster(w *world, r req, now time.Time) (any, error) {
	name := r.str("clusterName")
	if name == "" {
		name = "default"
	}
	c := w.clusters[name]
	if c == nil {
		c = &cluster{name: name, arn: fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", region, account, name),
			services: map[string]*service{}, tasks: map[string]*task{}}
		w.clusters[name] = c
	}
	return map[string]any{"cluster": map[string]any{"clusterArn": c.arn, "clusterName": c.name, "status": "ACTIVE"}}, nil
}

func registerTaskDefinition(w *world, r req, now time.Time) (any, error) {
	family := r.str("family")
	if family == "" {
		return nil, apiError{"ClientException", "Family is required."}
	}
	body := map[string]any{}
	var tags []tag
	for k, v := range r {
		if k == "tags" {
			b, _ := json.Marshal(v)
			_ = json.Unmarshal(b, &tags)
			continue
		}
		body[k] = v
	}
	td := &taskDef{family: family, revision: len(w.families[family]) + 1, status: "ACTIVE", body: body, tags: tags, registeredAt: now}
	if len(td.containers()) == 0 {
		return nil, apiError{"ClientException", "Container list cannot be empty."}
	}
	for _, c := range td.containers() {
		if c.Name == "" || c.Image == "" {
			return nil, apiError{"ClientException", "Container.name and Container.image should not be null or empty."}
		}
	}
	td.arn = fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", region, account, family, td.revision)
	w.taskDefs[td.arn] = td
	w.families[family] = append(w.families[family], td)
	return map[string]any{"taskDefinition": td.json(), "tags": tagsJSON(td.tags)}, nil
}

func tagsJSON(ts []tag) []tag {
	if ts == nil {
		return []tag{}
	}
	return ts
}

func (td *taskDef) json() map[string]any {
	m := map[string]any{}
	for k, v := range td.body {
		m[k] = v
	}
	m["taskDefinitionArn"] = td.arn
	m["family"] = td.family
	m["revision"] = td.revision
	m["status"] = td.status
	m["registeredAt"] = epoch(td.registeredAt)
	return m
}

func describeTaskDefinition(w *world, r req, now time.Time) (any, error) {
	td, err := w.taskDef(r.str("taskDefinition"))
	if err != nil {
		return nil, err
	}
	out := map[string]any{"taskDefinition": td.json()}
	for _, inc := range r.strs("include") {
		if inc == "TAGS" {
			out["tags"] = tagsJSON(td.tags)
		}
	}
	return out, nil
}

func deregisterTaskDefinition(w *world, r req, now time.Time) (any, error) {
	ref := r.str("taskDefinition")
	if !strings.Contains(lastSegment(ref), ":") {
		return nil, apiError{"ClientException", "A revision is required to deregister a task definition."}
	}
	td, err := w.taskDef(ref)
	if err != nil {
		return nil, err
	}
	td.status = "INACTIVE"
	return map[string]any{"taskDefinition": td.json()}, nil
}

func listTaskDefinitions(w *world, r req, now time.Time) (any, error) {
	prefix, status := r.str("familyPrefix"), r.str("status")
	if status == "" {
		status = "ACTIVE"
	}
	var tds []*taskDef
	for _, td := range w.taskDefs {
		if strings.HasPrefix(td.family, prefix) && td.status == status {
			tds = append(tds, td)
		}
	}
	sort.Slice(tds, func(i, j int) bool {
		if tds[i].family != tds[j].family {
			return tds[i].family < tds[j].family
		}
		return tds[i].revision < tds[j].revision
	})
	if r.str("sort") == "DESC" {
		for i, j := 0, len(tds)-1; i < j; i, j = i+1, j-1 {
			tds[i], tds[j] = tds[j], tds[i]
		}
	}
	arns := []string{}
	for _, td := range tds {
		arns = append(arns, td.arn)
	}
	return map[string]any{"taskDefinitionArns": arns}, nil
}

func applyDeploymentConfig(s *service, r req) error {
	dc := r.obj("deploymentConfiguration")
	if dc == nil {
		return nil
	}
	s.minPct = dc.num("minimumHealthyPercent", s.minPct)
	s.maxPct = dc.num("maximumPercent", s.maxPct)
	if cb := dc.obj("deploymentCircuitBreaker"); cb != nil {
		if err := applyBreaker(s, cb); err != nil {
			return err
		}
	}
	if s.maxPct < 100 || s.minPct < 0 || s.minPct > 100 {
		return apiError{"InvalidParameterException", fmt.Sprintf("deploymentConfiguration: maximumPercent %d must be at least 100 and minimumHealthyPercent %d between 0 and 100", s.maxPct, s.minPct)}
	}
	return nil
}

// applyBreaker reads a DeploymentCircuitBreaker as aws-sdk-go-v2's ecs
// v1.105.1 serialises it: enable and rollback (required), resetOnHealthyTask
// (optional, "The default is true") and thresholdConfiguration {type, value}
// (optional; both members required when it is given; default
// BOUNDED_PERCENT 50): API_DeploymentCircuitBreaker.html and
// API_ThresholdConfiguration.html. A breaker object replaces the whole
// configuration, so members left out fall back to their defaults.
func applyBreaker(s *service, cb req) error {
	enable, ok1 := cb["enable"].(bool)
	rollback, ok2 := cb["rollback"].(bool)
	if !ok1 || !ok2 {
		return apiError{"InvalidParameterException", "deploymentCircuitBreaker: enable and rollback are required."}
	}
	reset := true
	if v, ok := cb["resetOnHealthyTask"]; ok && v != nil {
		b, isBool := v.(bool)
		if !isBool {
			return apiError{"SerializationException", fmt.Sprintf("deploymentCircuitBreaker.resetOnHealthyTask: %v is not a boolean", v)}
		}
		reset = b
	}
	typ, val := "BOUNDED_PERCENT", 50
	if tc := cb.obj("thresholdConfiguration"); tc != nil {
		typ = tc.str("type")
		switch typ {
		case "COUNT", "BOUNDED_PERCENT", "UNBOUNDED_PERCENT":
		default:
			return apiError{"InvalidParameterException", fmt.Sprintf("deploymentCircuitBreaker.thresholdConfiguration.type %q: want COUNT, BOUNDED_PERCENT or UNBOUNDED_PERCENT.", typ)}
		}
		v, ok := tc["value"].(float64)
		// The SDK always writes value (an int32, 0 when unset); a threshold
		// below 1 would fail a deployment before any task ran, so it is
		// refused rather than guessed at.
		if !ok || v < 1 || v != float64(int(v)) {
			return apiError{"InvalidParameterException", fmt.Sprintf("deploymentCircuitBreaker.thresholdConfiguration.value %v: want a positive integer.", tc["value"])}
		}
		val = int(v)
	}
	s.breaker, s.rollback, s.resetOnHealthy, s.thresholdType, s.thresholdValue = enable, rollback, reset, typ, val
	return nil
}

func breakerConfigJSON(enable, rollback, reset bool, typ string, val int) map[string]any {
	if typ == "" {
		typ, val = "BOUNDED_PERCENT", 50
	}
	return map[string]any{"enable": enable, "rollback": rollback, "resetOnHealthyTask": reset,
		"thresholdConfiguration": map[string]any{"type": typ, "value": val}}
}

func createService(w *world, r req, now time.Time) (any, error) {
	c, err := w.cluster(r.str("cluster"))
	if err != nil {
		return nil, err
	}
	name := r.str("serviceName")
	if name == "" {
		return nil, apiError{"InvalidParameterException", "serviceName is required."}
	}
	if c.services[name] != nil {
		return nil, apiError{"InvalidParameterException", "Creation of service was not idempotent."}
	}
	td, err := w.taskDef(r.str("taskDefinition"))
	if err != nil {
		return nil, err
	}
	s := &service{name: name, arn: fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", region, account, c.name, name),
		cluster: c, created: now, taskDef: td.arn, desired: r.num("desiredCount", 0), minPct: 100, maxPct: 200,
		grace: r.num("healthCheckGracePeriodSeconds", 0), launchType: r.str("launchType"), network: r["networkConfiguration"],
		resetOnHealthy: true, thresholdType: "BOUNDED_PERCENT", thresholdValue: 50}
	if s.launchType == "" {
		s.launchType = "FARGATE"
	}
	if err := applyDeploymentConfig(s, r); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(r["loadBalancers"])
	_ = json.Unmarshal(b, &s.lbs)
	d := w.newDeployment(s, td.arn, now)
	d.rev = w.newRevision(s, td.arn, now)
	s.deployments = []*deployment{d}
	w.startServiceDeployment(s, d, now)
	c.services[name] = s
	return map[string]any{"service": w.serviceJSON(s)}, nil
}

func (w *world) service(r req, key string) (*service, error) {
	c, err := w.cluster(r.str("cluster"))
	if err != nil {
		return nil, err
	}
	ref := r.str(key)
	s := c.services[lastSegment(ref)]
	if s == nil {
		return nil, apiError{"ServiceNotFoundException", fmt.Sprintf("Service not found: %s in cluster %s.", ref, c.name)}
	}
	return s, nil
}

func updateService(w *world, r req, now time.Time) (any, error) {
	s, err := w.service(r, "service")
	if err != nil {
		return nil, err
	}
	newTD := s.taskDef
	if ref := r.str("taskDefinition"); ref != "" {
		td, err := w.taskDef(ref)
		if err != nil {
			return nil, err
		}
		if td.status != "ACTIVE" {
			return nil, apiError{"ClientException", fmt.Sprintf("TaskDefinition %s is inactive.", td.arn)}
		}
		newTD = td.arn
	}
	if err := applyDeploymentConfig(s, r); err != nil {
		return nil, err
	}
	if _, ok := r["desiredCount"]; ok {
		s.desired = r.num("desiredCount", s.desired)
	}
	if v, ok := r["healthCheckGracePeriodSeconds"]; ok && v != nil {
		s.grace = r.num("healthCheckGracePeriodSeconds", s.grace)
	}
	force, _ := r["forceNewDeployment"].(bool)
	if newTD != s.taskDef || force {
		for _, d := range s.deployments {
			d.status = "ACTIVE"
		}
		d := w.newDeployment(s, newTD, now)
		d.rev = w.newRevision(s, newTD, now)
		s.deployments = append([]*deployment{d}, s.deployments...)
		w.startServiceDeployment(s, d, now)
		s.taskDef = newTD
		s.steady = false
	}
	return map[string]any{"service": w.serviceJSON(s)}, nil
}

func describeServices(w *world, r req, now time.Time) (any, error) {
	c, err := w.cluster(r.str("cluster"))
	if err != nil {
		return nil, err
	}
	names := r.strs("services")
	if len(names) == 0 || len(names) > 10 {
		return nil, apiError{"InvalidParameterException", fmt.Sprintf("services: %d given; DescribeServices takes between 1 and 10 services.", len(names))}
	}
	svcs, failures := []any{}, []any{}
	for _, n := range names {
		s := c.services[lastSegment(n)]
		if s == nil {
			failures = append(failures, map[string]any{"arn": fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", region, account, c.name, lastSegment(n)), "reason": "MISSING"})
			continue
		}
		svcs = append(svcs, w.serviceJSON(s))
	}
	return map[string]any{"services": svcs, "failures": failures}, nil
}

func (w *world) serviceJSON(s *service) map[string]any {
	var running, pending int
	perDep := map[*deployment][2]int{}
	for _, t := range s.tasks() {
		if t.lastStatus == "STOPPED" || t.desired == "STOPPED" {
			continue
		}
		c := perDep[t.dep]
		if t.lastStatus == "RUNNING" {
			running++
			c[0]++
		} else {
			pending++
			c[1]++
		}
		perDep[t.dep] = c
	}
	deps := []any{}
	for i, d := range s.deployments {
		c := perDep[d]
		desired := c[0] + c[1]
		if i == 0 {
			desired = s.desired
		}
		m := map[string]any{"id": d.id, "status": d.status, "taskDefinition": d.taskDef,
			"desiredCount": desired, "runningCount": c[0], "pendingCount": c[1], "failedTasks": d.failed,
			"createdAt": epoch(d.created), "updatedAt": epoch(d.updated), "launchType": s.launchType,
			"rolloutState": d.rollout}
		if d.reason != "" {
			m["rolloutStateReason"] = d.reason
		}
		deps = append(deps, m)
	}
	events := []any{}
	for _, e := range s.events {
		events = append(events, map[string]any{"id": e.id, "createdAt": epoch(e.created), "message": e.message})
	}
	lbs := s.lbs
	if lbs == nil {
		lbs = []loadBalancer{}
	}
	out := map[string]any{
		"serviceArn": s.arn, "serviceName": s.name, "clusterArn": s.cluster.arn, "status": "ACTIVE",
		"desiredCount": s.desired, "runningCount": running, "pendingCount": pending,
		"launchType": s.launchType, "taskDefinition": s.taskDef, "createdAt": epoch(s.created),
		"deploymentConfiguration": map[string]any{
			"deploymentCircuitBreaker": breakerConfigJSON(s.breaker, s.rollback, s.resetOnHealthy, s.thresholdType, s.thresholdValue),
			"maximumPercent":           s.maxPct, "minimumHealthyPercent": s.minPct,
		},
		"deploymentController": map[string]any{"type": "ECS"}, "schedulingStrategy": "REPLICA",
		"deployments": deps, "events": events, "loadBalancers": lbs,
	}
	if s.grace > 0 {
		out["healthCheckGracePeriodSeconds"] = s.grace
	}
	// currentServiceDeployment and currentServiceRevisions tie
	// DescribeServices (and UpdateService's answer) to the
	// service-deployments API (API_Service.html).
	if n := len(s.sdeps); n > 0 {
		out["currentServiceDeployment"] = s.sdeps[n-1].arn
	}
	revs := []any{}
	seen := map[*serviceRevision]bool{}
	for _, d := range s.deployments {
		if d.rev == nil || seen[d.rev] {
			continue
		}
		seen[d.rev] = true
		c := w.revCounts(s, d.rev)
		revs = append(revs, map[string]any{"arn": d.rev.arn, "requestedTaskCount": c.requested, "runningTaskCount": c.running, "pendingTaskCount": c.pending})
	}
	out["currentServiceRevisions"] = revs
	if s.network != nil {
		out["networkConfiguration"] = s.network
	}
	return out
}

func listTasks(w *world, r req, now time.Time) (any, error) {
	c, err := w.cluster(r.str("cluster"))
	if err != nil {
		return nil, err
	}
	svc, startedBy := r.str("serviceName"), r.str("startedBy")
	// "When you specify startedBy as the filter, it must be the only
	// filter that you use" (API_ListTasks.html, startedBy). desiredStatus
	// is let through: it picks the running or the stopped list rather
	// than narrowing one, and refusing it would be a guess stricter than
	// the sentence.
	if startedBy != "" {
		for _, k := range []string{"serviceName", "family", "containerInstance", "launchType"} {
			if r.str(k) != "" {
				return nil, apiError{"InvalidParameterException", fmt.Sprintf("startedBy must be the only filter: %s given too.", k)}
			}
		}
	}
	want := r.str("desiredStatus")
	if want == "" {
		want = "RUNNING"
	}
	var ts []*task
	for _, t := range c.tasks {
		if svc != "" && t.svc.name != lastSegment(svc) {
			continue
		}
		if startedBy != "" && t.dep.id != startedBy {
			continue
		}
		if (want == "STOPPED") != (t.desired == "STOPPED") {
			continue
		}
		ts = append(ts, t)
	}
	// ListTasks returns at most maxResults (1-100, default 100) ARNs a
	// page and a nextToken while more remain, and documents no order
	// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html:
	// maxResults "can be between 1 and 100 ... If this parameter isn't
	// used, then ListTasks returns up to 100 results and a nextToken value
	// if applicable"). Pages here run oldest first, the strictest order
	// for a client: one that reads only the first page of a service with a
	// long stopped history (kept for an hour) misses the newest tasks.
	sort.Slice(ts, func(i, j int) bool { return taskBefore(ts[i].created, ts[i].arn, ts[j].created, ts[j].arn) })
	limit := 100
	if v, ok := r["maxResults"]; ok && v != nil {
		f, isNum := v.(float64)
		if !isNum || f < 1 || f > 100 {
			return nil, apiError{"InvalidParameterException", fmt.Sprintf("maxResults %v: must be between 1 and 100.", v)}
		}
		limit = int(f)
	}
	start := 0
	if tok := r.str("nextToken"); tok != "" {
		created, arn, ok := decodeTaskToken(tok)
		if !ok {
			return nil, apiError{"InvalidParameterException", "nextToken is not valid for this request."}
		}
		start = sort.Search(len(ts), func(i int) bool { return taskBefore(created, arn, ts[i].created, ts[i].arn) })
	}
	arns := []string{}
	end := min(start+limit, len(ts))
	for _, t := range ts[start:end] {
		arns = append(arns, t.arn)
	}
	out := map[string]any{"taskArns": arns}
	if end < len(ts) {
		out["nextToken"] = encodeTaskToken(ts[end-1].created, ts[end-1].arn)
	}
	return out, nil
}

func taskBefore(ci time.Time, ai string, cj time.Time, aj string) bool {
	if !ci.Equal(cj) {
		return ci.Before(cj)
	}
	return ai < aj
}

// A ListTasks nextToken names the last task of the page: the next page
// starts after it, even if tasks came or went in between.
func encodeTaskToken(created time.Time, arn string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("task:%d:%s", created.UnixNano(), arn)))
}

func decodeTaskToken(tok string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", false
	}
	rest, ok := strings.CutPrefix(string(b), "task:")
	ns, arn, ok2 := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || !ok2 || err != nil {
		return time.Time{}, "", false
	}
	return time.Unix(0, n).UTC(), arn, true
}

func describeTasks(w *world, r req, now time.Time) (any, error) {
	c, err := w.cluster(r.str("cluster"))
	if err != nil {
		return nil, err
	}
	refs := r.strs("tasks")
	if len(refs) == 0 || len(refs) > 100 {
		return nil, apiError{"InvalidParameterException", fmt.Sprintf("tasks: %d given; DescribeTasks takes between 1 and 100 tasks.", len(refs))}
	}
	tasks, failures := []any{}, []any{}
	for _, ref := range refs {
		var t *task
		for _, x := range c.tasks {
			if x.arn == ref || x.id == lastSegment(ref) {
				t = x
			}
		}
		if t == nil {
			failures = append(failures, map[string]any{"arn": ref, "reason": "MISSING"})
			continue
		}
		tasks = append(tasks, taskJSON(c, t))
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

func taskJSON(c *cluster, t *task) map[string]any {
	ctrs := []any{}
	for _, spec := range t.containers {
		m := map[string]any{"name": spec.Name, "image": spec.Image, "taskArn": t.arn,
			"containerArn": fmt.Sprintf("arn:aws:ecs:%s:%s:container/%s/%s/%s", region, account, c.name, t.id, spec.Name),
			"lastStatus":   t.lastStatus}
		if d := t.digests[spec.Name]; d != "" && t.lastStatus != "PENDING" {
			m["imageDigest"] = d
		}
		if code, ok := t.exitCodes[spec.Name]; ok {
			m["exitCode"] = code
		}
		if why := t.ctrReasons[spec.Name]; why != "" {
			m["reason"] = why
		}
		ctrs = append(ctrs, m)
	}
	out := map[string]any{"taskArn": t.arn, "clusterArn": c.arn, "taskDefinitionArn": t.taskDef,
		"group": "service:" + t.svc.name, "startedBy": t.dep.id, "lastStatus": t.lastStatus,
		"desiredStatus": t.desired, "createdAt": epoch(t.created), "launchType": t.svc.launchType,
		"containers": ctrs, "healthStatus": "UNKNOWN"}
	if !t.startedAt.IsZero() {
		out["startedAt"] = epoch(t.startedAt)
	}
	if !t.stoppingAt.IsZero() {
		out["stoppingAt"] = epoch(t.stoppingAt)
	}
	if !t.stoppedAt.IsZero() {
		out["stoppedAt"] = epoch(t.stoppedAt)
	}
	if t.stopCode != "" {
		out["stopCode"] = t.stopCode
	}
	if t.reason != "" {
		out["stoppedReason"] = t.reason
	}
	return out
}
