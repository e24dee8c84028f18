package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/actions/internal/workflowcheck"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	st "github.com/conveyor-dev/conveyor/internal/ecsstandin/standintest"
)

func TestDeploySucceedsWhenNewTasksRunThePinnedDigest(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("600d"))})
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ✅ conveyor-api: SUCCEEDED", "| task definition | `conveyor-api:1` → `conveyor-api:2` |",
		"| digest | `api "+st.Dig("600d")+"` |", "| deployment | `ecs-svc/", "| service deployment | `arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/",
		" SUCCESSFUL; 2 of 2 tasks run the pinned digests, steady for ", "has reached a steady state.", "```mermaid\ngantt\n    title conveyor-api deploy: SUCCEEDED")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"SUCCEEDED"}`, "result<<")
	td, err := w.API.DescribeTaskDefinition(w.Ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("conveyor-api:2"), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	if got := *td.TaskDefinition.ContainerDefinitions[0].Image; got != st.Repo+"api@"+st.Dig("600d") {
		t.Errorf("registered image %s", got)
	}
	tags := map[string]string{}
	for _, tg := range td.Tags {
		tags[*tg.Key] = *tg.Value
	}
	if tags["conveyor:git-sha"] != "0123456789abcdef0123456789abcdef01234567" || tags["conveyor:digest:api"] != st.Dig("600d") || len(tags) != 2 {
		t.Errorf("tags %v", tags)
	}
}

func TestDeployReportsRollbackWhenCircuitBreakerTrips(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 2, CrashAfterSeconds: 3}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("bad"))})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ↩️ conveyor-api: ROLLED_BACK", "(the circuit breaker tripped after ",
		"| rollback | by ECS circuit breaker, - to `conveyor-api:1`: SUCCEEDED |",
		"stop code EssentialContainerExited", "container api exit code 2", "| circuit breaker | ")
	st.MustContain(t, "log", r.Log, "::error title=deploy conveyor-api%3A ROLLED_BACK::service deployment arn:aws:ecs:", "%0Aroot cause: stopped task ", "container api exit code 2")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"ROLLED_BACK"}`)
	if strings.Contains(r.Log, "conveyor-api: rolling back with deployment") {
		t.Error("conveyor started its own rollback although ECS already rolled back")
	}
}

func TestDeployReportsHealthCheckFailures(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:5c", Behaviour: ecsstandin.Unhealthy, Reason: "Health checks failed with these codes: [12]"}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("5c"))})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "conveyor-api: ROLLED_BACK", "(port 8080) is unhealthy in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef) due to (reason Health checks failed with these codes: [12])\n",
		`reason "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef)"`,
		"; ELB: Health checks failed with these codes: [12]", ": SUCCEEDED |")
}

func TestDeployFailsWhenFirstDeploymentNeverCompleted(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("bad1"), st.Svc{Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateFailed)
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("bad2"))})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ❌ conveyor-api: FAILED", "rollback is on, but no earlier service deployment of the service succeeded, so ECS had nothing to roll back to",
		"; conveyor did not roll back: service conveyor-api: no earlier service deployment succeeded")
}

func TestDeployTimesOutNamingTheStalledPhase(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:a1", Behaviour: ecsstandin.Hang}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("a1")), "timeout": "3s", "rollback-budget": "2s", "settle": "0s"})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ↩️ conveyor-api: ROLLED_BACK", "| before the rollback | TIMED_OUT |", "was still IN_PROGRESS after 1s",
		"| phase at the deadline | 0 of 2 new tasks running, 2 pending", "| rollback | by conveyor, `ecs-svc/", "to `conveyor-api:1`: SUCCEEDED |",
		"Timeout 3s for the whole run: 1s for the deployments, 2s kept for a rollback.",
		"| warning | conveyor-api: timeout 1s cannot cover one task replacement")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"ROLLED_BACK"}`)
}

func TestDeployFailsFastOnImagePullErrorAndRollsBack(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:0bad", Behaviour: ecsstandin.PullError}}})
	// Without the circuit breaker ECS would retry the pull forever: the
	// verdict must come from the first stopped task.
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Desired: 6})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("0bad"))})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ↩️ conveyor-api: ROLLED_BACK", "| before the rollback | FAILED |", "cannot succeed: stopped task ", "CannotPullContainerError",
		"(a permanent error: retries do not heal it)", "| rollback | by conveyor", ": SUCCEEDED |")

}

func TestDeployReportsSupersededByConcurrentDeployment(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:51", Behaviour: ecsstandin.Healthy, StartSeconds: 120}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	other, err := w.API.RegisterTaskDefinition(w.Ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("conveyor-api"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("api"), Image: aws.String(st.Repo + "api@" + st.Dig("07"))}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan st.Run)
	go func() {
		done <- w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("51"))})
	}()
	// Someone else deploys while conveyor's deployment is starting.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out, err := w.API.DescribeServices(w.Ctx, &ecs.DescribeServicesInput{Cluster: aws.String("conveyor"), Services: []string{"conveyor-api"}})
		if err == nil && len(out.Services[0].Deployments) == 2 {
			break
		}
	}
	if _, err := w.API.UpdateService(w.Ctx, &ecs.UpdateServiceInput{Cluster: aws.String("conveyor"), Service: aws.String("conveyor-api"),
		TaskDefinition: other.TaskDefinition.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ⏭️ conveyor-api: SUPERSEDED", "(IN_PROGRESS) replaced arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/", "before it finished")
	if strings.Contains(r.Summary, "| rollback |") {
		t.Error("a superseded deployment must not be rolled back: that would undo the other deployment")
	}
}

func TestDeploySurvivesThrottling(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{ThrottleRate: 4, ThrottleBurst: 2, StartSeconds: 60})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("600d")), "poll-interval": "10ms"})
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "conveyor-api: SUCCEEDED")
	st.MustContain(t, "log", r.Log, "ECS is throttling reads: next poll in")
	if w.S.Stats().Throttled == 0 || strings.Contains(r.Summary, " 0 of them throttled") {
		t.Errorf("the stand-in throttled %d calls; the summary must count the ones the watcher saw", w.S.Stats().Throttled)
	}
}

func TestDeployThreeServicesOneFailing(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 3}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Service("conveyor-worker", st.Repo+"worker@"+st.Dig("2222"), st.Svc{Breaker: true, Desired: 4})
	w.Service("conveyor-dlq", st.Repo+"dlq@"+st.Dig("3333"), st.Svc{Breaker: true, Desired: 1})
	for _, s := range []string{"conveyor-api", "conveyor-worker", "conveyor-dlq"} {
		w.Settle(s, types.DeploymentRolloutStateCompleted)
	}
	r := w.Run(action, map[string]string{"services": "conveyor-api,conveyor-worker,conveyor-dlq",
		"image-map": st.Images("api", st.Dig("a2"), "worker", st.Dig("bad"), "dlq", st.Dig("d2"))})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ✅ conveyor-api: SUCCEEDED", "### ↩️ conveyor-worker: ROLLED_BACK", "### ✅ conveyor-dlq: SUCCEEDED",
		"container worker exit code 3")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"SUCCEEDED","conveyor-dlq":"SUCCEEDED","conveyor-worker":"ROLLED_BACK"}`)
	// One loop for all three: one DescribeServices per round, not per service.
	if rounds := strings.Count(r.Summary, "polling rounds"); rounds != 1 {
		t.Errorf("summary should state the polling rounds once")
	}
	if r.DescribeServiceCalls > 1+countRounds(r.Summary)+5 {
		t.Errorf("%d DescribeServices calls for %d rounds: services are not batched", r.DescribeServiceCalls, countRounds(r.Summary))
	}
}

func countRounds(summary string) int {
	var n int
	if i := strings.Index(summary, "Watched in "); i >= 0 {
		fmt.Sscanf(summary[i:], "Watched in %d polling rounds", &n)
	}
	return n
}

func TestDeployRejectsBadInputs(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{})
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": `{"api":"repo/api:latest"}`})
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2", r.Code)
	}
	st.MustContain(t, "log", r.Log, "not pinned by digest")
}

func TestActionYAMLMatchesInputs(t *testing.T) {
	bad, err := workflowcheck.MainInputs("action.yml", inputs)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

func TestDeployDeploysNothingWhenInfraApplyFails(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{Breaker: true})
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("600d")),
		"apply-infra": "true", "infra-dir": t.TempDir() + "/missing"})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "Stopped before any service was touched (infrastructure not applied, so nothing was deployed)")
	st.MustContain(t, "log", r.Log, "::error title=conveyor deploy%3A infrastructure not applied%2C so nothing was deployed::")
	st.MustContain(t, "outputs", r.Out, "result<<", "failure", "verdicts<<")
	if n := w.S.Stats().Calls["RegisterTaskDefinition"]; n != 1 {
		t.Errorf("%d task definitions registered; only the fixture's one may exist", n)
	}
}

// action is run as the stand-in world's Action: what the runner sees on
// stdout; stderr (usage) is dropped.
func action(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) int {
	return run(ctx, args, getenv, stdout, io.Discard)
}
