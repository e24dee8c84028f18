// Package realtask is the ECS rollout stand-in's real-task mode: a Launcher
// that runs each task as real processes. Each container's binary comes from
// its image, pulled by digest from an OCI registry (cached by digest), and
// runs with the image's and the task definition's environment plus the local
// world's endpoints, in one of two simulated availability zones. A task
// behind a load balancer is registered as a target of the local gRPC
// balancer (internal/grpclb), whose health checks decide the task's health.
// Stopping a task sends SIGTERM, then SIGKILL after the stopTimeout.
//
// The stand-in's Launcher interface hands over only the task ARN, the
// service and the containers' images, so the launcher reads the rest
// (environment, port mappings, stopTimeout, the service's target group) back
// from the stand-in over the ECS API, as the ECS agent would from the
// control plane, and it deregisters targets when the stand-in's scheduler
// sets a task's desired status to STOPPED.
package realtask

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	"github.com/conveyor-dev/conveyor/internal/grpclb"
)

// DefaultAZs are the two simulated availability zones.
var DefaultAZs = []string{"us-east-1a", "us-east-1b"}

// Options configure a Launcher.
type Options struct {
	// TargetGroups are the local balancers, by target group ARN, that tasks
	// of services with a load balancer register with.
	TargetGroups map[string]*grpclb.LB
	// Env is the local world every task sees last (AWS_ENDPOINT_URL,
	// AWS_REGION, credentials): it wins over the image and the task
	// definition, as the endpoints are what make a local world local.
	Env []string
	// Dir keeps extracted binaries (by digest) and each task's output.
	Dir string
	// AZs to place tasks in (default DefaultAZs).
	AZs []string
	// ListenVar names the variable holding a service's listen address
	// (default CONVEYOR_LISTEN). Tasks share the loopback interface instead
	// of each having its own network namespace, so the launcher maps the
	// container port the service listens on to a free host port, like a
	// bridge-mode port mapping: a container port with a mapping is reachable
	// by the balancer, any other port is not. Unset means the first mapped
	// container port.
	ListenVar string
	// SteadyAfter is how long a task without a load balancer must keep
	// running to count as healthy (default 2s).
	SteadyAfter time.Duration
	// StopTimeout is used when a container definition sets none (ECS: 30s).
	StopTimeout time.Duration
	// Remote are options for pulling images (auth, transport).
	Remote []remote.Option
	// Logf reports task lifecycle lines; nil discards them.
	Logf func(format string, args ...any)
	// Tick, when set, is called every Run round to move the stand-in's
	// scheduler along (e.g. func() { server.Advance(0) }): the stand-in only
	// runs its scheduler when it is called, and real tasks need it to run in
	// real time even when no client is polling.
	Tick func()
}

// Launcher runs stand-in tasks as processes. It implements
// ecsstandin.Launcher.
type Launcher struct {
	o    Options
	bins *binaries
	mu   sync.Mutex
	ecs  *ecs.Client
	// tasks launched and not yet forgotten
	tasks    map[string]*task
	down     map[string]string // AZ → why it is down
	clusters map[string]bool
	closed   bool // after Close nothing starts
	wg       sync.WaitGroup
}

var _ ecsstandin.Launcher = (*Launcher)(nil)

// New returns a launcher. Call SetECS with a client aimed at the stand-in
// before the stand-in launches its first task.
func New(o Options) (*Launcher, error) {
	if o.Dir == "" {
		return nil, errors.New("realtask: Options.Dir is empty: name a directory for binaries and task output")
	}
	if len(o.AZs) == 0 {
		o.AZs = DefaultAZs
	}
	if o.ListenVar == "" {
		o.ListenVar = "CONVEYOR_LISTEN"
	}
	if o.SteadyAfter <= 0 {
		o.SteadyAfter = 2 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	for _, d := range []string{"bin", "logs"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("realtask: %w", err)
		}
	}
	return &Launcher{o: o, bins: newBinaries(filepath.Join(o.Dir, "bin"), o.Remote...), tasks: map[string]*task{},
		down: map[string]string{}, clusters: map[string]bool{}}, nil
}

// SetECS aims the launcher at the stand-in it serves.
func (l *Launcher) SetECS(c *ecs.Client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ecs = c
}

func (l *Launcher) client() *ecs.Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ecs
}

// Launch places the task in an AZ and starts it in the background; the
// stand-in calls it with its lock held, so nothing here may call back.
func (l *Launcher) Launch(spec ecsstandin.TaskSpec, _ time.Time) ecsstandin.Handle {
	t := &task{l: l, spec: spec, id: lastSegment(spec.TaskArn), cluster: clusterOf(spec.TaskArn),
		state: statePending, exitCodes: map[string]int{}, digests: map[string]string{}, done: make(chan struct{})}
	l.mu.Lock()
	t.az = l.placeLocked(spec.Service)
	if l.closed {
		t.failLocked("ResourceInitializationError: the local world is shutting down")
	} else if t.az == "" {
		t.failLocked("ResourceInitializationError: no availability zone is up (" + l.downReasonsLocked() + ")")
	}
	l.tasks[spec.TaskArn] = t
	l.clusters[t.cluster] = true
	l.mu.Unlock()
	if t.state == stateFailed {
		return t
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); t.start() }()
	return t
}

// placeLocked spreads a service's tasks over the AZs that are up, as the
// ECS spread-by-AZ placement does: the AZ with the fewest live tasks of the
// service wins, ties to the first.
func (l *Launcher) placeLocked(service string) string {
	count := map[string]int{}
	for _, t := range l.tasks {
		if t.spec.Service == service && t.live() {
			count[t.az]++
		}
	}
	best := ""
	for _, az := range l.o.AZs {
		if _, isDown := l.down[az]; isDown {
			continue
		}
		if best == "" || count[az] < count[best] {
			best = az
		}
	}
	return best
}

func (l *Launcher) downReasonsLocked() string {
	var out []string
	for az, why := range l.down {
		out = append(out, az+": "+why)
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// FailAZ simulates the loss of an availability zone: every task placed in
// it is killed at once (SIGKILL), and no task is placed there until
// RestoreAZ. It returns the ARNs of the tasks it killed.
func (l *Launcher) FailAZ(az, why string) []string {
	l.mu.Lock()
	l.down[az] = why
	var victims []*task
	for _, t := range l.tasks {
		if t.az == az && t.live() {
			victims = append(victims, t)
		}
	}
	l.mu.Unlock()
	var arns []string
	for _, t := range victims {
		t.kill(fmt.Sprintf("Task stopped: availability zone %s lost (%s)", az, why))
		arns = append(arns, t.spec.TaskArn)
	}
	sort.Strings(arns)
	l.o.Logf("AZ %s lost (%s): killed %d tasks", az, why, len(arns))
	return arns
}

// RestoreAZ lets tasks be placed in az again.
func (l *Launcher) RestoreAZ(az string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.down, az)
}

// TaskInfo is a launched task as the launcher sees it.
type TaskInfo struct {
	Arn, Service, AZ, State string
	Pid                     int
}

// Tasks lists the tasks that are starting or running, sorted by ARN.
func (l *Launcher) Tasks() []TaskInfo {
	l.mu.Lock()
	var ts []*task
	for _, t := range l.tasks {
		ts = append(ts, t)
	}
	l.mu.Unlock()
	var out []TaskInfo
	for _, t := range ts {
		t.mu.Lock()
		if t.state == statePending || t.state == stateRunning {
			ti := TaskInfo{Arn: t.spec.TaskArn, Service: t.spec.Service, AZ: t.az, State: string(t.state)}
			if len(t.procs) > 0 && t.procs[0].cmd.Process != nil {
				ti.Pid = t.procs[0].cmd.Process.Pid
			}
			out = append(out, ti)
		}
		t.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Arn < out[j].Arn })
	return out
}

// Close kills every task and waits for the processes to be reaped.
func (l *Launcher) Close() {
	l.mu.Lock()
	l.closed = true
	var ts []*task
	for _, t := range l.tasks {
		ts = append(ts, t)
	}
	l.mu.Unlock()
	for _, t := range ts {
		t.kill("Task stopped: the local world is shutting down")
	}
	l.wg.Wait()
}

// Run keeps the load balancers in step with the stand-in until ctx ends: a
// target whose task the scheduler set to STOPPED is deregistered (and so
// drains) at once, as ECS deregisters before it stops a task. Every round
// also touches the stand-in, whose scheduler runs when it is called.
func (l *Launcher) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if l.o.Tick != nil {
			l.o.Tick()
		}
		l.sync(ctx)
	}
}

func (l *Launcher) sync(ctx context.Context) {
	c := l.client()
	if c == nil {
		return
	}
	l.mu.Lock()
	byCluster := map[string][]*task{}
	for arn, t := range l.tasks {
		t.mu.Lock()
		watch := t.target != nil && !t.deregistered
		gone := !watch && t.state != statePending && t.state != stateRunning
		t.mu.Unlock()
		if watch {
			byCluster[t.cluster] = append(byCluster[t.cluster], t)
		} else if gone {
			delete(l.tasks, arn)
		}
	}
	clusters := make([]string, 0, len(l.clusters))
	for c := range l.clusters {
		clusters = append(clusters, c)
	}
	l.mu.Unlock()
	sort.Strings(clusters)
	for _, cl := range clusters {
		ts := byCluster[cl]
		if len(ts) == 0 {
			// Nothing to reconcile; the call still runs the scheduler.
			_, _ = c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cl), MaxResults: aws.Int32(1)})
			continue
		}
		for i := 0; i < len(ts); i += 100 {
			chunk := ts[i:min(i+100, len(ts))]
			arns := make([]string, len(chunk))
			for j, t := range chunk {
				arns[j] = t.spec.TaskArn
			}
			out, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cl), Tasks: arns})
			if err != nil {
				l.o.Logf("reconcile targets in cluster %s: %v (retrying next round)", cl, err)
				continue
			}
			stopping := map[string]bool{}
			for _, d := range out.Tasks {
				if aws.ToString(d.DesiredStatus) == "STOPPED" {
					stopping[aws.ToString(d.TaskArn)] = true
				}
			}
			for _, t := range chunk {
				if stopping[t.spec.TaskArn] {
					t.deregister()
				}
			}
		}
	}
}

func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// clusterOf reads the cluster from arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID.
func clusterOf(taskArn string) string {
	parts := strings.Split(taskArn, "/")
	if len(parts) >= 3 {
		return parts[len(parts)-2]
	}
	return "default"
}

// exitCode is the container's exit code as Docker reports it: 128+signal
// for a process killed by a signal.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// signalGroup signals a process and everything it started.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
