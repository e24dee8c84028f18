package policycheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcontract"
	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
	tfjson "github.com/hashicorp/terraform-json"
)

var repo = filepath.Join("..", "..", "..")

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s:%d:%d %s %s %s", f.Range.Filename, f.Range.Start.Line, f.Range.Start.Column, f.Severity, f.Rule, f.Message)
	}
	return b.String()
}

func loadContract(t *testing.T, dir string) *iamcontract.Contract {
	t.Helper()
	c, err := iamcontract.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The repository's own infrastructure must satisfy its contract and its
// services' code, with no finding at all.
func TestInfraIsCleanAgainstContractAndCode(t *testing.T) {
	contract := loadContract(t, filepath.Join(repo, "policies"))
	var code *Code
	if !testing.Short() {
		var err error
		if code, err = LoadCode(filepath.Join(repo, "services")); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range []string{"production", "local"} {
		dir := filepath.Join(repo, "infra", "environments", env)
		all, stats, err := CheckDir(dir, contract, code, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Suppressed findings carry their reviewed reason in the source;
		// everything else must be clean.
		var fs []Finding
		for _, f := range Suppress(all) {
			if f.Suppressed == "" {
				fs = append(fs, f)
			}
		}
		if len(fs) > 0 {
			t.Errorf("%s: want no findings, got %d:%s", env, len(fs), describe(fs))
		}
		if stats.Roles < 7 {
			t.Errorf("%s: evaluated %d roles, want the 7 of the contract", env, stats.Roles)
		}
	}
}

// copyTree copies infra/ and policies/ (following symlinks) to a temp dir.
func copyTree(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, d := range []string{"infra", "policies"} {
		out, err := exec.Command("cp", "-rL", filepath.Join(repo, d), dst).CombinedOutput()
		if err != nil {
			t.Fatalf("copying %s: %v %s", d, err, out)
		}
	}
	return dst
}

// replaceOnce edits a file and returns the 1-based line and column where
// the new text's marker starts.
func replaceOnce(t *testing.T, path, old, new, marker string) (int, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Count(s, old) < 1 {
		t.Fatalf("%s does not contain %q; the seeded change needs updating", path, old)
	}
	at := strings.Index(s, old)
	s = strings.Replace(s, old, new, 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	i := at + strings.Index(new, marker)
	line := strings.Count(s[:i], "\n") + 1
	col := i - strings.LastIndex(s[:i], "\n")
	return line, col
}

func TestSeededOverPrivilegeIsCaughtAtTheRightLine(t *testing.T) {
	cases := []struct {
		name, file, old, new, marker, rule string
	}{
		{
			name:   "extra action in the environment's task role statements",
			file:   "infra/environments/production/main.tf",
			old:    `actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]`,
			new:    `actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]`,
			marker: `"dynamodb:DeleteItem"`, rule: "IAM009",
		},
		{
			name:   "wildcard in the execution role's module",
			file:   "infra/modules/ecs-service/main.tf",
			old:    `Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]`,
			new:    `Action   = ["ecr:BatchGetImage", "ecr:*"]`,
			marker: `"ecr:*"`, rule: "IAM001",
		},
		{
			name:   "deploy role widened to every service",
			file:   "infra/modules/github-oidc/main.tf",
			old:    `Resource = var.ecs_service_arns`,
			new:    `Resource = ["*"]`,
			marker: `"*"]`, rule: "IAM003",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyTree(t)
			line, col := replaceOnce(t, filepath.Join(root, tc.file), tc.old, tc.new, tc.marker)
			fs, _, err := CheckDir(filepath.Join(root, "infra", "environments", "production"), loadContract(t, filepath.Join(root, "policies")), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(root, tc.file)
			for _, f := range fs {
				if f.Rule == tc.rule && f.Severity == policyrules.Error && f.Range.Filename == want && f.Range.Start.Line == line && f.Range.Start.Column == col {
					return
				}
			}
			t.Errorf("want %s error at %s:%d:%d, got:%s", tc.rule, tc.file, line, col, describe(fs))
		})
	}
}

func TestGenericRulesRunWithoutAContract(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "aws_iam_policy" "p" {
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] })
}
`), 0o644)
	fs, _, err := CheckDir(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, f := range fs {
		rules[f.Rule] = true
	}
	if !rules["IAM001"] || !rules["IAM003"] || len(rules) != 2 {
		t.Errorf("want wildcard and resource-star findings only, got:%s", describe(fs))
	}
	if FindContract(dir) != "" {
		t.Error("a temp dir has no contract above it")
	}
	if FindContract(filepath.Join(repo, "infra", "environments", "production")) == "" {
		t.Error("the repository's policies/ must be found from infra/environments/production")
	}
}

func TestCheckPlanChecksTheExactValues(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	contract := loadContract(t, filepath.Join(repo, "policies"))
	fs := CheckPlan(&plan, contract)
	has := func(rule string, sev policyrules.Severity, file, text string) bool {
		for _, f := range fs {
			if f.Rule == rule && f.Severity == sev && f.Range.Filename == file && strings.Contains(f.Message, text) {
				return true
			}
		}
		return false
	}
	if !has("IAM009", policyrules.Error, `module.service["api"].aws_iam_role_policy.task.policy`, "dynamodb:scan") {
		t.Errorf("the plan's dynamodb:Scan is outside the contract:%s", describe(fs))
	}
	if !has("IAM003", policyrules.Error, `module.service["api"].aws_iam_role_policy.task.policy`, `"*"`) {
		t.Errorf(`sqs:SendMessage on "*" must be flagged:%s`, describe(fs))
	}
	if !has("IAM008", policyrules.Warning, `module.service["api"].aws_iam_role_policy.unknown.policy`, "not known until apply") {
		t.Errorf("a policy unknown at plan time is a warning:%s", describe(fs))
	}
}

// On a fresh environment every task role policy embeds ARNs the same apply
// creates, so the plan cannot show it: the deploy must not be blocked by
// "contract allows X but the role is not granted it" for grants that are
// merely pending, while the unknown policy itself stays visible (IAM008).
func TestCheckPlanDoesNotCallPendingPoliciesMissingGrants(t *testing.T) {
	const fresh = `{"format_version":"1.2","planned_values":{"root_module":{"child_modules":[{"address":"module.worker","resources":[
	 {"address":"module.worker.aws_iam_role.task","mode":"managed","type":"aws_iam_role","name":"task","values":{"name":"conveyor-worker-task"}},
	 {"address":"module.worker.aws_iam_role_policy.task","mode":"managed","type":"aws_iam_role_policy","name":"task","values":{"role":"conveyor-worker-task"}}]}]}}}`
	var plan tfjson.Plan
	if err := json.Unmarshal([]byte(fresh), &plan); err != nil {
		t.Fatal(err)
	}
	fs := CheckPlan(&plan, loadContract(t, filepath.Join(repo, "policies")))
	pending := false
	for _, f := range fs {
		if f.Role != "module.worker.aws_iam_role.task" && f.Range.Filename != "module.worker.aws_iam_role_policy.task.policy" {
			continue
		}
		if f.Severity == policyrules.Error {
			t.Errorf("a pending policy must not be an error: %s %s", f.Rule, f.Message)
		}
		if f.Rule == "IAM008" && strings.Contains(f.Message, "not known until apply") {
			pending = true
		}
	}
	if !pending {
		t.Errorf("the pending policy must be reported as IAM008:%s", describe(fs))
	}
}
