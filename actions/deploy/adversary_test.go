package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	st "github.com/conveyor-dev/conveyor/internal/ecsstandin/standintest"
)

// More adversarial scenarios, found by attacking the deploy action after
// issue 11: each failed before its fix.

// registerOther registers a revision of conveyor-api someone else deploys.
func registerOther(t *testing.T, w *st.World, digest string) string {
	t.Helper()
	other, err := w.API.RegisterTaskDefinition(w.Ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("conveyor-api"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("api"), Image: aws.String(st.Repo + "api@" + st.Dig(digest))}}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(other.TaskDefinition.TaskDefinitionArn)
}

// updateTo is someone else's UpdateService.
func updateTo(t *testing.T, w *st.World, td string) {
	t.Helper()
	if _, err := w.API.UpdateService(context.Background(), &ecs.UpdateServiceInput{Cluster: aws.String("conveyor"), Service: aws.String("conveyor-api"),
		TaskDefinition: aws.String(td)}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

func TestDeployCancelledMidWatchSaysUnknownAndWritesOutputs(t *testing.T) {
	// The runner cancels the job (SIGINT, then SIGTERM) while ECS is still
	// rolling out: the run must end at once with every output written, say
	// that the outcome is unknown, and start no rollback of a deployment
	// that may still succeed.
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:a1", Behaviour: ecsstandin.Hang}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for w.S.Stats().Calls["UpdateService"] == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	w.Ctx = ctx
	began := time.Now()
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("a1")), "poll-interval": "100ms", "timeout": "60s"})
	took := time.Since(began)
	w.Ctx = context.Background()
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if took > 15*time.Second {
		t.Errorf("the cancelled run took %s: it must end within seconds, not at its 60s timeout", took)
	}
	if v := verdictOf(r); v != "UNKNOWN" {
		t.Errorf("verdict %s, want UNKNOWN", v)
	}
	if got := firstLine(r); !strings.HasPrefix(got, "the run was cancelled (context canceled) while service deployment arn:aws:ecs:") {
		t.Errorf("annotation's first line %q", got)
	}
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"UNKNOWN"}`, "result<<", "failure", "deployments<<", "task-definitions<<")
	st.MustContain(t, "summary", r.Summary, "| next step | the outcome is unknown: look with `aws ecs describe-service-deployments --service-deployment-arns arn:aws:ecs:")
	if n := w.S.Stats().Calls["UpdateService"]; n != 1 {
		t.Errorf("%d UpdateService calls: a cancelled run must not roll back", n)
	}
	if n := strings.Count(r.Log, "reading ECS failed"); n > 3 {
		t.Errorf("%d failed reads logged after the cancel: the watch spins instead of stopping", n)
	}
}

func TestDeployReplacedAfterSuccessfulInsideTheSettleWindowIsSuperseded(t *testing.T) {
	// ECS reports conveyor's deployment SUCCESSFUL; inside the settle window
	// someone else deploys. The verdict is SUPERSEDED, and conveyor must not
	// "roll back" the other deployment.
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	other := registerOther(t, w, "07")
	done := make(chan st.Run)
	go func() {
		done <- w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("51")),
			"poll-interval": "50ms", "settle": "4s", "timeout": "12s"})
	}()
	waitFor(t, "conveyor's service deployment SUCCESSFUL", func() bool {
		sds := w.ServiceDeployments("conveyor-api")
		return len(sds) == 2 && sds[0].Status == types.ServiceDeploymentStatusSuccessful
	})
	updateTo(t, w, other)
	r := <-done
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if v := verdictOf(r); v != "SUPERSEDED" {
		t.Errorf("verdict %s, want SUPERSEDED", v)
	}
	if got := firstLine(r); !strings.HasPrefix(got, "service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/") ||
		!strings.Contains(got, "replaced arn:aws:ecs:") {
		t.Errorf("annotation's first line %q", got)
	}
	if n := w.S.Stats().Calls["UpdateService"]; n != 2 {
		t.Errorf("%d UpdateService calls: conveyor must not undo someone else's deployment", n)
	}
}

func TestDeployWhoseOwnRollbackIsReplacedIsSuperseded(t *testing.T) {
	// conveyor's deploy fails (breaker rollback off), conveyor rolls back,
	// and someone else deploys during that rollback. ROLLBACK_FAILED would
	// send the operator to roll back again, over the other deployment.
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{
		{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1},
		{Match: "sha256:1111", Behaviour: ecsstandin.Healthy, StartSeconds: 600}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true, NoRollback: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	other := registerOther(t, w, "07")
	done := make(chan st.Run)
	go func() {
		done <- w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("bad")), "poll-interval": "50ms"})
	}()
	waitFor(t, "conveyor's rollback started", func() bool { return w.S.Stats().Calls["UpdateService"] == 2 })
	time.Sleep(100 * time.Millisecond)
	updateTo(t, w, other)
	r := <-done
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if v := verdictOf(r); v != "SUPERSEDED" {
		t.Errorf("verdict %s, want SUPERSEDED", v)
	}
	st.MustContain(t, "summary", r.Summary, "| before the rollback | FAILED |", "| rollback | by conveyor, `ecs-svc/", "SUPERSEDED |")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"SUPERSEDED"}`)
	st.MustContain(t, "summary", r.Summary, "| next step | another deployment replaced conveyor's rollback of this one: check what the service runs now")
}

func TestDeployTwelveServicesWithinECSReadRates(t *testing.T) {
	// Twelve services at the stand-in's ECS-like read rate (20 a second,
	// burst 20): a round reads more than the bucket holds, so the same
	// services must not be starved of their task reads round after round.
	w := st.NewWorld(t, ecsstandin.Scenario{ThrottleRate: 20, ThrottleBurst: 20})
	var names, images []string
	for i := range 12 {
		name := fmt.Sprintf("conveyor-s%02d", i)
		w.Service(name, st.Repo+"s"+fmt.Sprint(i)+"@"+st.Dig("1111"), st.Svc{Breaker: true, Desired: 1})
		names = append(names, name)
		images = append(images, fmt.Sprintf("s%02d", i), st.Dig("2222"))
	}
	// Settle's own reads spend the bucket too: let it refill.
	for _, n := range names {
		for {
			out, err := w.API.DescribeServices(w.Ctx, &ecs.DescribeServicesInput{Cluster: aws.String("conveyor"), Services: []string{n}})
			if err == nil && len(out.Services[0].Deployments) == 1 && out.Services[0].Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	r := w.Run(action, map[string]string{"services": strings.Join(names, ","), "image-map": st.Images(images...),
		"poll-interval": "200ms", "timeout": "40s", "rollback": "false"})
	if r.Code != 0 {
		t.Errorf("exit %d, want 0", r.Code)
	}
	for _, n := range names {
		st.MustContain(t, "summary", r.Summary, "### ✅ "+n+": SUCCEEDED")
	}
	if w.S.Stats().Throttled == 0 {
		t.Error("the stand-in throttled nothing: the scenario tested no throttling")
	}
}

func TestDeployRefusesInputsThatWouldMislead(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		log    string
	}{
		{"no rollback time at all", map[string]string{"rollback-budget": "0s"}, "rollback-budget: 0s: must be more than 0"},
		{"a negative rollback budget", map[string]string{"rollback-budget": "-5s"}, "rollback-budget: -5s: must be more than 0"},
		{"a service twice", map[string]string{"services": "conveyor-api,conveyor-api"}, "services: conveyor-api is given twice"},
		{"a name ECS cannot have", map[string]string{"services": "conveyor api%"}, "services: \"conveyor api%\" is not an ECS service name"},
		{"a negative poll interval", map[string]string{"poll-interval": "-1s"}, "poll-interval: -1s: must be more than 0"},
		{"a negative settle window", map[string]string{"settle": "-1s"}, "settle: -1s: must not be negative"},
		{"a settle window as long as the run", map[string]string{"settle": "30s", "timeout": "30s"}, "settle: 30s is not shorter than timeout 30s"},
		{"a settle window longer than the deployments' share", map[string]string{"settle": "25s", "timeout": "30s", "rollback-budget": "10s"},
			"settle: 25s is not shorter than the 20s timeout 30s leaves the deployments after the rollback budget 10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("600d"))}
			for k, v := range tc.inputs {
				in[k] = v
			}
			r := w.Run(action, in)
			if r.Code != 2 {
				t.Errorf("exit %d, want 2", r.Code)
			}
			st.MustContain(t, "log", r.Log, strings.ReplaceAll(tc.log, "%", "%25"))
			st.MustContain(t, "outputs", r.Out, "result<<", "failure", "verdicts<<")
		})
	}
	if n := w.S.Stats().Calls["UpdateService"]; n != 0 {
		t.Errorf("%d UpdateService calls for refused inputs", n)
	}
}

func TestDeployOfAMissingServiceTouchesNothingAndSaysWhich(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api,conveyor-nope", "image-map": st.Images("api", st.Dig("600d"))})
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "log", r.Log, "service/conveyor/conveyor-nope in cluster conveyor: MISSING: check the services input")
	st.MustContain(t, "outputs", r.Out, "result<<", "failure", "verdicts<<")
	if n := w.S.Stats().Calls["UpdateService"]; n != 0 {
		t.Errorf("%d UpdateService calls: a missing service must stop the run before any is touched", n)
	}
}

func TestDeployTimeoutShorterThanOnePoll(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:a1", Behaviour: ecsstandin.Hang}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	began := time.Now()
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("a1")), "poll-interval": "30s", "timeout": "900ms"})
	took := time.Since(began)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	// Generous against a loaded machine; the point is "not 30 s".
	if took > 10*time.Second {
		t.Errorf("took %s with timeout 900ms: a poll longer than the timeout must not delay the verdict", took)
	}
	if v := verdictOf(r); v != "ROLLBACK_FAILED" && v != "ROLLED_BACK" {
		t.Errorf("verdict %s, want the rollback's outcome", v)
	}
}

func TestHelpExitsZeroWithUsage(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var out, usage bytes.Buffer
		code := run(context.Background(), []string{arg}, func(string) string { return "" }, &out, &usage)
		if code != 0 {
			t.Errorf("%s: exit %d, want 0", arg, code)
		}
		for _, want := range []string{"Usage of deploy", "-image-map", "-timeout", "-rollback-budget"} {
			if !strings.Contains(usage.String(), want) {
				t.Errorf("%s: usage lacks %q", arg, want)
			}
		}
	}
}

func TestDeployFindsItsFailedTasksBehindAnHourOfStoppedHistory(t *testing.T) {
	// The old image crash-looped for a while before it steadied, so ECS
	// still lists hundreds of stopped tasks (for an hour). The new image
	// runs, ECS reports the deployment SUCCESSFUL, then its tasks crash:
	// conveyor must find those stopped tasks wherever ListTasks pages them.
	w := st.NewWorld(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{
		{Match: "sha256:1111", Behaviour: ecsstandin.Crash, ExitCode: 1, CrashAfterSeconds: 1, StartSeconds: 1, UntilSeconds: 400},
		{Match: "sha256:c4", Behaviour: ecsstandin.Crash, ExitCode: 139, CrashAfterSeconds: 120}}})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{Desired: 6})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	n := 0
	in := &ecs.ListTasksInput{Cluster: aws.String("conveyor"), ServiceName: aws.String("conveyor-api"), DesiredStatus: types.DesiredStatusStopped}
	for {
		out, err := w.API.ListTasks(w.Ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.TaskArns)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if n < 300 {
		t.Fatalf("setting up: %d stopped tasks; the scenario needs several pages of them", n)
	}
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("c4")), "settle": "3s", "timeout": "10s", "rollback": "false"})
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if v := verdictOf(r); v != "FAILED" {
		t.Errorf("verdict %s, want FAILED", v)
	}
	if got := firstLine(r); !strings.HasPrefix(got, "ECS reported service deployment arn:aws:ecs:") || !strings.Contains(got, " SUCCESSFUL, then a task of it failed: stopped task ") ||
		!strings.Contains(got, "container api exit code 139") {
		t.Errorf("annotation's first line %q: want the crash after SUCCESSFUL", got)
	}
}

func TestDeployScaledOutByAutoscalingAtTheDeadlineIsNotFailedNorRolledBack(t *testing.T) {
	// ECS reports conveyor's deployment SUCCESSFUL; then autoscaling
	// doubles the desired count and the new tasks are still starting at
	// the deadline. Nothing failed: the verdict is TIMED_OUT (not
	// SUCCEEDED: running < desired), and conveyor must not "roll back" a
	// healthy release in the middle of a scale-out.
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	done := make(chan st.Run)
	go func() {
		done <- w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("5ca1e")),
			"poll-interval": "50ms", "settle": "2s", "timeout": "6s", "rollback-budget": "2s"})
	}()
	waitFor(t, "conveyor's service deployment SUCCESSFUL", func() bool {
		sds := w.ServiceDeployments("conveyor-api")
		return len(sds) == 2 && sds[0].Status == types.ServiceDeploymentStatusSuccessful
	})
	// From now on, new tasks of the release take an hour to start.
	now := w.S.Elapsed()
	if err := w.S.SetScenario(ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{
		{Match: "sha256:5ca1e", Behaviour: ecsstandin.Healthy, StartSeconds: 3600, FromSeconds: now}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.API.UpdateService(context.Background(), &ecs.UpdateServiceInput{Cluster: aws.String("conveyor"), Service: aws.String("conveyor-api"),
		DesiredCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if v := verdictOf(r); v != "TIMED_OUT" {
		t.Errorf("verdict %s, want TIMED_OUT", v)
	}
	if got := firstLine(r); !strings.HasPrefix(got, "ECS reported service deployment arn:aws:ecs:") || !strings.Contains(got, "SUCCESSFUL but at the deadline 2 of 4 tasks run (2 pending)") {
		t.Errorf("annotation's first line %q", got)
	}
	st.MustContain(t, "summary", r.Summary, "conveyor did not roll back: ECS reported the deployment SUCCESSFUL and none of its tasks failed")
	if n := w.S.Stats().Calls["UpdateService"]; n != 2 {
		t.Errorf("%d UpdateService calls: a healthy release that is scaling out must not be rolled back", n)
	}
}

func TestDeployWhoseBreakerTripsJustBeforeTheDeadlineWatchesECSRollbackInTheBudget(t *testing.T) {
	// The last read before the deploy deadline still saw IN_PROGRESS; by
	// the deadline's read ECS is rolling back. The rollback budget is
	// there to watch that rollback: the verdict is ROLLED_BACK once ECS
	// finishes, not TIMED_OUT at the deploy deadline.
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	// New tasks crash at once; old ones relaunched by the rollback take
	// ten minutes (two real seconds) to start.
	now := w.S.Elapsed()
	if err := w.S.SetScenario(ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{
		{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1, CrashAfterSeconds: 1},
		{Match: "sha256:1111", Behaviour: ecsstandin.Healthy, StartSeconds: 600, FromSeconds: now}}}); err != nil {
		t.Fatal(err)
	}
	r := w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("bad")),
		"poll-interval": "30s", "timeout": "8s", "rollback-budget": "7s"})
	if v := verdictOf(r); v != "ROLLED_BACK" {
		t.Errorf("verdict %s, want ROLLED_BACK", v)
	}
	st.MustContain(t, "summary", r.Summary, "ECS rolled back and the rollback succeeded", "| rollback | by ECS circuit breaker")
	if n := w.S.Stats().Calls["UpdateService"]; n != 1 {
		t.Errorf("%d UpdateService calls: ECS rolls back, conveyor must not", n)
	}
}

func TestDeployWhoseECSRollbackIsReplacedIsSupersededAndSaysItFailed(t *testing.T) {
	// The breaker trips and ECS rolls back; before the rollback finishes,
	// someone else deploys. SUPERSEDED, but the reason keeps the failure:
	// "replaced before it finished" alone reads like a deployment that
	// might have been fine.
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), st.Svc{Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	now := w.S.Elapsed()
	if err := w.S.SetScenario(ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{
		{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1, CrashAfterSeconds: 1},
		{Match: "sha256:1111", Behaviour: ecsstandin.Healthy, StartSeconds: 3600, FromSeconds: now}}}); err != nil {
		t.Fatal(err)
	}
	other := registerOther(t, w, "07")
	done := make(chan st.Run)
	go func() {
		done <- w.Run(action, map[string]string{"services": "conveyor-api", "image-map": st.Images("api", st.Dig("bad")), "poll-interval": "50ms"})
	}()
	waitFor(t, "ECS rolling back conveyor's deployment", func() bool {
		sds := w.ServiceDeployments("conveyor-api")
		return len(sds) == 2 && sds[0].Status == types.ServiceDeploymentStatusRollbackInProgress
	})
	updateTo(t, w, other)
	r := <-done
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if v := verdictOf(r); v != "SUPERSEDED" {
		t.Errorf("verdict %s, want SUPERSEDED", v)
	}
	if got := firstLine(r); !strings.Contains(got, "before it finished, after it had failed (the circuit breaker tripped after ") {
		t.Errorf("annotation's first line %q: want the failure kept", got)
	}
	if n := w.S.Stats().Calls["UpdateService"]; n != 2 {
		t.Errorf("%d UpdateService calls: conveyor must not roll back over the other deployment", n)
	}
}
