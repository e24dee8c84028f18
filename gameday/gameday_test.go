// Package gameday_test turns the deployment design's review into tests that
// run the real service binaries, taken from the pushed images by digest, as
// ECS tasks of the rollout stand-in (real-task mode: internal/realtask)
// behind the local gRPC load balancer (internal/grpclb), against moto, under
// real traffic. Each test prints its figures (go test -v): requests, errors,
// recovery time.
//
//	go test -count=1 -v ./gameday/
package gameday_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// figures prints a test's numbers in one recognisable block.
func figures(t *testing.T, lines ...string) {
	t.Helper()
	t.Logf("FIGURES %s\n  %s", t.Name(), strings.Join(lines, "\n  "))
}

// v1 starts the api (2 tasks) and the worker (workers tasks) on v1 and
// waits until they are steady.
func (w *world) v1(workers int32) {
	w.t.Helper()
	w.service(apiService, "api", w.rel.v1["api"], 2, apiEnv...)
	w.service(workerService, "worker", w.rel.v1["worker"], workers, workerEnv...)
	d := w.steady(90*time.Second, apiService, workerService)
	w.logf("v1 steady after %s: %d healthy api targets", d.Round(time.Millisecond), w.lb.HealthyCount())
}

// At the designed count of 2 api tasks and the api's minimum healthy 100 %,
// the balancer must never have fewer than 2 healthy targets during the
// deploy: a new task is healthy before an old one is deregistered.
func TestZeroDowntimeDuringAPIRollingDeployment(t *testing.T) {
	w := newWorld(t)
	w.v1(2)
	l := w.startLoad(4, 50*time.Millisecond, "echo", "zero downtime")
	time.Sleep(2 * time.Second)
	floor := w.watchHealthy(10 * time.Millisecond)
	start := time.Now()
	code, out := w.deploy(map[string]string{"api": w.rel.v2["api"]}, "v2", apiService)
	took := time.Since(start)
	time.Sleep(2 * time.Second) // traffic after the last old task is gone
	least, samples := floor()
	l.End()
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("deploy v2 exited %d, want 0 with SUCCEEDED:\n%s", code, out)
	}
	o := w.settle(l.Accepted(), 60*time.Second)
	figures(t,
		fmt.Sprintf("api rolling deployment v1 → v2 (2 tasks, min %d %% / max %d %%, deregistration delay %s): deploy took %s, verdict SUCCEEDED", deployment["api"].minPct, deployment["api"].maxPct, deregDelay, took.Round(time.Millisecond)),
		fmt.Sprintf("healthy api targets: never fewer than %d (%d samples every 10 ms from UpdateService to 2 s after the verdict)", least, samples),
		"load: "+l.String(),
		"accepted tasks: "+o.String())
	if least < 2 {
		t.Errorf("the balancer had %d healthy api targets during the deploy, want at least 2 (minimum healthy %d %% of 2 tasks)", least, deployment["api"].minPct)
	}
	ok, failed := l.Counts()
	if failed != 0 {
		t.Errorf("%d RPCs failed during the rolling deployment, want 0", failed)
	}
	if ok == 0 {
		t.Error("no RPC succeeded: the load never reached the api")
	}
	if o.Succeeded != len(l.Accepted()) {
		t.Errorf("accepted tasks: %s; want all %d SUCCEEDED (open: %v)", o, len(l.Accepted()), o.Open)
	}
}

func TestAZLossRecoversToDesiredCountWithoutLosingAcceptedTasks(t *testing.T) {
	w := newWorld(t)
	w.v1(2)
	// The placement spread each service over both AZs.
	perAZ := map[string]int{}
	for _, ti := range w.tasks.Tasks() {
		perAZ[ti.AZ]++
	}
	if perAZ["us-east-1a"] != 2 || perAZ["us-east-1b"] != 2 {
		t.Fatalf("tasks per AZ %v, want 2 and 2 (one api and one worker in each)", perAZ)
	}
	l := w.startLoad(4, 50*time.Millisecond, "sleep", "300ms")
	time.Sleep(2 * time.Second)
	ok, failed := l.Counts()
	before := ok + failed
	lost := time.Now()
	killed := w.tasks.FailAZ("us-east-1b", "game day")
	noticed := w.belowDesired(30*time.Second, apiService, workerService)
	w.steady(90*time.Second, apiService, workerService)
	recovery := time.Since(lost)
	time.Sleep(2 * time.Second)
	l.End()
	w.tasks.RestoreAZ("us-east-1b")
	for _, ti := range w.tasks.Tasks() {
		if ti.AZ == "us-east-1b" {
			t.Errorf("task %s was placed in the lost AZ", ti.Arn)
		}
	}
	o := w.settle(l.Accepted(), 90*time.Second)
	figures(t,
		fmt.Sprintf("lost us-east-1b: %d tasks killed (SIGKILL) at %s, %d requests before", len(killed), lost.Format("15:04:05.000"), before),
		fmt.Sprintf("the scheduler saw the loss after %s; recovery (both services back at desired count and steady, 2 healthy api targets): %s after the loss", noticed.Round(time.Millisecond), recovery.Round(time.Millisecond)),
		"load: "+l.String(),
		"accepted tasks: "+o.String())
	if len(killed) != 2 {
		t.Errorf("killed %d tasks, want 2", len(killed))
	}
	if len(o.Open) != 0 || o.Succeeded != len(l.Accepted()) {
		t.Errorf("accepted tasks: %s; want all %d SUCCEEDED (open: %v)", o, len(l.Accepted()), o.Open)
	}
}

func TestWorkerDrainDuringDeploymentCompletesEveryTask(t *testing.T) {
	w := newWorld(t)
	w.v1(2)
	// 24 tasks of 3 s on 2 workers × 4 slots: three waves, so the
	// deployment lands on tasks running, tasks received and tasks queued.
	var ids []string
	for i := 0; i < 24; i++ {
		ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
		r, err := w.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: fmt.Sprintf("drain-%d-%d", w.started.UnixNano(), i), Type: "sleep", Payload: []byte("3s")})
		cancel()
		if err != nil {
			t.Fatalf("submit sleep task %d: %v", i, err)
		}
		ids = append(ids, r.GetTask().GetTaskId())
	}
	time.Sleep(1500 * time.Millisecond)
	start := time.Now()
	code, out := w.deploy(map[string]string{"worker": w.rel.v2["worker"]}, "v2", workerService)
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("deploy worker v2 exited %d, want 0 with SUCCEEDED:\n%s", code, out)
	}
	o := w.settle(ids, 90*time.Second)
	stopped := w.stoppedExitCodes(workerService)
	figures(t,
		fmt.Sprintf("worker deployment v1 → v2 with %d sleep(3s) tasks submitted: deploy took %s", len(ids), took.Round(time.Millisecond)),
		"tasks: "+o.String(),
		"stopped worker tasks (exit code: count): "+stopped)
	if o.Succeeded != len(ids) || len(o.Open) != 0 {
		t.Errorf("tasks: %s; want every one of %d SUCCEEDED exactly once or after a retry, none orphaned (open: %v)", o, len(ids), o.Open)
	}
	// A worker that drained in time exits 0; 137 would mean SIGKILL after
	// the stopTimeout, with tasks cut off.
	if stopped != "map[0:2]" {
		t.Errorf("stopped worker tasks exited %s, want both 0 (drained within the stop timeout)", stopped)
	}
}

// watchHealthy samples the balancer's healthy target count every period
// until the returned function is called, which returns the smallest count
// seen and how many samples were taken.
func (w *world) watchHealthy(period time.Duration) func() (least, samples int) {
	stop := make(chan struct{})
	done := make(chan struct{})
	least, samples := w.lb.HealthyCount(), 0
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			least = min(least, w.lb.HealthyCount())
			samples++
		}
	}()
	return func() (int, int) {
		close(stop)
		<-done
		return least, samples
	}
}

// belowDesired waits until a service runs fewer tasks than it wants (the
// scheduler has seen tasks die) and returns how long that took.
func (w *world) belowDesired(timeout time.Duration, svcs ...string) time.Duration {
	w.t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		out, err := w.ecs.DescribeServices(w.ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: svcs})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, s := range out.Services {
			if s.RunningCount < s.DesiredCount || s.PendingCount > 0 {
				return time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.t.Fatalf("no service of %v dropped below its desired count within %s of the AZ loss", svcs, timeout)
	return 0
}

// stoppedExitCodes counts the exit codes of a service's stopped tasks.
func (w *world) stoppedExitCodes(svc string) string {
	w.t.Helper()
	lt, err := w.ecs.ListTasks(w.ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(svc), DesiredStatus: types.DesiredStatusStopped})
	if err != nil || len(lt.TaskArns) == 0 {
		return fmt.Sprintf("none (%v)", err)
	}
	dt, err := w.ecs.DescribeTasks(w.ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: lt.TaskArns})
	if err != nil {
		return err.Error()
	}
	count := map[string]int{}
	for _, tk := range dt.Tasks {
		for _, c := range tk.Containers {
			k := "none"
			if c.ExitCode != nil {
				k = fmt.Sprint(*c.ExitCode)
			}
			count[k]++
		}
	}
	return fmt.Sprint(count)
}

func TestBadReleaseTripsCircuitBreakerAndRollsBackUnderTraffic(t *testing.T) {
	w := newWorld(t)
	w.v1(1)
	l := w.startLoad(4, 50*time.Millisecond, "echo", "bad release")
	time.Sleep(2 * time.Second)
	start := time.Now()
	code, out := w.deploy(map[string]string{"api": w.rel.v3["api"]}, "v3", apiService)
	took := time.Since(start)
	back := w.steady(90*time.Second, apiService)
	time.Sleep(time.Second)
	l.End()
	o := w.settle(l.Accepted(), 60*time.Second)
	figures(t,
		fmt.Sprintf("api v3 (listens on :9090, target group checks 8080): deploy exited %d after %s; back to 2 healthy v1 targets %s later", code, took.Round(time.Millisecond), back.Round(time.Millisecond)),
		"load: "+l.String(),
		"accepted tasks: "+o.String())
	if code == 0 {
		t.Errorf("deploy of the bad release exited 0, want non-zero")
	}
	if !strings.Contains(out, "ROLLED_BACK") {
		t.Errorf("deploy output does not report ROLLED_BACK:\n%s", out)
	}
	if _, failed := l.Counts(); failed != 0 {
		t.Errorf("%d RPCs failed while the bad release rolled back, want 0", failed)
	}
	if o.Succeeded != len(l.Accepted()) {
		t.Errorf("accepted tasks: %s; want all %d SUCCEEDED (open: %v)", o, len(l.Accepted()), o.Open)
	}
	// The service runs v1 again.
	ds, err := w.ecs.DescribeServices(w.ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{apiService}})
	if err != nil {
		t.Fatal(err)
	}
	td, err := w.ecs.DescribeTaskDefinition(w.ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: ds.Services[0].TaskDefinition})
	if err != nil {
		t.Fatal(err)
	}
	if img := aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image); img != w.rel.v1["api"] {
		t.Errorf("after the rollback the api runs %s, want v1 %s", img, w.rel.v1["api"])
	}
}
