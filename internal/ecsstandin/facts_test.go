package ecsstandin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// serviceWith creates service name with a circuit breaker configuration.
func (f *fixture) serviceWith(name, td string, desired int32, cb *types.DeploymentCircuitBreaker) {
	f.t.Helper()
	if _, err := f.ecs.CreateCluster(f.ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.ecs.CreateService(f.ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String(name),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(desired),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200),
			DeploymentCircuitBreaker: cb}}); err != nil {
		f.t.Fatal(err)
	}
}

// until advances the clock a second at a time until ok holds (at most max).
func (f *fixture) until(max time.Duration, ok func() bool) bool {
	f.t.Helper()
	for elapsed := time.Duration(0); elapsed < max; elapsed += time.Second {
		if ok() {
			return true
		}
		f.s.Advance(time.Second)
	}
	return ok()
}

// The only rolloutStateReason texts ECS writes (see state.go).
var awsReasons = regexp.MustCompile(`^(ECS deployment ecs-svc/\d{19} (in progress|completed)\.|ECS deployment circuit breaker: tasks failed to start\.|ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/\d{19}\.)$`)

func checkReasons(t *testing.T, svc types.Service) {
	t.Helper()
	for _, d := range svc.Deployments {
		if r := aws.ToString(d.RolloutStateReason); !awsReasons.MatchString(r) {
			t.Errorf("deployment %s: rolloutStateReason %q is not a text ECS writes", *d.Id, r)
		}
	}
}

// A breaker rollback: the failed service deployment goes
// ROLLBACK_REQUESTED → ROLLBACK_IN_PROGRESS → ROLLBACK_SUCCESSFUL, with its
// rollback naming the last successful revision; DescribeServices shows the
// failed deployment ACTIVE FAILED beside a PRIMARY running the old task
// definition, then the rollback completes with "ECS deployment <id>
// completed." and the failed deployment is INACTIVE. No service deployment
// or revision is created for the rollback.
func TestBreakerRollbackTransitions(t *testing.T) {
	f := newFixture(t, Scenario{Rules: []Rule{{Match: "sha256:bad", Behaviour: Crash, ExitCode: 1}}})
	good := f.register("web", "repo/web@sha256:good")
	f.service("web", good, 2, true)
	f.s.Advance(2 * time.Minute)
	first := f.describe("web")
	firstSD := f.sd(*first.CurrentServiceDeployment)
	up := f.update("web", f.register("web", "repo/web@sha256:bad"))
	badID, sdArn := *up.Service.Deployments[0].Id, *up.Service.CurrentServiceDeployment
	var seen []types.ServiceDeploymentStatus
	var during types.Service
	f.until(10*time.Minute, func() bool {
		st := f.sd(sdArn).Status
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		if st == types.ServiceDeploymentStatusRollbackInProgress && during.ServiceName == nil {
			during = f.describe("web")
		}
		return st == types.ServiceDeploymentStatusRollbackSuccessful
	})
	want := []types.ServiceDeploymentStatus{"PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"}
	if strings.Join(statusStrings(seen), " ") != strings.Join(statusStrings(want), " ") {
		t.Fatalf("service deployment went %v, want %v", seen, want)
	}
	// The PRIMARY rollback, the failed deployment, and the first
	// deployment while its last task still runs (minimumHealthyPercent).
	if len(during.Deployments) < 2 || *during.Deployments[1].Id != badID {
		t.Fatalf("during the rollback: %+v", during.Deployments)
	}
	checkReasons(t, during)
	p, failed := during.Deployments[0], during.Deployments[1]
	if *p.TaskDefinition != good || *p.RolloutStateReason != "ECS deployment circuit breaker: rolling back to deploymentId "+*first.Deployments[0].Id+"." {
		t.Errorf("rollback PRIMARY %s %q", *p.TaskDefinition, *p.RolloutStateReason)
	}
	if *failed.Id != badID || *failed.Status != "ACTIVE" || failed.RolloutState != types.DeploymentRolloutStateFailed ||
		*failed.RolloutStateReason != "ECS deployment circuit breaker: tasks failed to start." {
		t.Errorf("failed deployment %s %s %s %q", *failed.Id, *failed.Status, failed.RolloutState, *failed.RolloutStateReason)
	}
	if *during.CurrentServiceDeployment != sdArn {
		t.Errorf("the rollback started service deployment %s; ECS rolls back within %s", *during.CurrentServiceDeployment, sdArn)
	}
	sd := f.sd(sdArn)
	if sd.Rollback == nil || *sd.Rollback.ServiceRevisionArn != *firstSD.TargetServiceRevision.Arn || sd.Rollback.StartedAt == nil || sd.FinishedAt == nil {
		t.Errorf("rollback %+v, want the first revision %s", sd.Rollback, *firstSD.TargetServiceRevision.Arn)
	}
	if sd.DeploymentCircuitBreaker.Status != types.ServiceDeploymentRollbackMonitorsStatusTriggered || sd.DeploymentCircuitBreaker.Threshold != 3 ||
		aws.ToString(sd.StatusReason) != "ECS deployment circuit breaker: tasks failed to start." {
		t.Errorf("breaker %+v reason %q", sd.DeploymentCircuitBreaker, aws.ToString(sd.StatusReason))
	}
	after := f.describe("web")
	checkReasons(t, after)
	if len(after.Deployments) != 1 || *after.Deployments[0].RolloutStateReason != "ECS deployment "+*p.Id+" completed." {
		t.Errorf("after the rollback: %+v", after.Deployments)
	}
	for _, d := range f.s.Stats().Deployments {
		if d.ID == badID && d.Status != "INACTIVE" {
			t.Errorf("replaced failed deployment is %s, want INACTIVE", d.Status)
		}
	}
	if l := f.list("web", ecs.ListServiceDeploymentsInput{}); len(l) != 2 {
		t.Errorf("%d service deployments, want 2 (the rollback makes none)", len(l))
	}
	if strings.Contains(eventTexts(after), "rolling back") {
		t.Errorf("events carry a rolling-back text ECS does not write:\n%s", eventTexts(after))
	}
}

func statusStrings(ss []types.ServiceDeploymentStatus) []string {
	var out []string
	for _, s := range ss {
		out = append(out, string(s))
	}
	return out
}

// When the rollback fails too (the old image starts crashing mid-run), the
// service deployment ends ROLLBACK_FAILED and nothing further happens: no
// second rollback, no new tasks.
func TestRollbackFailureIsFinal(t *testing.T) {
	f := newFixture(t, Scenario{Rules: []Rule{
		{Match: "sha256:bad", Behaviour: Crash},
		{Match: "sha256:good", Behaviour: Crash, FromSeconds: 150},
	}})
	f.service("web", f.register("web", "repo/web@sha256:good"), 2, true)
	f.s.Advance(2 * time.Minute)
	sdArn := *f.update("web", f.register("web", "repo/web@sha256:bad")).Service.CurrentServiceDeployment
	if !f.until(15*time.Minute, func() bool { return f.sd(sdArn).Status == types.ServiceDeploymentStatusRollbackFailed }) {
		t.Fatalf("service deployment %s, want ROLLBACK_FAILED", f.sd(sdArn).Status)
	}
	sd := f.sd(sdArn)
	if sd.FinishedAt == nil || sd.Rollback == nil || !strings.Contains(aws.ToString(sd.StatusReason), "rollback deployment") {
		t.Errorf("ROLLBACK_FAILED: finished %v rollback %+v reason %q", sd.FinishedAt, sd.Rollback, aws.ToString(sd.StatusReason))
	}
	svc := f.describe("web")
	checkReasons(t, svc)
	if len(svc.Deployments) < 2 || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateFailed || svc.Deployments[1].RolloutState != types.DeploymentRolloutStateFailed {
		t.Fatalf("want the failed rollback PRIMARY and the failed deployment, both FAILED: %+v", svc.Deployments)
	}
	tasksBefore := len(f.s.w.clusters["c"].tasks)
	f.s.Advance(30 * time.Minute)
	if n := len(f.s.w.clusters["c"].tasks); n > tasksBefore {
		t.Errorf("%d tasks launched after ROLLBACK_FAILED; want none", n-tasksBefore)
	}
	later := f.describe("web")
	if len(later.Deployments) != len(svc.Deployments) || *later.Deployments[0].Id != *svc.Deployments[0].Id {
		t.Errorf("something acted after ROLLBACK_FAILED: %+v", later.Deployments)
	}
	if l := f.list("web", ecs.ListServiceDeploymentsInput{}); len(l) != 2 {
		t.Errorf("%d service deployments, want 2", len(l))
	}
}

// Without rollback, or with nothing to roll back to, the service
// deployment STOPs and the FAILED deployment launches no new tasks.
func TestBreakerWithoutRollbackStops(t *testing.T) {
	for _, c := range []struct {
		name     string
		rollback bool
		first    bool // the failing deployment is the service's first
	}{{"rollback off", false, false}, {"nothing completed before", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Scenario{Rules: []Rule{{Match: ":bad", Behaviour: PullError}}})
			cb := &types.DeploymentCircuitBreaker{Enable: true, Rollback: c.rollback}
			img := "repo/web:ok"
			if c.first {
				img = "repo/web:bad"
			}
			f.serviceWith("web", f.register("web", img), 2, cb)
			arn := *f.describe("web").CurrentServiceDeployment
			if !c.first {
				f.s.Advance(2 * time.Minute)
				arn = *f.update("web", f.register("web", "repo/web:bad")).Service.CurrentServiceDeployment
			}
			if !f.until(10*time.Minute, func() bool { return f.sd(arn).Status == types.ServiceDeploymentStatusStopped }) {
				t.Fatalf("service deployment %s, want STOPPED", f.sd(arn).Status)
			}
			if sd := f.sd(arn); sd.StoppedAt == nil || sd.Rollback != nil {
				t.Errorf("STOPPED: stoppedAt %v rollback %+v", sd.StoppedAt, sd.Rollback)
			}
			d := f.describe("web").Deployments[0]
			failed := d.FailedTasks
			f.s.Advance(10 * time.Minute)
			if d2 := f.describe("web").Deployments[0]; d2.FailedTasks != failed || d2.RolloutState != types.DeploymentRolloutStateFailed {
				t.Errorf("FAILED deployment kept launching: failedTasks %d → %d", failed, d2.FailedTasks)
			}
		})
	}
}

func TestBreakerThresholds(t *testing.T) {
	for _, c := range []struct {
		typ            string
		value, desired int
		want           int
	}{
		{"", 0, 2, 3}, {"", 0, 7, 4}, {"", 0, 1000, 200},
		{"BOUNDED_PERCENT", 50, 2, 3}, {"BOUNDED_PERCENT", 100, 10, 10}, {"BOUNDED_PERCENT", 100, 500, 200},
		{"UNBOUNDED_PERCENT", 50, 2, 1}, {"UNBOUNDED_PERCENT", 100, 500, 500}, {"UNBOUNDED_PERCENT", 10, 1, 1},
		{"COUNT", 1, 10, 1}, {"COUNT", 7, 2, 7}, {"COUNT", 500, 2, 500},
	} {
		if got := breakerThreshold(c.typ, c.value, c.desired); got != c.want {
			t.Errorf("breakerThreshold(%q, %d, desired %d) = %d, want %d", c.typ, c.value, c.desired, got, c.want)
		}
	}
}

// thresholdConfiguration and resetOnHealthyTask through the SDK: the
// breaker trips at the configured threshold, a healthy task resets the
// consecutive count only when resetOnHealthyTask is true, and invalid
// configurations are refused.
func TestBreakerConfigurationThroughSDK(t *testing.T) {
	trip := []struct {
		name    string
		tc      *types.ThresholdConfiguration
		desired int32
		want    int32
	}{
		{"default", nil, 2, 3},
		{"COUNT 1", &types.ThresholdConfiguration{Type: types.ThresholdTypeCount, Value: 1}, 1, 1},
		{"COUNT 6", &types.ThresholdConfiguration{Type: types.ThresholdTypeCount, Value: 6}, 2, 6},
		{"UNBOUNDED 50", &types.ThresholdConfiguration{Type: types.ThresholdTypeUnboundedPercent, Value: 50}, 2, 1},
	}
	for _, c := range trip {
		t.Run("trip/"+c.name, func(t *testing.T) {
			f := newFixture(t, Scenario{Rules: []Rule{{Match: ":bad", Behaviour: PullError}}})
			f.serviceWith("web", f.register("web", "repo/web:ok"), c.desired, &types.DeploymentCircuitBreaker{Enable: true, Rollback: true, ThresholdConfiguration: c.tc})
			f.s.Advance(2 * time.Minute)
			arn := *f.update("web", f.register("web", "repo/web:bad")).Service.CurrentServiceDeployment
			var failedAt int32
			f.until(10*time.Minute, func() bool {
				for _, d := range f.describe("web").Deployments {
					if d.RolloutState == types.DeploymentRolloutStateFailed {
						failedAt = d.FailedTasks
						return true
					}
				}
				return false
			})
			// Tasks that fail in the same second all count, so the count
			// may pass the threshold by the tasks launched together.
			if failedAt < c.want || failedAt >= c.want+c.desired {
				t.Errorf("tripped at %d failed tasks, want %d (+ up to %d launched together)", failedAt, c.want, c.desired-1)
			}
			if th := f.sd(arn).DeploymentCircuitBreaker.Threshold; th != c.want {
				t.Errorf("service deployment threshold %d, want %d", th, c.want)
			}
		})
	}
	for _, c := range []struct {
		reset *bool
		want  int32
	}{{nil, 0}, {aws.Bool(true), 0}, {aws.Bool(false), 2}} {
		t.Run("resetOnHealthyTask="+map[bool]string{true: "default", false: ""}[c.reset == nil]+boolText(c.reset), func(t *testing.T) {
			// The first two tasks fail with a transient error; the rest are
			// healthy, so the deployment completes either way.
			f := newFixture(t, Scenario{Rules: []Rule{{Match: ":v2", Behaviour: NetworkTimeout, MaxTasks: 2}}})
			f.serviceWith("web", f.register("web", "repo/web:v1"), 2, &types.DeploymentCircuitBreaker{Enable: true, Rollback: true, ResetOnHealthyTask: c.reset,
				ThresholdConfiguration: &types.ThresholdConfiguration{Type: types.ThresholdTypeCount, Value: 5}})
			f.s.Advance(2 * time.Minute)
			arn := *f.update("web", f.register("web", "repo/web:v2")).Service.CurrentServiceDeployment
			f.s.Advance(5 * time.Minute)
			svc := f.describe("web")
			if d := svc.Deployments[0]; d.RolloutState != types.DeploymentRolloutStateCompleted || d.FailedTasks != c.want {
				t.Errorf("%s failedTasks %d, want COMPLETED %d", d.RolloutState, d.FailedTasks, c.want)
			}
			if sd := f.sd(arn); sd.Status != types.ServiceDeploymentStatusSuccessful || sd.DeploymentCircuitBreaker.FailureCount != c.want {
				t.Errorf("service deployment %s failureCount %d, want SUCCESSFUL %d", sd.Status, sd.DeploymentCircuitBreaker.FailureCount, c.want)
			}
			cb := svc.DeploymentConfiguration.DeploymentCircuitBreaker
			if cb.ResetOnHealthyTask == nil || *cb.ResetOnHealthyTask != (c.reset == nil || *c.reset) || cb.ThresholdConfiguration.Type != types.ThresholdTypeCount {
				t.Errorf("DescribeServices echoes %+v", cb)
			}
		})
	}
	for _, tc := range []*types.ThresholdConfiguration{{Type: "PERCENT", Value: 50}, {Type: types.ThresholdTypeCount}, {Type: types.ThresholdTypeBoundedPercent, Value: -1}} {
		f := newFixture(t, Scenario{})
		if _, err := f.ecs.CreateCluster(f.ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
			t.Fatal(err)
		}
		_, err := f.ecs.CreateService(f.ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("web"),
			TaskDefinition: aws.String(f.register("web", "repo/web:v1")), DesiredCount: aws.Int32(1),
			DeploymentConfiguration: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, ThresholdConfiguration: tc}}})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" {
			t.Errorf("thresholdConfiguration %+v: want InvalidParameterException, got %v", *tc, err)
		}
	}
}

func boolText(b *bool) string {
	if b == nil {
		return ""
	}
	if *b {
		return "true"
	}
	return "false"
}

// A scale-in shrinks the PRIMARY and starts no deployment.
func TestScaleInShrinksPrimary(t *testing.T) {
	f := newFixture(t, Scenario{})
	f.service("web", f.register("web", "repo/web:v1"), 4, true)
	f.s.Advance(2 * time.Minute)
	before := f.describe("web")
	out, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), DesiredCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Service.CurrentServiceDeployment != *before.CurrentServiceDeployment || *out.Service.Deployments[0].Id != *before.Deployments[0].Id {
		t.Errorf("a scale-in started a deployment")
	}
	f.s.Advance(2 * time.Minute)
	svc := f.describe("web")
	if svc.RunningCount != 2 || len(svc.Deployments) != 1 || svc.Deployments[0].DesiredCount != 2 || svc.Deployments[0].RunningCount != 2 {
		t.Errorf("after scale-in: running %d deployments %+v", svc.RunningCount, svc.Deployments)
	}
	if !strings.Contains(eventTexts(svc), "has stopped 2 running tasks") {
		t.Errorf("no stop event:\n%s", eventTexts(svc))
	}
}

// Stopped reasons by behaviour, and a network blip that ends: tasks launched
// during it fail with a transient ResourceInitializationError, later ones
// are healthy, and ECS completes the deployment by itself.
func TestStopReasonsAndBlip(t *testing.T) {
	for _, c := range []struct {
		b    Behaviour
		want string
	}{
		{PullError, `CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref repo/web:x: not found`},
		{AccessDenied, `: unexpected status from HEAD request to https://registry-1.docker.io/v2/repo/web/manifests/x: 403 Forbidden`},
		{SecretError, `ResourceNotFoundException: Secrets Manager can't find the specified secret.`},
		{NetworkTimeout, `ResourceInitializationError: unable to pull secrets or registry auth: `},
	} {
		f := newFixture(t, Scenario{Rules: []Rule{{Match: ":x", Behaviour: c.b}}})
		f.service("web", f.register("web", "repo/web:x"), 1, false)
		f.s.Advance(30 * time.Second)
		ts := f.stopped()
		if len(ts) == 0 || ts[0].StopCode != types.TaskStopCodeTaskFailedToStart || !strings.Contains(aws.ToString(ts[0].StoppedReason), c.want) {
			t.Errorf("%s: stopped %+v, want TaskFailedToStart with %q", c.b, ts, c.want)
		}
	}
	f := newFixture(t, Scenario{Rules: []Rule{{Match: ":v2", Behaviour: NetworkTimeout, UntilSeconds: 125}}})
	f.service("web", f.register("web", "repo/web:v1"), 2, true)
	f.s.Advance(2 * time.Minute)
	arn := *f.update("web", f.register("web", "repo/web:v2")).Service.CurrentServiceDeployment
	f.s.Advance(5 * time.Minute)
	if sd := f.sd(arn); sd.Status != types.ServiceDeploymentStatusSuccessful {
		t.Errorf("after the blip: %s, want SUCCESSFUL", sd.Status)
	}
	ts := f.stopped()
	var timeouts int
	for _, task := range ts {
		if strings.HasSuffix(aws.ToString(task.StoppedReason), ": i/o timeout") {
			timeouts++
		}
	}
	if timeouts != 2 {
		t.Errorf("%d tasks stopped on the blip, want the 2 launched during it", timeouts)
	}
}

func (f *fixture) stopped() []types.Task {
	f.t.Helper()
	l, err := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), DesiredStatus: types.DesiredStatusStopped})
	if err != nil {
		f.t.Fatal(err)
	}
	if len(l.TaskArns) == 0 {
		return nil
	}
	out, err := f.ecs.DescribeTasks(f.ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: l.TaskArns})
	if err != nil {
		f.t.Fatal(err)
	}
	return out.Tasks
}

// A throttle window answers ThrottlingException "Rate exceeded" (HTTP 400,
// with a request id) for its operations only, then ends; every call,
// throttled or not, goes over one kept-alive connection: the stand-in never
// drops a connection by itself.
func TestThrottleWindowAndConnections(t *testing.T) {
	f := newFixture(t, Scenario{ThrottleRate: -1, Throttle: []ThrottleWindow{{Ops: []string{"DescribeServices"}, FromSeconds: 60, UntilSeconds: 120}}})
	ctx := context.Background()
	noRetry := func(o *ecs.Options) { o.RetryMaxAttempts = 1 }
	f.service("web", f.register("web", "repo/web:v1"), 1, false)
	call := func() error {
		_, err := f.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}}, noRetry)
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	f.s.Advance(70 * time.Second)
	err := call()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" || ae.ErrorMessage() != "Rate exceeded" ||
		!errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest || re.ServiceRequestID() == "" {
		t.Fatalf("in the window: %v", err)
	}
	if _, err := f.ecs.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("c"), Service: aws.String("web")}, noRetry); err != nil {
		t.Errorf("ListServiceDeployments is outside the window's ops: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // an idle pause between polls
	f.s.Advance(60 * time.Second)
	if err := call(); err != nil {
		t.Errorf("after the window: %v", err)
	}
	// Go's transport may itself close a connection whose request context
	// the SDK cancels as the call returns; the server must close none.
	if st := f.s.Stats(); st.ServerClosedConnections != 0 || st.Connections == 0 {
		t.Errorf("the stand-in closed %d of %d connections; want none", st.ServerClosedConnections, st.Connections)
	}
	// The counter sees a close the server makes: one a raw client asks for
	// with "Connection: close" while keeping its end open.
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"cluster":"c","services":["web"]}`
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: %sDescribeServices\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", targetPrefix, len(body), body)
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatal(err)
	}
	if n := f.s.Stats().ServerClosedConnections; n != 1 {
		t.Errorf("a server-side close counted %d times, want 1", n)
	}
	if err := (Scenario{Throttle: []ThrottleWindow{{Ops: []string{"DescribeService"}, UntilSeconds: 5}}}).validate(); err == nil {
		t.Error("a throttle window naming no real operation was accepted")
	}
}

// The scenario files in testdata, each run as a v1 → v2 deploy at 120 s.
func TestScenarioFiles(t *testing.T) {
	for _, c := range []struct {
		file string
		want types.ServiceDeploymentStatus
		// throttledAt, if set, is a virtual second at which DescribeServices
		// is throttled.
		throttledAt time.Duration
	}{
		{"testdata/blip.json", types.ServiceDeploymentStatusSuccessful, 0},
		{"testdata/old-image-crashes.json", types.ServiceDeploymentStatusRollbackFailed, 0},
		{"testdata/throttled.json", types.ServiceDeploymentStatusSuccessful, 150 * time.Second},
		{"testdata/rollback.json", types.ServiceDeploymentStatusSuccessful, 0},
	} {
		t.Run(c.file, func(t *testing.T) {
			sc, err := LoadScenario(c.file)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, sc)
			f.service("web", f.register("web", "repo/web:v1"), 2, true)
			f.s.Advance(2 * time.Minute)
			arn := *f.update("web", f.register("web", "repo/web:v2")).Service.CurrentServiceDeployment
			if c.throttledAt > 0 {
				f.s.Advance(c.throttledAt - 2*time.Minute)
				_, err := f.ecs.DescribeServices(f.ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}},
					func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
					t.Errorf("at %s: DescribeServices %v, want ThrottlingException", c.throttledAt, err)
				}
			}
			f.s.Advance(15 * time.Minute)
			if got := f.sd(arn).Status; got != c.want {
				t.Errorf("service deployment %s, want %s", got, c.want)
			}
		})
	}
}

// ListTasks pages: at most maxResults (1-100, default 100) a page with a
// nextToken while more remain, every task exactly once, oldest first
// (API_ListTasks.html documents no order; see listTasks).
func TestListTasksPagesEveryTaskOnceOldestFirst(t *testing.T) {
	f := newFixture(t, Scenario{})
	f.service("web", f.register("web", "repo/web@sha256:aaa"), 7, false)
	f.s.Advance(time.Minute)
	for _, bad := range []int32{0, 101} {
		if _, err := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), MaxResults: aws.Int32(bad)}); err == nil || !strings.Contains(err.Error(), "InvalidParameterException") {
			t.Errorf("maxResults %d: %v, want InvalidParameterException", bad, err)
		}
	}
	in := &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String("web"), MaxResults: aws.Int32(3)}
	var arns []string
	pages := 0
	for {
		out, err := f.ecs.ListTasks(f.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.TaskArns) > 3 {
			t.Errorf("page of %d with maxResults 3", len(out.TaskArns))
		}
		arns = append(arns, out.TaskArns...)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	seen := map[string]bool{}
	for _, a := range arns {
		if seen[a] {
			t.Errorf("task %s on two pages", a)
		}
		seen[a] = true
	}
	if len(arns) != 7 || pages != 3 {
		t.Fatalf("%d tasks on %d pages, want 7 on 3", len(arns), pages)
	}
	dt, err := f.ecs.DescribeTasks(f.ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: arns})
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]time.Time{}
	for _, tk := range dt.Tasks {
		created[*tk.TaskArn] = *tk.CreatedAt
	}
	for i := 1; i < len(arns); i++ {
		if created[arns[i]].Before(created[arns[i-1]]) {
			t.Errorf("task %d created before task %d: pages are oldest first", i, i-1)
		}
	}
	if _, err := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), NextToken: aws.String("bm9wZQ")}); err == nil {
		t.Error("a made-up nextToken was accepted")
	}
}

// startedBy must be the only ListTasks filter (API_ListTasks.html).
func TestListTasksStartedByIsTheOnlyFilter(t *testing.T) {
	f := newFixture(t, Scenario{})
	f.service("web", f.register("web", "repo/web@sha256:aaa"), 1, false)
	_, err := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String("web"), StartedBy: aws.String("ecs-svc/1")})
	if err == nil || !strings.Contains(err.Error(), "startedBy must be the only filter") {
		t.Errorf("startedBy with serviceName: %v, want InvalidParameterException", err)
	}
	if _, err := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), StartedBy: aws.String("ecs-svc/1"), DesiredStatus: types.DesiredStatusStopped}); err != nil {
		t.Errorf("startedBy with desiredStatus: %v", err)
	}
}
