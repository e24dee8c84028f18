package actions_test

// What gates production, read from the workflows and the Terraform: which
// job may assume which role, the trust policies that enforce it, the
// production lock, and the supply chain (pins, lock files, tool versions).

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/conveyor-dev/conveyor/actions/internal/workflowcheck"
	"github.com/conveyor-dev/conveyor/internal/terraformrc"
)

func loadRepo(t *testing.T) *workflowcheck.Repo {
	t.Helper()
	repo, findings, err := workflowcheck.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Fatalf("%s", f)
	}
	if len(repo.Workflows) == 0 {
		t.Fatal("no workflows under ../.github/workflows")
	}
	return repo
}

// roleGate says in which GitHub environment each role variable may be used:
// the role's trust policy admits only that environment's subject (or, for
// "", only the main branch's), so a job elsewhere fails to assume it, and a
// job that could assume it without the environment's reviewers would make
// the environment gate nothing.
var roleGate = map[string]string{
	"AWS_BUILD_ROLE_ARN":     "",
	"AWS_DEPLOY_ROLE_ARN":    "production",
	"AWS_BOOTSTRAP_ROLE_ARN": "bootstrap",
}

var roleVarRe = regexp.MustCompile(`^\$\{\{\s*vars\.([A-Za-z_]\w*)\s*\}\}$`)

func TestEachJobAssumesTheRoleOfItsGate(t *testing.T) {
	repo := loadRepo(t)
	seen := map[string]bool{}
	for _, file := range slices.Sorted(maps.Keys(repo.Workflows)) {
		wf := repo.Workflows[file]
		for _, j := range wf.Jobs {
			env := environmentName(j.Node)
			for _, s := range j.Steps {
				u := s.Uses()
				if u == nil || !strings.HasPrefix(u.Value, "aws-actions/configure-aws-credentials@") {
					continue
				}
				_, with := get(s.Node, "with")
				_, role := get(with, "role-to-assume")
				m := roleVarRe.FindStringSubmatch(strings.TrimSpace(valueOf(role)))
				if m == nil {
					t.Errorf("%s: job %s: role-to-assume %q is not one vars.NAME", file, j.Name.Value, valueOf(role))
					continue
				}
				want, known := roleGate[m[1]]
				switch {
				case !known:
					t.Errorf("%s: job %s assumes vars.%s, which is none of the gated roles %v", file, j.Name.Value, m[1], slices.Sorted(maps.Keys(roleGate)))
				case env != want:
					t.Errorf("%s: job %s assumes %s in environment %q; its trust policy admits only environment %q (\"\" = main branch, no environment)", file, j.Name.Value, m[1], env, want)
				}
				seen[m[1]] = true
			}
			// A job in production changes production: it holds the lock.
			if env == "production" {
				if g, cancel := jobConcurrency(j.Node); g != "production" || cancel != "false" {
					t.Errorf("%s: job %s runs in production without the production lock (concurrency group production, cancel-in-progress false)", file, j.Name.Value)
				}
			}
		}
	}
	for role := range roleGate {
		if !seen[role] {
			t.Errorf("no workflow assumes %s: the gate table is stale", role)
		}
	}
}

// TestWorkflowsThatChangeProductionRunFromMainOnly: a workflow_dispatch can
// name any branch, and the job builds the actions from that branch.
func TestWorkflowsThatChangeProductionRunFromMainOnly(t *testing.T) {
	repo := loadRepo(t)
	mainOnly := regexp.MustCompile(`^\$\{\{\s*github\.ref\s*==\s*'refs/heads/main'\s*\}\}$`)
	for _, file := range slices.Sorted(maps.Keys(repo.Workflows)) {
		wf := repo.Workflows[file]
		_, on := get(wf.Root, "on")
		if k, _ := get(on, "workflow_dispatch"); k == nil {
			continue
		}
		for _, j := range wf.Jobs {
			if environmentName(j.Node) == "" {
				continue
			}
			// The job itself, or every job it needs, runs only from main.
			guarded := false
			for _, name := range append([]string{j.Name.Value}, slices.Sorted(maps.Keys(allNeeds(wf.Root, j.Name.Value)))...) {
				if _, cond := get(wf.Job(name).Node, "if"); cond != nil && mainOnly.MatchString(strings.TrimSpace(cond.Value)) {
					guarded = true
				}
			}
			if !guarded {
				t.Errorf("%s: job %s (environment %s) can be dispatched from any branch: if: ${{ github.ref == 'refs/heads/main' }}", file, j.Name.Value, environmentName(j.Node))
			}
		}
	}
}

// reviewedPins are the releases the supply-chain review read (each SHA is
// the tag's commit in the action's repository, and every input the
// workflows pass exists in that commit's action.yml). Dependabot proposes
// updates; a change here is a new review.
var reviewedPins = map[string]string{
	"actions/checkout":                      "3d3c42e5aac5ba805825da76410c181273ba90b1 v7.0.1",
	"actions/setup-go":                      "b7ad1dad31e06c5925ef5d2fc7ad053ef454303e v7.0.0",
	"aws-actions/configure-aws-credentials": "e6de054238d6b7531b4efff3b6587d9aade6a06c v6.2.3",
	"hashicorp/setup-terraform":             "dfe3c3f87815947d99a8997f908cb6525fc44e9e v4.0.1",
	"github/codeql-action/upload-sarif":     "8aad20d150bbac5944a9f9d289da16a4b0d87c1e v4.36.2",
}

func TestThirdPartyActionsAreTheReviewedReleases(t *testing.T) {
	repo := loadRepo(t)
	for _, file := range slices.Sorted(maps.Keys(repo.Workflows)) {
		for _, j := range repo.Workflows[file].Jobs {
			for _, s := range j.Steps {
				u := s.Uses()
				if u == nil || strings.HasPrefix(u.Value, "./") {
					continue
				}
				name, sha, _ := strings.Cut(u.Value, "@")
				want, ok := reviewedPins[name]
				if !ok {
					t.Errorf("%s:%d: %s is not a reviewed action (reviewedPins)", file, u.Line, name)
					continue
				}
				got := sha + " " + strings.TrimSpace(strings.TrimPrefix(u.LineComment, "#"))
				if got != want {
					t.Errorf("%s:%d: %s@%s, want %s", file, u.Line, name, got, want)
				}
			}
		}
	}
}

// TestTerraformInitUsesTheCommittedLockFile: every root has a lock file, and
// every terraform init in a workflow refuses to change it.
func TestTerraformInitUsesTheCommittedLockFile(t *testing.T) {
	roots, _ := filepath.Glob(filepath.Join("..", "infra", "environments", "*"))
	if len(roots) == 0 {
		t.Fatal("no Terraform roots under infra/environments")
	}
	versions := map[string]string{}
	lockVersion := regexp.MustCompile(`(?m)provider "registry.terraform.io/hashicorp/aws" \{\s*version\s*=\s*"([^"]+)"`)
	for _, root := range roots {
		b, err := os.ReadFile(filepath.Join(root, ".terraform.lock.hcl"))
		if err != nil {
			t.Errorf("%s: no .terraform.lock.hcl committed: terraform init would pick the provider afresh (README, \"Terraform provider lock files\")", root)
			continue
		}
		m := lockVersion.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s/.terraform.lock.hcl locks no hashicorp/aws version", root)
			continue
		}
		versions[filepath.Base(root)] = string(m[1])
	}
	if vs := slices.Compact(slices.Sorted(maps.Values(versions))); len(vs) > 1 {
		t.Errorf("the roots lock different aws provider versions: %v", versions)
	}

	repo := loadRepo(t)
	initRe := regexp.MustCompile(`terraform\s+(-chdir=\S+\s+)?init\b[^\n]*`)
	for _, file := range slices.Sorted(maps.Keys(repo.Workflows)) {
		wf := repo.Workflows[file]
		_, wfEnv := get(wf.Root, "env")
		for _, j := range wf.Jobs {
			_, jobEnv := get(j.Node, "env")
			for _, s := range j.Steps {
				_, run := get(s.Node, "run")
				_, stepEnv := get(s.Node, "env")
				for _, cmd := range initRe.FindAllString(valueOf(run), -1) {
					if strings.Contains(cmd, "-lockfile=readonly") {
						continue
					}
					readonly := false
					for _, env := range []*yaml.Node{stepEnv, jobEnv, wfEnv} {
						if _, v := get(env, "TF_CLI_ARGS_init"); v != nil {
							readonly = strings.Contains(v.Value, "-lockfile=readonly")
							break
						}
					}
					if !readonly {
						t.Errorf("%s: job %s: %q may rewrite the lock file: add -lockfile=readonly (or set it in TF_CLI_ARGS_init)", file, j.Name.Value, cmd)
					}
				}
			}
		}
	}
}

// TestBootstrapAndDeployGiveTerraformTheSameInputs: the two workflows plan
// the same root; an input set in one and not the other is a plan that
// differs between the first deploy and every later one.
func TestBootstrapAndDeployGiveTerraformTheSameInputs(t *testing.T) {
	tfEnv := func(name string) map[string]string {
		_, env := get(loadWorkflow(t, name), "env")
		out := map[string]string{}
		for _, kv := range pairs(env) {
			if strings.HasPrefix(kv.K.Value, "TF_") {
				out[kv.K.Value] = kv.V.Value
			}
		}
		return out
	}
	d, b := tfEnv("deploy.yml"), tfEnv("bootstrap.yml")
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if b[k] != d[k] {
			t.Errorf("%s: deploy.yml %q, bootstrap.yml %q", k, d[k], b[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := d[k]; !ok {
			t.Errorf("%s is set in bootstrap.yml only", k)
		}
	}
	for _, want := range []string{"TF_VAR_certificate_arn", "TF_VAR_image_tag", "TF_VAR_github_repository", "TF_VAR_state_bucket", "TF_CLI_ARGS_init"} {
		if _, ok := d[want]; !ok {
			t.Errorf("deploy.yml sets no %s", want)
		}
	}
	// The task definitions Terraform writes name this run's images, which
	// build-push pushed under the commit's tag before any plan.
	if d["TF_VAR_image_tag"] != "${{ github.sha }}" {
		t.Errorf("TF_VAR_image_tag = %q, want ${{ github.sha }} (build-push's revision)", d["TF_VAR_image_tag"])
	}
}

// TestBootstrapOrdersRepositoriesImagesServicesDeploy: the services never
// name an image that is not pushed yet.
func TestBootstrapOrdersRepositoriesImagesServicesDeploy(t *testing.T) {
	wf := loadWorkflow(t, "bootstrap.yml")
	order := []string{"foundation", "images", "services", "deploy"}
	for i, name := range order {
		if job(wf, name) == nil {
			t.Fatalf("bootstrap.yml: no job %s", name)
		}
		for _, before := range order[:i] {
			if !allNeeds(wf, name)[before] {
				t.Errorf("bootstrap.yml: job %s must need %s", name, before)
			}
		}
	}
	var foundation []string
	_, steps := get(job(wf, "foundation"), "steps")
	for _, st := range items(steps) {
		_, run := get(st, "run")
		foundation = append(foundation, valueOf(run))
	}
	script := strings.Join(foundation, "\n")
	if !strings.Contains(script, "-target=module.ecr") || !strings.Contains(script, "-target=module.github_oidc.aws_iam_role_policy.build") {
		t.Errorf("bootstrap.yml: foundation must apply only the repositories and the build role (-target), got:\n%s", script)
	}
	if strings.Contains(script, "-target=module.api") || strings.Contains(script, "-target=module.service") {
		t.Errorf("bootstrap.yml: foundation must not create services before the images exist")
	}
	if jobsUsing(wf, "./actions/build-push")[0] != "images" || jobsUsing(wf, "./actions/deploy")[0] != "deploy" {
		t.Errorf("bootstrap.yml: images must run build-push and deploy must run the deploy action")
	}
}

// TestToolVersionsArePinnedOnce: moto and Terraform are installed by version,
// the same in CI's workflow and in scripts/tools.sh (which .ci/run and the
// Makefile use).
func TestToolVersionsArePinnedOnce(t *testing.T) {
	tools, err := os.ReadFile(filepath.Join("..", "scripts", "tools.sh"))
	if err != nil {
		t.Fatal(err)
	}
	version := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(tools)
		if m == nil {
			t.Fatalf("scripts/tools.sh sets no %s", name)
		}
		return string(m[1])
	}
	moto, terraform := version("MOTO_VERSION"), version("TERRAFORM_VERSION")
	if version("HC_INSTALL_VERSION") != "v0.10.0" {
		t.Errorf("scripts/tools.sh: hc-install %s, want v0.10.0", version("HC_INSTALL_VERSION"))
	}
	ci, err := os.ReadFile(filepath.Join("..", ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "'moto[server]=="+moto+"'") {
		t.Errorf("ci.yml does not install moto[server]==%s (scripts/tools.sh's MOTO_VERSION)", moto)
	}
	repo := loadRepo(t)
	for _, file := range slices.Sorted(maps.Keys(repo.Workflows)) {
		for _, j := range repo.Workflows[file].Jobs {
			for _, s := range j.Steps {
				if u := s.Uses(); u == nil || !strings.HasPrefix(u.Value, "hashicorp/setup-terraform@") {
					continue
				}
				_, with := get(s.Node, "with")
				if _, v := get(with, "terraform_version"); valueOf(v) != terraform {
					t.Errorf("%s: job %s sets Terraform up at %q, scripts/tools.sh at %s", file, j.Name.Value, valueOf(v), terraform)
				}
			}
		}
	}
	run, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`pip3? install\s+["']?moto`).Match(run) {
		t.Errorf(".ci/run installs moto itself; scripts/tools.sh installs the pinned version")
	}
	gomod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^toolchain go1\.\d+\.\d+$`).Match(gomod) {
		t.Errorf("go.mod has no toolchain line: setup-go would install the go line's .0 release")
	}
}

func TestDependabotCoversEveryEcosystem(t *testing.T) {
	p := filepath.Join("..", ".github", "dependabot.yml")
	n, f := workflowcheck.LoadFile(p, ".github/dependabot.yml")
	if f != nil {
		t.Fatalf("%s", f)
	}
	dirs := map[string][]string{}
	_, updates := get(n, "updates")
	for _, u := range items(updates) {
		_, eco := get(u, "package-ecosystem")
		_, dir := get(u, "directory")
		_, list := get(u, "directories")
		if dir != nil {
			dirs[valueOf(eco)] = append(dirs[valueOf(eco)], dir.Value)
		}
		for _, d := range items(list) {
			dirs[valueOf(eco)] = append(dirs[valueOf(eco)], d.Value)
		}
	}
	for _, eco := range []string{"github-actions", "gomod", "terraform"} {
		if len(dirs[eco]) == 0 {
			t.Errorf("dependabot.yml: no %s updates", eco)
		}
	}
	roots, _ := filepath.Glob(filepath.Join("..", "infra", "environments", "*", ".terraform.lock.hcl"))
	for _, lock := range roots {
		d := "/" + filepath.ToSlash(strings.TrimPrefix(filepath.Dir(lock), ".."+string(filepath.Separator)))
		if !slices.Contains(dirs["terraform"], d) {
			t.Errorf("dependabot.yml: terraform directories %v lack %s, which has a lock file", dirs["terraform"], d)
		}
	}
}

// TestOIDCTrustAdmitsOnlyTheGate plans infra/modules/github-oidc and reads
// the trust policies Terraform would write: the build role admits only the
// main branch's subject, the deploy role only the production environment's,
// so a job without the environment cannot assume the deploy role and a job
// in it cannot push images. A branch subject given as a deploy subject is
// refused by the module's validation.
func TestOIDCTrustAdmitsOnlyTheGate(t *testing.T) {
	if testing.Short() {
		t.Skip("plans Terraform (about half a minute)")
	}
	tf := lookTool(t, "terraform", "make tools (scripts/tools.sh installs Terraform)")
	rc, err := terraformrc.Write(t.TempDir())
	if err != nil {
		missingTool(t, "a Terraform provider mirror", err.Error())
	}
	module, err := filepath.Abs(filepath.Join("..", "infra", "modules", "github-oidc"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The provider never calls AWS: a plan of resources to create reads
	// nothing, and the skips keep configure from calling STS.
	root := `
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

variable "deploy_subjects" {
  type    = list(string)
  default = null
}

module "oidc" {
  source               = "` + filepath.ToSlash(module) + `"
  build_role_name      = "t-build"
  deploy_role_name     = "t-deploy"
  github_repository    = "acme/conveyor"
  deploy_subjects      = var.deploy_subjects
  create_oidc_provider = false
  oidc_provider_arn    = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  region               = "us-east-1"
  account_id           = "123456789012"
  ecs_cluster_arn      = "arn:aws:ecs:us-east-1:123456789012:cluster/t"
  ecs_service_arns     = ["arn:aws:ecs:us-east-1:123456789012:service/t/t-api"]
  task_definition_families = ["t-api"]
  ecr_repository_arns  = ["arn:aws:ecr:us-east-1:123456789012:repository/t/api"]
  pass_role_arns       = ["arn:aws:iam::123456789012:role/t-api-task"]
  state_bucket         = "t-state"
  state_key            = "t.tfstate"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(root), 0o644); err != nil {
		t.Fatal(err)
	}
	// The module's lock: the same provider the environments lock.
	lock, err := os.ReadFile(filepath.Join("..", "infra", "environments", "production", ".terraform.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".terraform.lock.hcl"), lock, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) ([]byte, error) {
		cmd := exec.Command(tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
		return cmd.CombinedOutput()
	}
	if out, err := run("init", "-input=false", "-lockfile=readonly", "-no-color"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	if out, err := run("plan", "-input=false", "-no-color", "-out=p.tfplan"); err != nil {
		t.Fatalf("terraform plan: %v\n%s", err, out)
	}
	out, err := run("show", "-json", "p.tfplan")
	if err != nil {
		t.Fatalf("terraform show: %v\n%s", err, out)
	}
	var plan struct {
		PlannedValues struct {
			RootModule struct {
				ChildModules []struct {
					Resources []struct {
						Address string         `json:"address"`
						Values  map[string]any `json:"values"`
					} `json:"resources"`
				} `json:"child_modules"`
			} `json:"root_module"`
		} `json:"planned_values"`
	}
	if err := json.Unmarshal(out, &plan); err != nil {
		t.Fatal(err)
	}
	trust := map[string]string{}
	attachments := 0
	for _, m := range plan.PlannedValues.RootModule.ChildModules {
		for _, r := range m.Resources {
			switch r.Address {
			case "module.oidc.aws_iam_role.build", "module.oidc.aws_iam_role.deploy":
				trust[strings.TrimPrefix(r.Address, "module.oidc.aws_iam_role.")], _ = r.Values["assume_role_policy"].(string)
			}
			if strings.HasPrefix(r.Address, "module.oidc.aws_iam_role_policy_attachment.") {
				attachments++
			}
		}
	}
	for role, want := range map[string]string{
		"build":  "repo:acme/conveyor:ref:refs/heads/main",
		"deploy": "repo:acme/conveyor:environment:production",
	} {
		var doc struct {
			Statement []struct {
				Effect    string
				Action    any
				Condition map[string]map[string]any
			}
		}
		if err := json.Unmarshal([]byte(trust[role]), &doc); err != nil {
			t.Fatalf("%s role trust policy %q: %v", role, trust[role], err)
		}
		if len(doc.Statement) != 1 {
			t.Fatalf("%s role: want one trust statement, got %s", role, trust[role])
		}
		st := doc.Statement[0]
		if len(st.Condition) != 1 || st.Condition["StringEquals"] == nil {
			t.Errorf("%s role: trust conditions %v, want StringEquals only (a StringLike would admit patterns)", role, st.Condition)
		}
		eq := st.Condition["StringEquals"]
		sub, _ := json.Marshal(eq["token.actions.githubusercontent.com:sub"])
		if string(sub) != `["`+want+`"]` && string(sub) != `"`+want+`"` {
			t.Errorf("%s role admits sub %s, want only %q", role, sub, want)
		}
		if eq["token.actions.githubusercontent.com:aud"] != "sts.amazonaws.com" {
			t.Errorf("%s role: aud %v, want sts.amazonaws.com", role, eq["token.actions.githubusercontent.com:aud"])
		}
	}
	if attachments != 0 {
		t.Errorf("the deploy role gets %d policy attachments by default; apply permissions must be asked for (apply_policy_arns)", attachments)
	}

	// A branch subject on the deploy role would let any job on main deploy
	// without the environment's reviewers.
	out, err = run("plan", "-input=false", "-no-color", `-var=deploy_subjects=["repo:acme/conveyor:ref:refs/heads/main"]`)
	if err == nil || !regexp.MustCompile(`would\s+bypass\s+the\s+environment`).Match(out) {
		t.Errorf("a branch subject for the deploy role must be refused, got %v:\n%s", err, out)
	}
}

func valueOf(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}
