package ecsstandin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

func TestRoundingAndThreshold(t *testing.T) {
	for _, c := range []struct{ desired, pct, min, max, threshold int }{
		{2, 50, 1, 1, 3}, {3, 50, 2, 1, 3}, {1, 150, 2, 1, 3}, {4, 200, 8, 8, 3},
		{7, 50, 4, 3, 4}, {10, 75, 8, 7, 5}, {1000, 100, 1000, 1000, 200}, {0, 50, 0, 0, 3},
	} {
		if got := minHealthy(c.desired, c.pct); got != c.min {
			t.Errorf("minHealthy(%d, %d%%) = %d, want %d (rounds up)", c.desired, c.pct, got, c.min)
		}
		if got := maxTotal(c.desired, c.pct); got != c.max {
			t.Errorf("maxTotal(%d, %d%%) = %d, want %d (rounds down)", c.desired, c.pct, got, c.max)
		}
		if got := threshold(c.desired); got != c.threshold {
			t.Errorf("threshold(%d) = %d, want %d", c.desired, got, c.threshold)
		}
	}
}

type fixture struct {
	t   *testing.T
	s   *Server
	ecs *ecs.Client
	ctx context.Context
}

func newFixture(t *testing.T, sc Scenario) *fixture {
	t.Helper()
	if sc.ThrottleRate == 0 {
		sc.ThrottleRate = -1
	}
	s, err := New(Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	cfg, err := s.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, s: s, ecs: ecs.NewFromConfig(cfg), ctx: ctx}
}

func (f *fixture) register(family, image string) string {
	f.t.Helper()
	out, err := f.ecs.RegisterTaskDefinition(f.ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("api"), Image: aws.String(image), Essential: aws.Bool(true),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return *out.TaskDefinition.TaskDefinitionArn
}

func (f *fixture) service(name, td string, desired int32, lb bool) {
	f.t.Helper()
	if _, err := f.ecs.CreateCluster(f.ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		f.t.Fatal(err)
	}
	in := &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String(name), TaskDefinition: aws.String(td),
		DesiredCount: aws.Int32(desired),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}}
	if lb {
		in.LoadBalancers = []types.LoadBalancer{{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/1"),
			ContainerName: aws.String("api"), ContainerPort: aws.Int32(8080)}}
	}
	if _, err := f.ecs.CreateService(f.ctx, in); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) describe(name string) types.Service {
	f.t.Helper()
	out, err := f.ecs.DescribeServices(f.ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{name}})
	if err != nil {
		f.t.Fatal(err)
	}
	return out.Services[0]
}

func eventTexts(s types.Service) string {
	var b strings.Builder
	for i := len(s.Events) - 1; i >= 0; i-- {
		b.WriteString(*s.Events[i].Message + "\n")
	}
	return b.String()
}

func TestRollingUpdateCompletesWithSteadyState(t *testing.T) {
	f := newFixture(t, Scenario{})
	f.service("web", f.register("web", "repo/web@sha256:aaa"), 2, true)
	f.s.Advance(2 * time.Minute)
	svc := f.describe("web")
	if got := svc.Deployments[0].RolloutState; got != types.DeploymentRolloutStateCompleted {
		t.Fatalf("first deployment %s, want COMPLETED\n%s", got, eventTexts(svc))
	}
	up, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"),
		TaskDefinition: aws.String(f.register("web", "repo/web@sha256:bbb"))})
	if err != nil {
		t.Fatal(err)
	}
	id := *up.Service.Deployments[0].Id
	if len(up.Service.Deployments) != 2 || *up.Service.Deployments[1].Status != "ACTIVE" {
		t.Fatalf("after UpdateService want PRIMARY + ACTIVE, got %+v", up.Service.Deployments)
	}
	f.s.Advance(3 * time.Minute)
	svc = f.describe("web")
	if len(svc.Deployments) != 1 || *svc.Deployments[0].Id != id || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateCompleted {
		t.Fatalf("want only %s COMPLETED, got %+v\n%s", id, svc.Deployments, eventTexts(svc))
	}
	ev := eventTexts(svc)
	for _, want := range []string{"(service web) has reached a steady state.", "(service web) (deployment " + id + ") deployment completed.",
		"(service web) registered 1 targets in (target-group arn:aws:elasticloadbalancing:", "has stopped 1 running tasks"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %q:\n%s", want, ev)
		}
	}
	// Old tasks were replaced while keeping ceil(50%×2)=1 healthy, with at
	// most floor(200%×2)=4 tasks: all four existed at once.
	stopped, _ := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), DesiredStatus: types.DesiredStatusStopped})
	if len(stopped.TaskArns) != 2 {
		t.Errorf("want the 2 old tasks stopped, got %d", len(stopped.TaskArns))
	}
	f.s.Advance(61 * time.Minute)
	stopped, _ = f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), DesiredStatus: types.DesiredStatusStopped})
	if len(stopped.TaskArns) != 0 {
		t.Errorf("stopped tasks are kept for an hour; after 61 minutes %d remain", len(stopped.TaskArns))
	}
}

func TestCircuitBreakerRollsBackToLastCompleted(t *testing.T) {
	f := newFixture(t, Scenario{Rules: []Rule{{Match: "sha256:bad", Behaviour: Crash, ExitCode: 137}}})
	good := f.register("web", "repo/web@sha256:good")
	f.service("web", good, 2, true)
	f.s.Advance(2 * time.Minute)
	first := *f.describe("web").Deployments[0].Id
	up, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"),
		TaskDefinition: aws.String(f.register("web", "repo/web@sha256:bad"))})
	if err != nil {
		t.Fatal(err)
	}
	bad := *up.Service.Deployments[0].Id
	var svc types.Service
	for i := 0; i < 120; i++ {
		f.s.Advance(time.Second)
		svc = f.describe("web")
		if *svc.Deployments[0].Id != bad {
			break
		}
	}
	if len(svc.Deployments) < 2 {
		t.Fatalf("want rollback PRIMARY + failed ACTIVE, got %+v\n%s", svc.Deployments, eventTexts(svc))
	}
	p, failed := svc.Deployments[0], svc.Deployments[1]
	if *p.TaskDefinition != good || *p.Status != "PRIMARY" {
		t.Errorf("rollback PRIMARY runs %s, want %s", *p.TaskDefinition, good)
	}
	if *failed.Id != bad || *failed.Status != "ACTIVE" || failed.RolloutState != types.DeploymentRolloutStateFailed || failed.FailedTasks < 3 {
		t.Errorf("failed deployment: %s %s %s failed=%d, want %s ACTIVE FAILED >=3", *failed.Id, *failed.Status, failed.RolloutState, failed.FailedTasks, bad)
	}
	if !strings.Contains(*p.RolloutStateReason, "rolling back to deploymentId "+first) {
		t.Errorf("rollback reason %q does not name %s", *p.RolloutStateReason, first)
	}
	stopped, _ := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), DesiredStatus: types.DesiredStatusStopped, StartedBy: aws.String(bad)})
	dt, err := f.ecs.DescribeTasks(f.ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: stopped.TaskArns})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range dt.Tasks {
		if task.StopCode != types.TaskStopCodeEssentialContainerExited || *task.Containers[0].ExitCode != 137 {
			t.Errorf("crashed task: stop code %s exit %v", task.StopCode, task.Containers[0].ExitCode)
		}
	}
	f.s.Advance(3 * time.Minute)
	svc = f.describe("web")
	if len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateCompleted {
		t.Errorf("rollback should complete: %+v", svc.Deployments)
	}
}

func TestFailedFirstDeploymentStalls(t *testing.T) {
	f := newFixture(t, Scenario{Rules: []Rule{{Match: "bad", Behaviour: PullError}}})
	f.service("web", f.register("web", "repo/web:bad"), 2, false)
	f.s.Advance(5 * time.Minute)
	svc := f.describe("web")
	if len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateFailed {
		t.Fatalf("want the only deployment FAILED (nothing to roll back to), got %+v", svc.Deployments)
	}
	if svc.Deployments[0].FailedTasks <= 3 {
		t.Errorf("a stalled service keeps trying; failed tasks %d", svc.Deployments[0].FailedTasks)
	}
}

func TestUnhealthyTargetsEventText(t *testing.T) {
	f := newFixture(t, Scenario{Rules: []Rule{{Match: "sick", Behaviour: Unhealthy, Reason: "Health checks failed with these codes: [12]"}}})
	f.service("web", f.register("web", "repo/web:ok"), 1, true)
	f.s.Advance(2 * time.Minute)
	_, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"),
		TaskDefinition: aws.String(f.register("web", "repo/web:sick"))})
	if err != nil {
		t.Fatal(err)
	}
	f.s.Advance(time.Minute)
	ev := eventTexts(f.describe("web"))
	if !strings.Contains(ev, ") (port 8080) is unhealthy in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/1) due to (reason Health checks failed with these codes: [12])\n") {
		t.Errorf("no unhealthy-target event:\n%s", ev)
	}
}

func TestDescribeServicesLimitsAndThrottling(t *testing.T) {
	f := newFixture(t, Scenario{ThrottleRate: 1, ThrottleBurst: 2})
	f.service("web", f.register("web", "repo/web:ok"), 1, false)
	names := make([]string, 11)
	for i := range names {
		names[i] = "web"
	}
	_, err := f.ecs.DescribeServices(f.ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: names},
		func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" {
		t.Fatalf("11 services: want InvalidParameterException, got %v", err)
	}
	throttled := 0
	for i := 0; i < 5; i++ {
		_, err := f.ecs.DescribeServices(f.ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}},
			func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
		if errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException" {
			throttled++
		}
	}
	if throttled == 0 || f.s.Stats().Throttled != throttled {
		t.Errorf("throttled %d of 5 quick calls (stats say %d); want some", throttled, f.s.Stats().Throttled)
	}
}

func TestEventsKeepLatest100(t *testing.T) {
	// Tasks turn healthy (which resets the breaker's count) and crash ten
	// seconds later: the deployment completes, and the service replaces
	// crashed tasks for ever.
	f := newFixture(t, Scenario{Rules: []Rule{{Match: "bad", Behaviour: Crash, CrashAfterSeconds: 30}}})
	f.service("web", f.register("web", "repo/web:bad"), 4, false)
	f.s.Advance(90 * time.Minute)
	if n := len(f.describe("web").Events); n != 100 {
		t.Errorf("events: %d, want the latest 100", n)
	}
}

func TestScenarioFileAndControlEndpoints(t *testing.T) {
	sc, err := LoadScenario("testdata/rollback.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Rules) != 5 || sc.rule("repo/web@sha256:bad1").Behaviour != Crash || sc.rule("repo/web:ok").Behaviour != Healthy {
		t.Fatalf("scenario %+v", sc)
	}
	if err := (Scenario{Rules: []Rule{{Match: "x", Behaviour: "explode"}}}).validate(); err == nil || !strings.Contains(err.Error(), `unknown behaviour "explode"`) {
		t.Errorf("bad behaviour: %v", err)
	}
	f := newFixture(t, Scenario{})
	f.service("web", f.register("web", "repo/web:stuck"), 1, false)
	if err := f.s.SetScenario(sc); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(f.s.URL+"/standin/advance?by=10m", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("advance: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(f.s.URL + "/standin/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Tasks launch on the scheduler's next tick, under the new scenario:
	// ":stuck" tasks hang in PENDING, so ten minutes later the deployment
	// is still in progress.
	if len(st.Deployments) != 1 || st.Deployments[0].RolloutState != "IN_PROGRESS" || st.Calls["CreateService"] != 1 {
		t.Errorf("stats %+v", st)
	}
	if svc := f.describe("web"); svc.PendingCount != 1 || svc.RunningCount != 0 {
		t.Errorf("pending %d running %d, want the stuck task PENDING", svc.PendingCount, svc.RunningCount)
	}
}
