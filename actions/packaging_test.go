package actions_test

// The repository's own workflows and action.yml files: the generic rules of
// actions/internal/workflowcheck, actionlint, and what the issues ask of each
// workflow (gates, roles, the production lock, pins).

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

	"github.com/conveyor-dev/conveyor/actions/internal/workflowcheck"
)

var (
	get         = workflowcheck.Get
	pairs       = workflowcheck.Pairs
	items       = workflowcheck.Items
	walkScalars = workflowcheck.WalkScalars
	needsOutRe  = regexp.MustCompile(`\bneeds\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)`)
)

// TestRepositoryWorkflowsAndActions runs the checker on the real tree.
func TestRepositoryWorkflowsAndActions(t *testing.T) {
	findings, err := workflowcheck.Run("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("%s", f)
	}
	for _, name := range []string{"build-push", "policy-check", "deploy", "rollback"} {
		p := filepath.Join(name, "action.yml")
		n, f := workflowcheck.LoadFile(p, p)
		if f != nil {
			t.Errorf("actions/%s/action.yml: %s", name, f)
			continue
		}
		_, runs := get(n, "runs")
		if _, using := get(runs, "using"); using == nil || using.Value != "composite" {
			t.Errorf("actions/%s/action.yml: runs.using must be composite (the step builds and runs the Go main)", name)
		}
	}
}

// TestActionlintIsClean runs actionlint (with shellcheck on run: scripts) on
// .github/workflows. .ci/run installs it by version.
func TestActionlintIsClean(t *testing.T) {
	bin := lookTool(t, "actionlint", "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12")
	if _, err := exec.LookPath("shellcheck"); err != nil {
		missingTool(t, "shellcheck", "apt-get install shellcheck (actionlint checks run: scripts with it)")
	}
	if v, err := exec.Command(bin, "-version").Output(); err == nil {
		t.Logf("%s %s", bin, strings.SplitN(string(v), "\n", 2)[0])
	}
	cmd := exec.Command(bin, "-no-color")
	cmd.Dir = ".." // actionlint finds .github/workflows from the repository root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint on .github/workflows: %v\n%s", err, out)
	}

	// The good fixture must be a valid workflow too, or the checker's
	// acceptance of it proves little. actionlint takes the directory holding
	// .git as the project root.
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("internal", "workflowcheck", "testdata", "good"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "-no-color")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint on testdata/good: %v\n%s", err, out)
	}
}

// lookTool finds a tool on PATH or in GOPATH/bin (where go install puts it).
func lookTool(t *testing.T, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", name); fileExists(p) {
				return p
			}
		}
	}
	missingTool(t, name, install)
	return ""
}

func missingTool(t *testing.T, name, install string) {
	t.Helper()
	msg := fmt.Sprintf("%s not found on PATH or in GOPATH/bin; install it: %s", name, install)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING (set CI to make this fatal): " + msg)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// The tests below pin down what the issue asks of each workflow, beyond the
// generic rules above.

func loadWorkflow(t *testing.T, name string) *yaml.Node {
	t.Helper()
	p := filepath.Join("..", ".github", "workflows", name)
	n, f := workflowcheck.LoadFile(p, ".github/workflows/"+name)
	if f != nil {
		t.Fatalf("%s", f)
	}
	return n
}

// jobUsing returns the jobs with a step (or a job-level call) using ref.
func jobsUsing(wf *yaml.Node, ref string) []string {
	var out []string
	_, jobs := get(wf, "jobs")
	for _, j := range pairs(jobs) {
		found := false
		if _, u := get(j.V, "uses"); u != nil && u.Value == ref {
			found = true
		}
		_, steps := get(j.V, "steps")
		for _, st := range items(steps) {
			if _, u := get(st, "uses"); u != nil && (u.Value == ref || strings.HasPrefix(u.Value, ref+"@")) {
				found = true
			}
		}
		if found {
			out = append(out, j.K.Value)
		}
	}
	return out
}

func stepUsing(job *yaml.Node, ref string) *yaml.Node {
	_, steps := get(job, "steps")
	for _, st := range items(steps) {
		if _, u := get(st, "uses"); u != nil && u.Value == ref {
			return st
		}
	}
	return nil
}

func job(wf *yaml.Node, name string) *yaml.Node {
	_, jobs := get(wf, "jobs")
	_, j := get(jobs, name)
	return j
}

func environmentName(job *yaml.Node) string {
	_, env := get(job, "environment")
	if env != nil && env.Kind == yaml.MappingNode {
		_, env = get(env, "name")
	}
	if env == nil {
		return ""
	}
	return env.Value
}

// allNeeds returns every job name reachable through needs: from name.
func allNeeds(wf *yaml.Node, name string) map[string]bool {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		_, nd := get(job(wf, n), "needs")
		list := items(nd)
		if nd != nil && nd.Kind == yaml.ScalarNode {
			list = []*yaml.Node{nd}
		}
		for _, x := range list {
			if !seen[x.Value] {
				seen[x.Value] = true
				visit(x.Value)
			}
		}
	}
	visit(name)
	return seen
}

// jobConcurrency returns a job's concurrency group and cancel-in-progress
// ("" when the job has none).
func jobConcurrency(j *yaml.Node) (group, cancel string) {
	_, c := get(j, "concurrency")
	if c != nil && c.Kind == yaml.ScalarNode {
		return c.Value, "false"
	}
	_, g := get(c, "group")
	_, cip := get(c, "cancel-in-progress")
	if g != nil {
		group = g.Value
	}
	cancel = "false"
	if cip != nil {
		cancel = cip.Value
	}
	return group, cancel
}

// requireProductionLock: the lock is taken by the jobs that change
// production, and only by them. A workflow-level group would hold it through
// the tests (up to 90 minutes) and let a push replace a pending rollback.
func requireProductionLock(t *testing.T, file string, wf *yaml.Node, lockers ...string) {
	t.Helper()
	if k, _ := get(wf, "concurrency"); k != nil {
		t.Errorf("%s: workflow-level concurrency holds the production lock through every job; put it on the jobs that change production (%v)", file, lockers)
	}
	_, jobs := get(wf, "jobs")
	for _, j := range pairs(jobs) {
		g, cancel := jobConcurrency(j.V)
		want := slices.Contains(lockers, j.K.Value)
		switch {
		case want && (g != "production" || cancel != "false"):
			t.Errorf("%s: job %s: concurrency %q (cancel-in-progress %s), want group production with cancel-in-progress false", file, j.K.Value, g, cancel)
		case !want && g == "production":
			t.Errorf("%s: job %s takes the production lock but does not change production", file, j.K.Value)
		}
	}
}

func TestDeployWorkflowTestsBuildsChecksThenDeploysToProduction(t *testing.T) {
	wf := loadWorkflow(t, "deploy.yml")
	_, on := get(wf, "on")
	_, push := get(on, "push")
	_, branches := get(push, "branches")
	if len(pairs(on)) != 1 || len(items(branches)) != 1 || items(branches)[0].Value != "main" {
		t.Errorf("deploy.yml: want on: push: branches: [main] and nothing else")
	}
	if _, top := get(wf, "permissions"); top == nil || top.Kind != yaml.MappingNode || len(top.Content) != 0 {
		t.Errorf("deploy.yml: top-level permissions must be {}")
	}

	deployJobs := jobsUsing(wf, "./actions/deploy")
	if len(deployJobs) != 1 {
		t.Fatalf("deploy.yml: want one job using ./actions/deploy, got %v", deployJobs)
	}
	dj := deployJobs[0]
	if env := environmentName(job(wf, dj)); env != "production" {
		t.Errorf("deploy.yml: job %s environment = %q, want production", dj, env)
	}
	before := allNeeds(wf, dj)
	for _, ref := range []string{"./.github/workflows/ci.yml", "./actions/build-push", "./actions/policy-check"} {
		js := jobsUsing(wf, ref)
		if len(js) == 0 {
			t.Errorf("deploy.yml: no job uses %s", ref)
		}
		for _, j := range js {
			if !before[j] {
				t.Errorf("deploy.yml: job %s (%s) must run before %s (needs)", j, ref, dj)
			}
		}
	}
	// The policy check runs after the images exist: on the plan that deploys them.
	for _, pj := range jobsUsing(wf, "./actions/policy-check") {
		for _, bj := range jobsUsing(wf, "./actions/build-push") {
			if !allNeeds(wf, pj)[bj] {
				t.Errorf("deploy.yml: policy-check job %s must need build-push job %s", pj, bj)
			}
		}
		_, with := get(stepUsing(job(wf, pj), "./actions/policy-check"), "with")
		if _, plan := get(with, "plan-json"); plan == nil {
			t.Errorf("deploy.yml: policy-check in job %s is not given the plan (plan-json)", pj)
		}
	}

	// The image map travels as a job output from build-push to deploy.
	_, with := get(stepUsing(job(wf, dj), "./actions/deploy"), "with")
	_, im := get(with, "image-map")
	if im == nil || !regexp.MustCompile(`^\$\{\{\s*needs\.[\w-]+\.outputs\.image-map\s*\}\}$`).MatchString(im.Value) {
		t.Errorf("deploy.yml: ./actions/deploy image-map must be ${{ needs.<build job>.outputs.image-map }}, got %v", im)
	} else if from := needsOutRe.FindStringSubmatch(im.Value)[1]; !slices.Contains(jobsUsing(wf, "./actions/build-push"), from) {
		t.Errorf("deploy.yml: image-map comes from job %s, which does not run ./actions/build-push", from)
	}

	requireSummaryStep(t, "deploy.yml", job(wf, dj), "IMAGE_MAP", "VERDICTS")
	requireProductionLock(t, "deploy.yml", wf, dj)
	requireDroppedReport(t, "deploy.yml", wf, dj)
}

// requireDroppedReport: a job waiting for the production lock is cancelled
// when a newer one queues; a job after it must say so and fail the run.
func requireDroppedReport(t *testing.T, file string, wf *yaml.Node, locker string) {
	t.Helper()
	_, jobs := get(wf, "jobs")
	for _, j := range pairs(jobs) {
		_, cond := get(j.V, "if")
		if allNeeds(wf, j.K.Value)[locker] && cond != nil &&
			strings.Contains(cond.Value, "needs."+locker+".result == 'cancelled'") && strings.Contains(cond.Value, "always()") {
			return
		}
	}
	t.Errorf("%s: no job reports job %s cancelled (needs: %s, if: always() && needs.%s.result == 'cancelled')", file, locker, locker, locker)
}

func requireSummaryStep(t *testing.T, file string, j *yaml.Node, envs ...string) {
	t.Helper()
	_, steps := get(j, "steps")
	for _, st := range items(steps) {
		_, run := get(st, "run")
		_, cond := get(st, "if")
		_, env := get(st, "env")
		if run == nil || !strings.Contains(run.Value, "$GITHUB_STEP_SUMMARY") {
			continue
		}
		if cond == nil || !(strings.Contains(cond.Value, "always()") || strings.Contains(cond.Value, "!cancelled()")) {
			t.Errorf("%s: the summary step must run when the deploy fails too (if: !cancelled())", file)
		}
		for _, e := range envs {
			if k, _ := get(env, e); k == nil {
				t.Errorf("%s: the summary step has no env %s", file, e)
			}
		}
		return
	}
	t.Errorf("%s: no step writes the job summary ($GITHUB_STEP_SUMMARY)", file)
}

func TestRollbackWorkflowIsTypedAndSharesDeployProtection(t *testing.T) {
	wf := loadWorkflow(t, "rollback.yml")
	deploy := loadWorkflow(t, "deploy.yml")
	_, on := get(wf, "on")
	_, wd := get(on, "workflow_dispatch")
	if len(pairs(on)) != 1 || wd == nil {
		t.Fatalf("rollback.yml: want on: workflow_dispatch only")
	}
	_, inputs := get(wd, "inputs")
	choice := func(name string, want ...string) {
		_, in := get(inputs, name)
		_, typ := get(in, "type")
		_, opts := get(in, "options")
		if typ == nil || typ.Value != "choice" {
			t.Errorf("rollback.yml: input %s must be type: choice", name)
			return
		}
		var got []string
		for _, o := range items(opts) {
			got = append(got, o.Value)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("rollback.yml: input %s options %v lack %q", name, got, w)
			}
		}
	}
	choice("service", "all", "api", "worker", "dlq")
	choice("target", "last-completed", "revision", "digest")
	for _, name := range []string{"value", "reason"} {
		if k, _ := get(inputs, name); k == nil {
			t.Errorf("rollback.yml: no input %s", name)
		}
	}
	_, reason := get(inputs, "reason")
	if _, req := get(reason, "required"); req == nil || req.Value != "true" {
		t.Errorf("rollback.yml: reason must be required")
	}

	rj := jobsUsing(wf, "./actions/rollback")
	if len(rj) != 1 {
		t.Fatalf("rollback.yml: want one job using ./actions/rollback, got %v", rj)
	}
	requireProductionLock(t, "rollback.yml", wf, rj[0])
	requireDroppedReport(t, "rollback.yml", wf, rj[0])
	if g, _ := jobConcurrency(job(deploy, jobsUsing(deploy, "./actions/deploy")[0])); g != "production" {
		t.Errorf("deploy.yml's deploy job must share rollback's group production, has %q", g)
	}
	// The job builds ./actions/rollback from the dispatched ref and gets the
	// deploy role: only main's code may.
	if _, cond := get(job(wf, rj[0]), "if"); cond == nil || !regexp.MustCompile(`^\$\{\{\s*github\.ref\s*==\s*'refs/heads/main'\s*\}\}$`).MatchString(strings.TrimSpace(cond.Value)) {
		t.Errorf("rollback.yml: job %s must run only from main: if: ${{ github.ref == 'refs/heads/main' }}", rj[0])
	}
	if env := environmentName(job(wf, rj[0])); env != "production" {
		t.Errorf("rollback.yml: environment = %q, want production (deploy's protection rules)", env)
	}
	requireSummaryStep(t, "rollback.yml", job(wf, rj[0]), "VERDICTS", "REASON")
}

func TestPolicyCheckWorkflowRunsOnPullRequestsWithoutAWS(t *testing.T) {
	wf := loadWorkflow(t, "policy-check.yml")
	_, on := get(wf, "on")
	_, pr := get(on, "pull_request")
	if len(pairs(on)) != 1 || pr == nil {
		t.Fatalf("policy-check.yml: want on: pull_request only")
	}
	_, paths := get(pr, "paths")
	var got []string
	for _, p := range items(paths) {
		got = append(got, p.Value)
	}
	for _, w := range []string{"infra/**", "policies/**", "services/**", "actions/**"} {
		if !slices.Contains(got, w) {
			t.Errorf("policy-check.yml: paths %v lack %s", got, w)
		}
	}
	if js := jobsUsing(wf, "aws-actions/configure-aws-credentials"); len(js) > 0 {
		t.Errorf("policy-check.yml: jobs %v take AWS credentials; pull requests get none", js)
	}
	checks := jobsUsing(wf, "./actions/policy-check")
	uploads := jobsUsing(wf, "github/codeql-action/upload-sarif")
	if len(checks) != 1 || !slices.Equal(checks, uploads) {
		t.Fatalf("policy-check.yml: want one job running ./actions/policy-check and uploading its SARIF, got %v and %v", checks, uploads)
	}
	j := job(wf, checks[0])
	_, steps := get(j, "steps")
	var sarifIn, sarifUp string
	for _, st := range items(steps) {
		_, u := get(st, "uses")
		_, with := get(st, "with")
		switch {
		case u == nil:
		case u.Value == "./actions/policy-check":
			_, f := get(with, "format")
			if f == nil || f.Value != "github" {
				t.Errorf("policy-check.yml: format must be github, for annotations on the diff")
			}
			if _, s := get(with, "sarif-file"); s != nil {
				sarifIn = s.Value
			}
		case strings.HasPrefix(u.Value, "github/codeql-action/upload-sarif@"):
			if _, s := get(with, "sarif_file"); s != nil {
				sarifUp = s.Value
			}
			if _, cond := get(st, "if"); cond == nil || !(strings.Contains(cond.Value, "always()") || strings.Contains(cond.Value, "!cancelled()")) {
				t.Errorf("policy-check.yml: the SARIF must be uploaded when the check fails (if: !cancelled())")
			}
		}
	}
	if sarifIn == "" || sarifIn != sarifUp {
		t.Errorf("policy-check.yml: the SARIF the check writes (%q) is not the one uploaded (%q)", sarifIn, sarifUp)
	}
}

func TestCIWorkflowTestsAndLintsPullRequests(t *testing.T) {
	wf := loadWorkflow(t, "ci.yml")
	_, on := get(wf, "on")
	if k, _ := get(on, "pull_request"); k == nil {
		t.Errorf("ci.yml: must run on pull_request")
	}
	if k, _ := get(on, "workflow_call"); k == nil {
		t.Errorf("ci.yml: deploy.yml calls it as its test job, so it needs workflow_call")
	}
	var scripts []string
	walkScalars(wf, func(s *yaml.Node) { scripts = append(scripts, s.Value) })
	all := strings.Join(scripts, "\n")
	for _, want := range []string{".ci/run", "actionlint@v1.7.12", "go vet"} {
		if !strings.Contains(all, want) {
			t.Errorf("ci.yml: nothing runs %s", want)
		}
	}
}
