package actions_test

// Every output an action.yml declares is written by its Go main, on success
// and on failure, and reaches the action's outputs through the step the
// action.yml names. The test runs each action.yml's composite steps the way
// the runner does: no INPUT_* variables of its own (only the step env the
// file maps), a fresh GITHUB_OUTPUT file per step, parsed as the runner
// parses it (gha.ReadOutputs: name=value and name<<DELIMITER blocks), bash
// with -eo pipefail, GITHUB_ACTION_PATH set to the action's directory and
// the workspace as the working directory. An output pointing at a step output
// the main never writes, an env mapping that loses an input, or a dropped
// `cd "$GITHUB_ACTION_PATH"` all fail here.
// https://docs.github.com/en/actions/reference/workflows-and-actions/metadata-syntax (runs for composite actions)
// https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands (GITHUB_OUTPUT)

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/workflowcheck"
)

// composite is the outcome of one run of an action's steps.
type composite struct {
	outputs map[string]string // the action's outputs that were set, by name
	failed  bool              // a step exited non-zero
	log     string
}

var soleExprRe = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// runComposite runs actions/<name>/action.yml with the given inputs. Only
// the expressions conveyor's action.yml files use are evaluated; any other
// fails the test rather than guessing.
func runComposite(t *testing.T, name string, inputs map[string]string, extraEnv ...string) composite {
	t.Helper()
	return runCompositeIn(t, name, inputs, t.TempDir(), extraEnv...)
}

// runCompositeIn is runComposite with the job's RUNNER_TEMP, which the
// job's other steps share (a plan written there, read by policy-check).
func runCompositeIn(t *testing.T, name string, inputs map[string]string, temp string, extraEnv ...string) composite {
	t.Helper()
	repo, findings, err := workflowcheck.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Fatalf("%s", f)
	}
	a := repo.Actions["actions/"+name]
	if a == nil || !a.Composite {
		t.Fatalf("actions/%s: no composite action.yml", name)
	}
	for k := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("test bug: %s declares no input %q", a.File, k)
		}
	}
	workspace, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(temp, name+"-summary.md")

	eval := func(where, s string) string {
		return soleExprRe.ReplaceAllStringFunc(s, func(m string) string {
			e := soleExprRe.FindStringSubmatch(m)[1]
			switch {
			case strings.HasPrefix(e, "inputs."):
				in := strings.TrimPrefix(e, "inputs.")
				if v, ok := inputs[in]; ok {
					return v
				}
				_, def := workflowcheck.Get(inputNode(a, in), "default")
				if def != nil {
					return def.Value
				}
				return ""
			case e == "github.workspace":
				return workspace
			case e == "github.action_path":
				return filepath.Join(workspace, a.Dir)
			case e == "runner.temp":
				return temp
			}
			t.Fatalf("%s: %s: the test's runner does not evaluate ${{ %s }}", a.File, where, e)
			return ""
		})
	}

	stepOutputs := map[string]map[string]string{}
	var log strings.Builder
	failed := false
	for i, s := range a.Steps {
		_, cond := workflowcheck.Get(s.Node, "if")
		runIt := !failed
		if cond != nil {
			switch c := strings.Trim(strings.TrimSpace(cond.Value), "${} "); c {
			case "always()", "!cancelled()":
				runIt = true
			case "failure()":
				runIt = failed
			case "success()":
			default:
				t.Fatalf("%s: step %d: the test's runner does not evaluate if: %s", a.File, i, cond.Value)
			}
		}
		if !runIt {
			continue
		}
		_, script := workflowcheck.Get(s.Node, "run")
		if script == nil {
			t.Fatalf("%s: step %d is not a run: step; the test's runner runs only those", a.File, i)
		}
		if _, sh := workflowcheck.Get(s.Node, "shell"); sh == nil || sh.Value != "bash" {
			t.Fatalf("%s: step %d: shell must be bash", a.File, i)
		}
		dir := workspace
		if _, wd := workflowcheck.Get(s.Node, "working-directory"); wd != nil {
			dir = eval("working-directory", wd.Value)
		}
		out := filepath.Join(temp, fmt.Sprintf("%s-output-%d", name, i))
		if err := os.WriteFile(out, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(temp, fmt.Sprintf("%s-step-%d.sh", name, i))
		if err := os.WriteFile(file, []byte(eval("run", script.Value)), 0o644); err != nil {
			t.Fatal(err)
		}
		// The runner's environment, less any INPUT_* of the test process:
		// composite steps get only what their env: maps.
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "INPUT_") && !strings.HasPrefix(kv, "GITHUB_") {
				env = append(env, kv)
			}
		}
		env = append(env, "RUNNER_TEMP="+temp, "GITHUB_WORKSPACE="+workspace, "GITHUB_ACTION_PATH="+filepath.Join(workspace, a.Dir),
			"GITHUB_OUTPUT="+out, "GITHUB_STEP_SUMMARY="+summary, "GITHUB_ACTIONS=true")
		env = append(env, extraEnv...)
		_, stepEnv := workflowcheck.Get(s.Node, "env")
		for _, kv := range workflowcheck.Pairs(stepEnv) {
			env = append(env, kv.K.Value+"="+eval("env "+kv.K.Value, kv.V.Value))
		}
		// GitHub's bash: bash --noprofile --norc -eo pipefail {0}.
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", file)
		cmd.Dir = dir
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		fmt.Fprintf(&log, "--- step %d (%v)\n%s", i, err, b)
		if err != nil {
			failed = true
		}
		if _, id := workflowcheck.Get(s.Node, "id"); id != nil {
			outs, err := gha.ReadOutputs(out)
			if err != nil {
				t.Fatalf("%s: step %s wrote a GITHUB_OUTPUT the runner cannot parse: %v", a.File, id.Value, err)
			}
			stepOutputs[id.Value] = outs
		}
	}

	// The action's outputs: each value is one steps.<id>.outputs.<name>.
	set := map[string]string{}
	stepOut := regexp.MustCompile(`^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$`)
	for name, o := range a.Outputs {
		_, v := workflowcheck.Get(o, "value")
		m := stepOut.FindStringSubmatch(strings.TrimSpace(v.Value))
		if m == nil {
			t.Fatalf("%s: output %s: the test's runner evaluates only ${{ steps.<id>.outputs.<name> }}, got %q", a.File, name, v.Value)
		}
		if val, ok := stepOutputs[m[1]][m[2]]; ok {
			set[name] = val
		}
	}
	return composite{outputs: set, failed: failed, log: log.String()}
}

func inputNode(a *workflowcheck.Action, name string) *yaml.Node {
	_, ins := workflowcheck.Get(a.Root, "inputs")
	_, in := workflowcheck.Get(ins, name)
	return in
}

// requireAllOutputs fails unless every output of the action was written.
func requireAllOutputs(t *testing.T, name string, c composite) {
	t.Helper()
	repo, _, err := workflowcheck.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	a := repo.Actions["actions/"+name]
	var missing []string
	for out := range a.Outputs {
		if _, ok := c.outputs[out]; !ok {
			missing = append(missing, out)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%s: outputs never written: %v (written: %v)\n%s", a.File, missing, c.outputs, c.log)
	}
}

func outputsTestSetup(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the actions' Go mains and runs them")
	}
}

func TestBuildPushWritesEveryOutput(t *testing.T) {
	outputsTestSetup(t)
	t.Run("success", func(t *testing.T) {
		c := runComposite(t, "build-push", map[string]string{
			"services": "api,worker,dlq", "platforms": "linux/amd64", "push": "false",
			"oci-layout": t.TempDir(), "revision": "outputs-test", "source-date-epoch": "1700000000",
			"cache-dir": filepath.Join(os.TempDir(), "conveyor-outputs-test-cache"),
		})
		if c.failed {
			t.Fatalf("build-push failed:\n%s", c.log)
		}
		requireAllOutputs(t, "build-push", c)
		if !strings.Contains(c.outputs["image-map"], "@sha256:") || c.outputs["revision"] != "outputs-test" {
			t.Errorf("outputs %v", c.outputs)
		}
	})
	t.Run("input error", func(t *testing.T) {
		c := runComposite(t, "build-push", map[string]string{"push": "true", "repository-prefix": ""})
		if !c.failed {
			t.Fatalf("build-push with push and no repository-prefix succeeded:\n%s", c.log)
		}
		requireAllOutputs(t, "build-push", c)
		if c.outputs["image-map"] != "{}" {
			t.Errorf("image-map on failure = %q, want {} (nothing pushed)", c.outputs["image-map"])
		}
	})
}

func TestPolicyCheckWritesEveryOutput(t *testing.T) {
	outputsTestSetup(t)
	t.Run("clean in text format", func(t *testing.T) {
		c := runComposite(t, "policy-check", map[string]string{
			"directories": "infra/environments/production", "contract": "policies", "format": "text"})
		if c.failed {
			t.Fatalf("policy-check failed:\n%s", c.log)
		}
		requireAllOutputs(t, "policy-check", c)
		if c.outputs["errors"] != "0" || c.outputs["result"] != "success" {
			t.Errorf("outputs %v, want errors 0, result success", c.outputs)
		}
	})
	t.Run("findings without contract", func(t *testing.T) {
		dir := t.TempDir()
		tf := `resource "aws_iam_role" "r" {
  name               = "r"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ecs-tasks.amazonaws.com" } }] })
}

resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r.id
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }] })
}
`
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tf), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"github", "json"} {
			c := runComposite(t, "policy-check", map[string]string{"directories": dir, "no-contract": "true", "format": format})
			if !c.failed {
				t.Fatalf("format %s: Action * on * passed:\n%s", format, c.log)
			}
			requireAllOutputs(t, "policy-check", c)
			if c.outputs["errors"] == "" || c.outputs["errors"] == "0" || c.outputs["result"] != "failure" {
				t.Errorf("format %s: outputs %v, want errors > 0, result failure\n%s", format, c.outputs, c.log)
			}
		}
	})
	t.Run("input error", func(t *testing.T) {
		c := runComposite(t, "policy-check", map[string]string{"directories": "does/not/exist", "format": "text"})
		if !c.failed {
			t.Fatalf("policy-check of a missing directory succeeded:\n%s", c.log)
		}
		requireAllOutputs(t, "policy-check", c)
		if c.outputs["result"] != "failure" {
			t.Errorf("outputs %v, want result failure", c.outputs)
		}
	})
}

// deployGap fails for every declared output the deploy or rollback main
// left unwritten on a failure path, and for a result that is not failure.
func deployGap(t *testing.T, name, path string, c composite) {
	t.Helper()
	repo, _, err := workflowcheck.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for out := range repo.Actions["actions/"+name].Outputs {
		if _, ok := c.outputs[out]; !ok {
			missing = append(missing, out)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("actions/%s on %s: the outputs %v are never written (written: %v); every output must be set, result failure", name, path, missing, c.outputs)
	}
	if c.outputs["result"] != "failure" {
		t.Errorf("actions/%s on %s: result = %q, want failure", name, path, c.outputs["result"])
	}
}

func TestDeployAndRollbackWriteEveryOutputOnFailure(t *testing.T) {
	outputsTestSetup(t)
	// An endpoint nothing listens on: every AWS call fails at once.
	dead := []string{"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true"}
	digest := "sha256:" + strings.Repeat("a", 64)
	cases := []struct {
		action, path string
		inputs       map[string]string
	}{
		{"deploy", "an input error (image not pinned by digest)", map[string]string{
			"cluster": "conveyor", "services": "conveyor-api", "image-map": `{"api":"repo/api:latest"}`}},
		{"deploy", "an AWS error (endpoint unreachable)", map[string]string{
			"cluster": "conveyor", "services": "conveyor-api", "image-map": `{"api":"repo/api@` + digest + `"}`, "timeout": "20s"}},
		{"deploy", "an infra error (infra-dir missing)", map[string]string{
			"cluster": "conveyor", "services": "conveyor-api", "image-map": `{"api":"repo/api@` + digest + `"}`,
			"apply-infra": "true", "infra-dir": "does/not/exist"}},
		{"rollback", "an input error (bad target)", map[string]string{
			"cluster": "conveyor", "services": "conveyor-api", "to": "not-a-target!"}},
		{"rollback", "an AWS error (endpoint unreachable)", map[string]string{
			"cluster": "conveyor", "services": "conveyor-api", "timeout": "20s"}},
	}
	for _, c := range cases {
		t.Run(c.action+"/"+c.path, func(t *testing.T) {
			res := runComposite(t, c.action, c.inputs, dead...)
			if !res.failed {
				t.Fatalf("actions/%s on %s succeeded:\n%s", c.action, c.path, res.log)
			}
			deployGap(t, c.action, c.path, res)
		})
	}
}
