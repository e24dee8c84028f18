package realtask

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	"github.com/conveyor-dev/conveyor/internal/grpclb"
	"github.com/conveyor-dev/conveyor/internal/testenv"
)

type taskState string

const (
	statePending taskState = "PENDING"
	stateRunning taskState = "RUNNING"
	stateExited  taskState = "EXITED"
	stateFailed  taskState = "FAILED_TO_START"
)

// task is one launched task; it is the stand-in's Handle.
type task struct {
	l           *Launcher
	spec        ecsstandin.TaskSpec
	id, cluster string
	az          string
	done        chan struct{} // closed when every process has exited

	mu           sync.Mutex
	state        taskState
	procs        []*proc
	startedAt    time.Time // real time the processes were running
	stopAsked    bool
	stopTimeout  time.Duration
	failReason   string // TaskFailedToStart
	killReason   string // killed from outside (AZ loss)
	exitCodes    map[string]int
	digests      map[string]string
	target       *grpclb.LB
	deregistered bool
}

type proc struct {
	name      string
	essential bool
	cmd       *exec.Cmd
	done      chan struct{}
}

func (t *task) live() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return (t.state == statePending || t.state == stateRunning) && t.killReason == ""
}

func (t *task) failLocked(reason string) {
	t.state, t.failReason = stateFailed, reason
}

func (t *task) fail(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failLocked(reason)
	t.l.o.Logf("task %s (%s) failed to start: %s", t.short(), t.spec.Service, reason)
}

// short is the id's tail, which is where stand-in task ids differ.
func (t *task) short() string { return t.id[max(0, len(t.id)-8):] }

// container is what the launcher needs of one container definition.
type container struct {
	def   types.ContainerDefinition
	spec  ecsstandin.ContainerSpec
	bin   *binary
	ports map[int32]int // container port → host port
}

// start reads the task definition back from the stand-in, pulls the images
// and starts the processes.
func (t *task) start() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defs, lb, err := t.describe(ctx)
	if err != nil {
		t.fail(err.Error())
		return
	}
	var ctrs []*container
	stopTimeout := time.Duration(0)
	for _, cs := range t.spec.Containers {
		def, ok := defs[cs.Name]
		if !ok {
			t.fail(fmt.Sprintf("CannotStartContainerError: container %s is not in the task definition", cs.Name))
			return
		}
		bin, err := t.l.bins.get(cs.Image)
		if err != nil {
			t.fail(err.Error())
			return
		}
		c := &container{def: def, spec: cs, bin: bin, ports: map[int32]int{}}
		for _, pm := range def.PortMappings {
			if pm.ContainerPort == nil {
				continue
			}
			if c.ports[*pm.ContainerPort], err = testenv.FreePort(); err != nil {
				t.fail("ResourceInitializationError: " + err.Error())
				return
			}
		}
		ctrs = append(ctrs, c)
		st := t.l.o.StopTimeout
		if def.StopTimeout != nil {
			st = time.Duration(*def.StopTimeout) * time.Second
		}
		stopTimeout = max(stopTimeout, st)
	}

	t.l.mu.Lock()
	closed := t.l.closed
	t.l.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopTimeout = stopTimeout
	if closed && t.killReason == "" {
		t.killReason = "Task stopped: the local world is shutting down"
	}
	if t.stopAsked || t.killReason != "" {
		// Stopped while still pending: it never ran.
		t.state = stateExited
		close(t.done)
		return
	}
	for _, c := range ctrs {
		p, err := t.exec(c)
		if err != nil {
			t.failLocked(err.Error())
			t.killLocked()
			return
		}
		t.procs = append(t.procs, p)
		t.digests[c.spec.Name] = c.bin.digest
	}
	t.state, t.startedAt = stateRunning, time.Now()
	t.l.wg.Add(1)
	go func() { defer t.l.wg.Done(); t.reap() }()
	pids := make([]string, len(t.procs))
	for i, p := range t.procs {
		pids[i] = fmt.Sprintf("%s pid %d", p.name, p.cmd.Process.Pid)
	}
	t.l.o.Logf("task %s (%s) running in %s: %s", t.short(), t.spec.Service, t.az, strings.Join(pids, ", "))
	if lb.lb != nil {
		for _, c := range ctrs {
			if c.spec.Name != lb.container {
				continue
			}
			hp, ok := c.ports[lb.port]
			if !ok {
				t.failLocked(fmt.Sprintf("ResourceInitializationError: the service's load balancer targets container %s port %d, which has no port mapping", lb.container, lb.port))
				t.killLocked()
				return
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(hp))
			if err := lb.lb.Register(t.id, addr, t.az); err != nil {
				t.l.o.Logf("task %s: %v", t.short(), err)
				continue
			}
			t.target = lb.lb
		}
	}
}

// lbTarget is where a service's tasks register.
type lbTarget struct {
	lb        *grpclb.LB
	container string
	port      int32
}

// describe reads the task's definition and its service's load balancer
// from the stand-in.
func (t *task) describe(ctx context.Context) (map[string]types.ContainerDefinition, lbTarget, error) {
	var lb lbTarget
	c := t.l.client()
	if c == nil {
		return nil, lb, fmt.Errorf("ResourceInitializationError: the launcher has no ECS client (call SetECS before creating services)")
	}
	dt, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(t.cluster), Tasks: []string{t.spec.TaskArn}})
	if err != nil || len(dt.Tasks) == 0 {
		return nil, lb, fmt.Errorf("ResourceInitializationError: describe task %s: %v", t.spec.TaskArn, errOr(err, dt))
	}
	tdArn := aws.ToString(dt.Tasks[0].TaskDefinitionArn)
	td, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(tdArn)})
	if err != nil {
		return nil, lb, fmt.Errorf("ResourceInitializationError: describe task definition %s: %w", tdArn, err)
	}
	defs := map[string]types.ContainerDefinition{}
	for _, d := range td.TaskDefinition.ContainerDefinitions {
		defs[aws.ToString(d.Name)] = d
	}
	if !t.spec.HasLoadBalancer {
		return defs, lb, nil
	}
	ds, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(t.cluster), Services: []string{t.spec.Service}})
	if err != nil || len(ds.Services) == 0 || len(ds.Services[0].LoadBalancers) == 0 {
		return nil, lb, fmt.Errorf("ResourceInitializationError: read the load balancer of service %s: %v", t.spec.Service, errOr(err, ds))
	}
	sl := ds.Services[0].LoadBalancers[0]
	arn := aws.ToString(sl.TargetGroupArn)
	lb.lb = t.l.o.TargetGroups[arn]
	if lb.lb == nil {
		return nil, lb, fmt.Errorf("ResourceInitializationError: service %s targets %s, but no local load balancer serves that target group", t.spec.Service, arn)
	}
	lb.container, lb.port = aws.ToString(sl.ContainerName), aws.ToInt32(sl.ContainerPort)
	return defs, lb, nil
}

func errOr(err error, out any) any {
	if err != nil {
		return err
	}
	return fmt.Sprintf("nothing returned (%T)", out)
}

// exec starts one container's process.
func (t *task) exec(c *container) (*proc, error) {
	env := append([]string{}, c.bin.env...)
	for _, kv := range c.def.Environment {
		env = setEnv(env, aws.ToString(kv.Name), aws.ToString(kv.Value))
	}
	for _, kv := range t.l.o.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, v)
	}
	env = setEnv(env, "ECS_TASK_ARN", t.spec.TaskArn)
	env = setEnv(env, "ECS_AVAILABILITY_ZONE", t.az)
	if listen, ok := t.listenAddr(c, env); ok {
		env = setEnv(env, t.l.o.ListenVar, listen)
	}
	name := filepath.Join(t.l.o.Dir, "logs", fmt.Sprintf("%s-%s-%s.log", t.spec.Service, t.short(), c.spec.Name))
	out, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("CannotStartContainerError: %w", err)
	}
	cmd := exec.Command(c.bin.path, c.bin.args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, out, out, filepath.Dir(c.bin.path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("CannotStartContainerError: start %s from %s: %w", c.bin.path, c.spec.Image, err)
	}
	p := &proc{name: c.spec.Name, essential: c.spec.Essential, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// listenAddr maps the service's listen address onto the loopback interface:
// a mapped container port becomes its host port, an unmapped one a port
// nobody routes to (a release listening on the wrong port fails its health
// checks, as it would behind an ALB).
func (t *task) listenAddr(c *container, env []string) (string, bool) {
	v, set := getEnv(env, t.l.o.ListenVar)
	if !set && len(c.ports) == 0 {
		return "", false
	}
	var port int32
	if set {
		_, ps, err := net.SplitHostPort(v)
		n, perr := strconv.Atoi(ps)
		if err != nil || perr != nil {
			return v, true // let the service report its own configuration error
		}
		port = int32(n)
	} else {
		for _, pm := range c.def.PortMappings {
			if pm.ContainerPort != nil {
				port = *pm.ContainerPort
				break
			}
		}
	}
	if hp, ok := c.ports[port]; ok {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(hp)), true
	}
	hp, err := testenv.FreePort()
	if err != nil {
		return v, true
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(hp)), true
}

// reap waits for an essential container to exit, then stops the rest.
func (t *task) reap() {
	t.mu.Lock()
	procs := append([]*proc{}, t.procs...)
	t.mu.Unlock()
	cases := make(chan *proc, len(procs))
	for _, p := range procs {
		go func() { <-p.done; cases <- p }()
	}
	for range procs {
		p := <-cases
		if p.essential {
			break
		}
	}
	for _, p := range procs {
		signalGroup(p.cmd, syscall.SIGKILL)
	}
	for _, p := range procs {
		<-p.done
	}
	t.mu.Lock()
	for _, p := range procs {
		t.exitCodes[p.name] = exitCode(p.cmd.ProcessState)
	}
	t.state = stateExited
	t.mu.Unlock()
	close(t.done)
	t.l.o.Logf("task %s (%s) exited: %v", t.short(), t.spec.Service, t.exitCodes)
}

// Observe reports the task to the stand-in; it must not block.
func (t *task) Observe(time.Time) ecsstandin.Observation {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := ecsstandin.Observation{}
	if len(t.digests) > 0 {
		o.Digests = map[string]string{}
		for k, v := range t.digests {
			o.Digests[k] = v
		}
	}
	switch t.state {
	case stateFailed:
		o.Exited, o.StopCode, o.Reason = true, "TaskFailedToStart", t.failReason
		o.ContainerReasons = map[string]string{}
		for _, c := range t.spec.Containers {
			o.ContainerReasons[c.Name] = t.failReason
		}
		return o
	case stateExited:
		o.Exited = true
		o.ExitCodes = map[string]int{}
		for k, v := range t.exitCodes {
			o.ExitCodes[k] = v
		}
		if len(o.ExitCodes) == 0 {
			o.ExitCodes = nil
		}
		if !t.stopAsked {
			o.StopCode, o.Reason = "EssentialContainerExited", "Essential container in task exited"
			if t.killReason != "" {
				o.Reason = t.killReason
			}
		}
		return o
	case statePending:
		return o
	}
	o.Running = true
	if t.spec.HasLoadBalancer {
		if t.target == nil {
			return o
		}
		s, why := t.target.Health(t.id)
		switch s {
		case grpclb.Healthy:
			o.Health = "healthy"
		case grpclb.Unhealthy:
			o.Health, o.HealthReason = "unhealthy", why
		}
		return o
	}
	if time.Since(t.startedAt) >= t.l.o.SteadyAfter {
		o.Health = "healthy"
	}
	return o
}

// Stop is the scheduler stopping the task (after the target drained):
// SIGTERM now, SIGKILL after the stopTimeout.
func (t *task) Stop(time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopAsked {
		return
	}
	t.stopAsked = true
	if t.state != stateRunning {
		return
	}
	for _, p := range t.procs {
		signalGroup(p.cmd, syscall.SIGTERM)
	}
	timeout := t.stopTimeout
	t.l.o.Logf("task %s (%s): SIGTERM, SIGKILL in %s", t.short(), t.spec.Service, timeout)
	t.l.wg.Add(1)
	go func() {
		defer t.l.wg.Done()
		select {
		case <-t.done:
		case <-time.After(timeout):
			t.mu.Lock()
			t.l.o.Logf("task %s (%s): still running after stopTimeout %s: SIGKILL", t.short(), t.spec.Service, timeout)
			t.killLocked()
			t.mu.Unlock()
		}
	}()
}

// kill ends the task at once from outside the scheduler (an AZ loss).
func (t *task) kill(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.killReason == "" {
		t.killReason = reason
	}
	t.killLocked()
}

func (t *task) killLocked() {
	for _, p := range t.procs {
		signalGroup(p.cmd, syscall.SIGKILL)
	}
}

// deregister starts the target's drain in the balancer.
func (t *task) deregister() {
	t.mu.Lock()
	lb := t.target
	t.deregistered = true
	t.mu.Unlock()
	if lb != nil {
		lb.Deregister(t.id)
		t.l.o.Logf("task %s (%s): deregistered from %s, draining", t.short(), t.spec.Service, lb.TargetGroup().Name)
	}
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func getEnv(env []string, k string) (string, bool) {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, k+"="); ok {
			return v, true
		}
	}
	return "", false
}
