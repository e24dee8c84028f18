package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
	"github.com/conveyor-dev/conveyor/actions/internal/workflowcheck"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	st "github.com/conveyor-dev/conveyor/internal/ecsstandin/standintest"
)

// deployed is a service that conveyor deployed twice after creation:
// conveyor-api:1 (created), :2 (digest a2), :3 (digest a3), all COMPLETED.
func deployed(t *testing.T, sc ecsstandin.Scenario) *st.World {
	w := st.NewWorld(t, sc)
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("a1"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	for _, d := range []string{"a2", "a3"} {
		o := rollout.Options{Cluster: "conveyor", Services: []string{"conveyor-api"}, Poll: 20 * time.Millisecond, Timeout: 20 * time.Second}
		res, _, err := rollout.Deploy(w.Ctx, w.API, o, map[string]plan.Image{"api": {Repository: st.Repo + "api", Digest: st.Dig(d)}}, "sha-"+d, true)
		if err != nil || res[0].Verdict != rollout.Succeeded {
			t.Fatalf("setting up: deploy %s: %v %+v", d, err, res)
		}
	}
	return w
}

func TestRollbackGoesToLastCompletedBeforeCurrent(t *testing.T) {
	w := deployed(t, ecsstandin.Scenario{})
	r := w.Run(action, map[string]string{"services": "conveyor-api"})
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "## conveyor rollback", "### ✅ conveyor-api: SUCCEEDED",
		"| task definition | `conveyor-api:3` → `conveyor-api:2` |", "| digest | `api "+st.Dig("a2")+"` |")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"SUCCEEDED"}`)
	// Every revision is still there to roll back to.
	list, err := w.API.ListTaskDefinitions(w.Ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("conveyor-api")})
	if err != nil || len(list.TaskDefinitionArns) != 3 {
		t.Errorf("active revisions after rollback: %v (%v); rollback must never deregister", list.TaskDefinitionArns, err)
	}
}

func TestRollbackToRevisionAndToDigest(t *testing.T) {
	w := deployed(t, ecsstandin.Scenario{})
	r := w.Run(action, map[string]string{"services": "conveyor-api", "to": "1"})
	if r.Code != 0 {
		t.Fatalf("to revision 1: exit %d", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "`conveyor-api:3` → `conveyor-api:1`")
	r = w.Run(action, map[string]string{"services": "conveyor-api", "to": st.Dig("a3")})
	if r.Code != 0 {
		t.Fatalf("to digest a3: exit %d", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "`conveyor-api:1` → `conveyor-api:3`", "SUCCEEDED")
	r = w.Run(action, map[string]string{"services": "conveyor-api", "to": st.Dig("ff")})
	if r.Code != 1 {
		t.Fatalf("to an unknown digest: exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ❌ conveyor-api: FAILED", "no active revision of conveyor-api runs an image with digest "+st.Dig("ff"))
}

func TestRollbackFailsWithoutACompletedTarget(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{})
	w.Service("conveyor-api", st.Repo+"api@"+st.Dig("a1"), st.Svc{LB: true, Breaker: true})
	w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
	r := w.Run(action, map[string]string{"services": "conveyor-api"})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "### ❌ conveyor-api: FAILED", "service conveyor-api: no earlier service deployment succeeded before the current one: pass a revision or a digest")
	st.MustContain(t, "log", r.Log, "::error title=rollback conveyor-api%3A FAILED::")
}

func TestRollbackWatchesAFailingTargetToItsVerdict(t *testing.T) {
	// Revision 1's image now crashes (say, a secret it needs is gone): the
	// rollback to it fails and the circuit breaker returns to :3.
	w := deployed(t, ecsstandin.Scenario{})
	if err := w.S.SetScenario(ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{{Match: "sha256:a1", Behaviour: ecsstandin.Crash}}}); err != nil {
		t.Fatal(err)
	}
	r := w.Run(action, map[string]string{"services": "conveyor-api", "to": "conveyor-api:1"})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "conveyor-api: ROLLED_BACK", "| rollback | by ECS circuit breaker, - to `conveyor-api:3`: SUCCEEDED |", "stop code EssentialContainerExited")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"ROLLED_BACK"}`)
}

func TestRollbackRefusesATargetOfAnotherFamily(t *testing.T) {
	w := deployed(t, ecsstandin.Scenario{})
	w.Service("conveyor-worker", st.Repo+"worker@"+st.Dig("b1"), st.Svc{Breaker: true})
	w.Settle("conveyor-worker", types.DeploymentRolloutStateCompleted)
	before := w.S.Stats().Calls["UpdateService"]
	r := w.Run(action, map[string]string{"services": "conveyor-api,conveyor-worker", "to": "conveyor-api:2"})
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2", r.Code)
	}
	st.MustContain(t, "log", r.Log, "service conveyor-worker: rollback target conveyor-api:2 is a revision of conveyor-api, not of the service's family conveyor-worker: refused")
	st.MustContain(t, "outputs", r.Out, "result<<", "failure")
	if n := w.S.Stats().Calls["UpdateService"] - before; n != 0 {
		t.Errorf("%d UpdateService calls: a refused target must leave every service alone", n)
	}
	arn := "arn:aws:ecs:us-east-1:123456789012:task-definition/conveyor-api:1"
	if r := w.Run(action, map[string]string{"services": "conveyor-worker", "to": arn}); r.Code != 2 {
		t.Errorf("an ARN of another family: exit %d, want 2", r.Code)
	}
}

func TestRollbackToWhatAlreadyRunsDoesNothing(t *testing.T) {
	w := deployed(t, ecsstandin.Scenario{})
	before := w.S.Stats().Calls["UpdateService"]
	r := w.Run(action, map[string]string{"services": "conveyor-api", "to": "3"})
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "conveyor-api already runs conveyor-api:3, steady: nothing to do, no deployment started")
	if n := w.S.Stats().Calls["UpdateService"] - before; n != 0 {
		t.Errorf("%d UpdateService calls for a rollback to what runs", n)
	}
}

func TestRollbackAfterAnECSRollbackGoesToWhatReallyCompletedLast(t *testing.T) {
	// :1 created, :2 and :3 deployed, :4 crashes and ECS rolls back to :3.
	// What completed last before the current deployment is :3 (the ECS
	// rollback ran it), which is what runs: nothing to do, not a trip to :2.
	w := deployed(t, ecsstandin.Scenario{Rules: []ecsstandin.Rule{{Match: "sha256:a4", Behaviour: ecsstandin.Crash, ExitCode: 1}}})
	o := rollout.Options{Cluster: "conveyor", Services: []string{"conveyor-api"}, Poll: 20 * time.Millisecond, Timeout: 20 * time.Second}
	res, _, err := rollout.Deploy(w.Ctx, w.API, o, map[string]plan.Image{"api": {Repository: st.Repo + "api", Digest: st.Dig("a4")}}, "sha-a4", true)
	if err != nil || res[0].Verdict != rollout.RolledBack {
		t.Fatalf("setting up: deploy a4: %v %+v", err, res)
	}
	r := w.Run(action, map[string]string{"services": "conveyor-api"})
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "conveyor-api already runs conveyor-api:3, steady: nothing to do")
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

// action is run as the stand-in world's Action: what the runner sees on
// stdout; stderr (usage) is dropped.
func action(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) int {
	return run(ctx, args, getenv, stdout, io.Discard)
}

func TestRollbackToADeregisteredRevisionSaysWhatToDo(t *testing.T) {
	// The last completed revision was deregistered (INACTIVE): ECS refuses
	// to deploy it. The rollback must say so before touching the service,
	// and say how to go on.
	w := deployed(t, ecsstandin.Scenario{})
	if _, err := w.API.DeregisterTaskDefinition(w.Ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("conveyor-api:2")}); err != nil {
		t.Fatal(err)
	}
	before := w.S.Stats().Calls["UpdateService"]
	for _, to := range []string{"", "2"} {
		in := map[string]string{"services": "conveyor-api"}
		if to != "" {
			in["to"] = to
		}
		r := w.Run(action, in)
		if r.Code != 1 {
			t.Errorf("to %q: exit %d, want 1", to, r.Code)
		}
		st.MustContain(t, "summary", r.Summary, "### ❌ conveyor-api: FAILED",
			"rollback target conveyor-api:2 was deregistered (INACTIVE) and ECS deploys no inactive revision: register it again",
			"or pass another revision")
	}
	if n := w.S.Stats().Calls["UpdateService"] - before; n != 0 {
		t.Errorf("%d UpdateService calls for an inactive target", n)
	}
}

func TestRollbackToADigestInSeveralRevisionsGoesToTheOneThatRan(t *testing.T) {
	// conveyor-api:4 was registered with a2's digest but never deployed
	// (say, an edited environment nobody shipped). "--to a2" means what
	// ran with a2: conveyor-api:2, not the newest revision holding it.
	w := deployed(t, ecsstandin.Scenario{})
	if _, err := w.API.RegisterTaskDefinition(w.Ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("conveyor-api"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("api"), Image: aws.String(st.Repo + "api@" + st.Dig("a2")),
			Environment: []types.KeyValuePair{{Name: aws.String("UNSHIPPED"), Value: aws.String("1")}}}}}); err != nil {
		t.Fatal(err)
	}
	r := w.Run(action, map[string]string{"services": "conveyor-api", "to": st.Dig("a2")})
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "| task definition | `conveyor-api:3` → `conveyor-api:2` |")
	// A digest that never ran still finds the newest revision holding it.
	if _, err := w.API.RegisterTaskDefinition(w.Ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("conveyor-api"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("api"), Image: aws.String(st.Repo + "api@" + st.Dig("a9"))}}}); err != nil {
		t.Fatal(err)
	}
	r = w.Run(action, map[string]string{"services": "conveyor-api", "to": st.Dig("a9")})
	if r.Code != 0 {
		t.Fatalf("to a digest that never ran: exit %d, want 0", r.Code)
	}
	st.MustContain(t, "summary", r.Summary, "| task definition | `conveyor-api:2` → `conveyor-api:5` |")
}

func TestRollbackCancelledMidWatchSaysUnknown(t *testing.T) {
	// The runner cancels the rollback workflow while ECS still starts the
	// target's tasks: the run ends at once, UNKNOWN, every output written.
	w := deployed(t, ecsstandin.Scenario{})
	if err := w.S.SetScenario(ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{{Match: "sha256:a2", Behaviour: ecsstandin.Hang}}}); err != nil {
		t.Fatal(err)
	}
	before := w.S.Stats().Calls["UpdateService"]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for w.S.Stats().Calls["UpdateService"] == before {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	w.Ctx = ctx
	began := time.Now()
	r := w.Run(action, map[string]string{"services": "conveyor-api", "poll-interval": "100ms", "timeout": "60s"})
	took := time.Since(began)
	w.Ctx = context.Background()
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if took > 15*time.Second {
		t.Errorf("the cancelled rollback took %s", took)
	}
	st.MustContain(t, "summary", r.Summary, "### ❓ conveyor-api: UNKNOWN", "the run was cancelled (context canceled) while service deployment arn:aws:ecs:")
	st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"UNKNOWN"}`, "result<<", "failure")
}

func TestHelpExitsZeroWithUsage(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var out, usage bytes.Buffer
		code := run(context.Background(), []string{arg}, func(string) string { return "" }, &out, &usage)
		if code != 0 {
			t.Errorf("%s: exit %d, want 0", arg, code)
		}
		for _, want := range []string{"Usage of rollback", "-to", "-services", "-timeout"} {
			if !strings.Contains(usage.String(), want) {
				t.Errorf("%s: usage lacks %q", arg, want)
			}
		}
	}
}
