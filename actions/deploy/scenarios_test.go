package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	st "github.com/conveyor-dev/conveyor/internal/ecsstandin/standintest"
)

// The adversarial scenarios: what ECS does that a watcher most easily gets
// wrong. Each runs the deploy action as a command against the stand-in and
// asserts the exact verdict, the exit code and the first line of the
// annotation's reason. Windows are in virtual seconds after the service
// settled (the stand-in runs at st.Speed virtual seconds per real second).

var readOps = []string{"DescribeServices", "ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions", "ListTasks", "DescribeTasks"}

type scenario struct {
	name    string
	rules   []ecsstandin.Rule
	svc     st.Svc
	digest  string
	inputs  map[string]string
	setup   func(w *st.World, settled float64) // after the service settled, before the deploy
	code    int
	verdict string
	first   string // prefix of the annotation's first line ("" for SUCCEEDED)
	summary []string
	check   func(t *testing.T, w *st.World, r st.Run, took time.Duration)
}

func TestDeployScenarios(t *testing.T) {
	for _, sc := range []scenario{
		{
			name:   "reads throttled while ECS completes the deployment: SUCCEEDED, not TIMED_OUT",
			digest: st.Dig("600d"), svc: st.Svc{LB: true, Breaker: true},
			setup: func(w *st.World, _ float64) {
				throttleOnceDeployed(t, w, 600)
			},
			inputs:  map[string]string{"poll-interval": "100ms"},
			code:    0,
			verdict: "SUCCEEDED",
			check: func(t *testing.T, w *st.World, r st.Run, _ time.Duration) {
				if w.S.Stats().Throttled == 0 || strings.Contains(r.Summary, " 0 of them throttled") {
					t.Errorf("the stand-in throttled %d calls; the summary must count what the watcher saw", w.S.Stats().Throttled)
				}
				if w.S.Stats().Calls["UpdateService"] != 1 {
					t.Errorf("%d UpdateService calls: a good deployment must not be rolled back", w.S.Stats().Calls["UpdateService"])
				}
			},
		},
		{
			name:   "ECS unreadable at the deadline: UNKNOWN, and no rollback of what may have succeeded",
			digest: st.Dig("600d"), svc: st.Svc{LB: true, Breaker: true},
			setup: func(w *st.World, _ float64) {
				throttleOnceDeployed(t, w, 100000)
			},
			inputs:  map[string]string{"poll-interval": "100ms", "timeout": "1500ms"},
			code:    1,
			verdict: "UNKNOWN",
			first:   "the final read of ECS failed (",
			summary: []string{"| next step | the outcome is unknown: look with `aws ecs describe-service-deployments --service-deployment-arns arn:aws:ecs:"},
			check: func(t *testing.T, w *st.World, r st.Run, _ time.Duration) {
				if n := w.S.Stats().Calls["UpdateService"]; n != 1 {
					t.Errorf("%d UpdateService calls: an UNKNOWN deployment must not be rolled back", n)
				}
			},
		},
		{
			name:   "the ECS rollback completes between two polls: ROLLED_BACK, not SUPERSEDED",
			rules:  []ecsstandin.Rule{{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1, CrashAfterSeconds: 5}},
			digest: st.Dig("bad"), svc: st.Svc{LB: true, Breaker: true},
			inputs:  map[string]string{"poll-interval": "3s"},
			code:    1,
			verdict: "ROLLED_BACK",
			first:   "service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/",
			summary: []string{"(the circuit breaker tripped after ", "ECS rolled back and the rollback succeeded", "| rollback | by ECS circuit breaker, - to `conveyor-api:1`: SUCCEEDED |"},
		},
		{
			name:   "the first two tasks time out on the network, later ones are healthy: SUCCEEDED",
			rules:  []ecsstandin.Rule{{Match: "sha256:b11f", Behaviour: ecsstandin.NetworkTimeout, MaxTasks: 2}},
			digest: st.Dig("b11f"), svc: st.Svc{LB: true, Breaker: true},
			code:    0,
			verdict: "SUCCEEDED",
			summary: []string{"ResourceInitializationError: unable to pull secrets or registry auth", "i/o timeout"},
		},
		{
			name:   "new tasks crash 90 s after start, first look after the crash: not SUCCEEDED",
			rules:  []ecsstandin.Rule{{Match: "sha256:90", Behaviour: ecsstandin.Crash, ExitCode: 1, CrashAfterSeconds: 90}},
			digest: st.Dig("90"), svc: st.Svc{LB: true, Breaker: true},
			inputs:  map[string]string{"poll-interval": "1s"},
			code:    1,
			verdict: "ROLLED_BACK",
			first:   "ECS reported service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/",
			summary: []string{"| before the rollback | FAILED |", "SUCCESSFUL, then a task of it failed: stopped task ", "container api exit code 1"},
		},
		{
			name:  "the old image crashes too: a verdict within the timeout plus one poll",
			rules: []ecsstandin.Rule{{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1}},
			setup: func(w *st.World, settled float64) {
				sc := ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{
					{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1},
					{Match: "sha256:1111", Behaviour: ecsstandin.Crash, ExitCode: 137, FromSeconds: settled + 5}}}
				if err := w.S.SetScenario(sc); err != nil {
					t.Fatal(err)
				}
			},
			digest: st.Dig("bad"), svc: st.Svc{LB: true, Breaker: true},
			inputs: map[string]string{"poll-interval": "200ms", "timeout": "3s"},
			code:   1,
			check: func(t *testing.T, w *st.World, r st.Run, took time.Duration) {
				v := verdictOf(r)
				if v != "ROLLBACK_FAILED" && v != "TIMED_OUT" {
					t.Errorf("verdict %s, want ROLLBACK_FAILED (or TIMED_OUT while ECS still rolls back)", v)
				}
				if n := strings.Count(r.Log, "::error title=deploy conveyor-api"); n != 1 {
					t.Errorf("%d verdict annotations, want exactly one", n)
				}
				// Generous against a loaded machine; the defect was 200 s.
				if took > 3*time.Second+200*time.Millisecond+5*time.Second {
					t.Errorf("the run took %s with timeout 3s and poll 200ms", took)
				}
			},
		},
		{
			name:   "breaker rollback off: FAILED says so, and conveyor rolls back to what succeeded before",
			rules:  []ecsstandin.Rule{{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1}},
			digest: st.Dig("bad"), svc: st.Svc{LB: true, Breaker: true, NoRollback: true},
			code:    1,
			verdict: "ROLLED_BACK",
			first:   "ECS stopped service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/",
			summary: []string{"rollback is off in the deployment configuration, so ECS stopped", "| before the rollback | FAILED |", "| rollback | by conveyor, `ecs-svc/", "to `conveyor-api:1`: SUCCEEDED |"},
		},
		{
			name:   "a rollback that fails is ROLLBACK_FAILED in the verdicts output",
			rules:  []ecsstandin.Rule{{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1}},
			digest: st.Dig("bad"), svc: st.Svc{LB: true, Breaker: true, NoRollback: true},
			inputs:  map[string]string{"timeout": "4s"},
			code:    1,
			verdict: "ROLLBACK_FAILED",
			first:   "ECS stopped service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/",
			setup: func(w *st.World, settled float64) {
				sc := ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{
					{Match: "sha256:bad", Behaviour: ecsstandin.Crash, ExitCode: 1},
					{Match: "sha256:1111", Behaviour: ecsstandin.Crash, ExitCode: 1, FromSeconds: settled + 1}}}
				if err := w.S.SetScenario(sc); err != nil {
					t.Fatal(err)
				}
			},
			summary: []string{"| before the rollback | FAILED |", "| rollback | by conveyor"},
		},
		{
			name:   "a permanent pull error fails at once without waiting for the breaker",
			rules:  []ecsstandin.Rule{{Match: "sha256:0bad", Behaviour: ecsstandin.PullError}},
			digest: st.Dig("0bad"), svc: st.Svc{LB: true},
			code:    1,
			verdict: "ROLLED_BACK",
			first:   "service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/",
			summary: []string{"cannot succeed: stopped task ", "CannotPullContainerError", "(a permanent error: retries do not heal it)", "| before the rollback | FAILED |"},
		},
		{
			name:   "access denied on the pull is permanent too",
			rules:  []ecsstandin.Rule{{Match: "sha256:de", Behaviour: ecsstandin.AccessDenied}},
			digest: st.Dig("de"), svc: st.Svc{LB: true},
			code:    1,
			verdict: "ROLLED_BACK",
			summary: []string{"cannot succeed: stopped task ", "403 Forbidden", "(a permanent error: retries do not heal it)"},
			first:   "service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/conveyor/conveyor-api/",
		},
		{
			name:   "the digest already runs: no deployment, nothing to do",
			digest: st.Dig("1111"), svc: st.Svc{LB: true, Breaker: true},
			code:    0,
			verdict: "SUCCEEDED",
			summary: []string{"conveyor-api already runs api=" + st.Dig("1111") + " (conveyor-api:1), steady: no deployment started (set force to deploy anyway)"},
			check: func(t *testing.T, w *st.World, r st.Run, _ time.Duration) {
				if n := w.S.Stats().Calls["RegisterTaskDefinition"]; n != 1 {
					t.Errorf("%d task definitions registered; a deploy of what runs must register none", n)
				}
				if n := w.S.Stats().Calls["UpdateService"]; n != 0 {
					t.Errorf("%d UpdateService calls; a deploy of what runs must start no deployment", n)
				}
			},
		},
		{
			name:   "force deploys the digest that already runs",
			digest: st.Dig("1111"), svc: st.Svc{LB: true, Breaker: true},
			inputs:  map[string]string{"force": "true"},
			code:    0,
			verdict: "SUCCEEDED",
			check: func(t *testing.T, w *st.World, r st.Run, _ time.Duration) {
				if n := w.S.Stats().Calls["UpdateService"]; n != 1 {
					t.Errorf("%d UpdateService calls with force, want 1", n)
				}
			},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			w := st.NewWorld(t, ecsstandin.Scenario{Rules: sc.rules})
			w.Service("conveyor-api", st.Repo+"api@"+st.Dig("1111"), sc.svc)
			w.Settle("conveyor-api", types.DeploymentRolloutStateCompleted)
			if sc.setup != nil {
				sc.setup(w, w.S.Elapsed())
			}
			in := map[string]string{"services": "conveyor-api", "image-map": st.Images("api", sc.digest)}
			for k, v := range sc.inputs {
				in[k] = v
			}
			began := time.Now()
			r := w.Run(action, in)
			took := time.Since(began)
			if r.Code != sc.code {
				t.Errorf("exit %d, want %d", r.Code, sc.code)
			}
			if sc.verdict != "" {
				if got := verdictOf(r); got != sc.verdict {
					t.Errorf("verdict %s, want %s", got, sc.verdict)
				}
				st.MustContain(t, "outputs", r.Out, `{"conveyor-api":"`+sc.verdict+`"}`)
			}
			if sc.first != "" {
				if got := firstLine(r); !strings.HasPrefix(got, sc.first) {
					t.Errorf("annotation's first line\n  %s\nwant prefix\n  %s", got, sc.first)
				}
			}
			st.MustContain(t, "summary", r.Summary, sc.summary...)
			if sc.check != nil {
				sc.check(t, w, r, took)
			}
		})
	}
}

// throttleOnceDeployed throttles every read for seconds of virtual time
// from conveyor's UpdateService on. A window fixed before the run would
// start at a real time that depends on how loaded the machine is, and
// could throttle the reads before the deployment instead of those of the
// watch.
func throttleOnceDeployed(t *testing.T, w *st.World, seconds float64) {
	t.Helper()
	go func() {
		for deadline := time.Now().Add(20 * time.Second); w.S.Stats().Calls["UpdateService"] == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		now := w.S.Elapsed()
		if err := w.S.SetScenario(ecsstandin.Scenario{ThrottleRate: -1, Throttle: []ecsstandin.ThrottleWindow{{Ops: readOps, FromSeconds: now, UntilSeconds: now + seconds}}}); err != nil {
			t.Error(err)
		}
	}()
}

// verdictOf is the verdict the step summary gives the service.
func verdictOf(r st.Run) string {
	const h = "conveyor-api: "
	for _, line := range strings.Split(r.Summary, "\n") {
		if strings.HasPrefix(line, "### ") {
			if i := strings.Index(line, h); i >= 0 {
				return line[i+len(h):]
			}
		}
	}
	return ""
}

// firstLine is the first line of the service's error annotation.
func firstLine(r st.Run) string {
	for _, line := range strings.Split(r.Log, "\n") {
		if strings.HasPrefix(line, "::error title=deploy conveyor-api") {
			msg := line[strings.Index(line, "::")+2:]
			msg = msg[strings.Index(msg, "::")+2:]
			first, _, _ := strings.Cut(msg, "%0A")
			if s, err := url.PathUnescape(strings.ReplaceAll(first, "%25", "%")); err == nil {
				return s
			}
			return first
		}
	}
	return ""
}
