package iamcontract

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/tfeval"
)

func write(t *testing.T, name, src string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestResolveEvaluatesReferencesInTheRootModule(t *testing.T) {
	contract := write(t, "c.hcl", `role "aws_iam_role.r" {
  code = "api"
  allow {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.q.arn, "arn:aws:sqs:*:*:other"]
  }
}
`)
	tf := write(t, "main.tf", `resource "aws_sqs_queue" "q" {}`)
	c, err := Load(contract)
	if err != nil {
		t.Fatal(err)
	}
	src := tfeval.NewSources()
	mod, err := src.LoadModule(tf)
	if err != nil {
		t.Fatal(err)
	}
	roles := c.Resolve(tfeval.NewRoot(src, mod, nil))
	if len(roles) != 1 || roles[0].Code != "api" || roles[0].Range.Start.Line != 1 {
		t.Fatalf("roles %+v", roles)
	}
	res := roles[0].Allows[0].Resources
	if res[0].Value != "${aws_sqs_queue.q.arn}" || res[1].Value != "arn:aws:sqs:*:*:other" {
		t.Errorf("resources %q %q", res[0].Value, res[1].Value)
	}
	if a := roles[0].Allows[0].Actions[0]; a.Range.Start.Line != 4 || a.Range.Start.Column != 18 {
		t.Errorf("action at %d:%d, want 4:18", a.Range.Start.Line, a.Range.Start.Column)
	}
}

func TestBadContractsAreErrorsWithPositions(t *testing.T) {
	cases := map[string]string{
		"syntax":          "role \"x\" {\n  allow {\n",
		"unknown block":   "role \"x\" {\n  deny {\n  }\n}\n",
		"missing actions": "role \"x\" {\n  allow {\n    resources = [\"*\"]\n  }\n}\n",
		"duplicate role":  "role \"x\" {\n}\nrole \"x\" {\n}\n",
		"bad attribute":   "role \"x\" {\n  service = \"api\"\n}\n",
	}
	for name, src := range cases {
		_, err := Load(write(t, "c.hcl", src))
		var e *Error
		if !errors.As(err, &e) || e.Range.Start.Line < 1 || !strings.Contains(err.Error(), "c.hcl:") {
			t.Errorf("%s: want an error with a position, got %v", name, err)
		}
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("a directory without *.hcl must be an error")
	}
}

func TestTheRepositoryContractNamesEveryRole(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`module.service["api"].aws_iam_role.task`, `module.service["api"].aws_iam_role.execution`, `module.service["worker"].aws_iam_role.task`,
		`module.service["worker"].aws_iam_role.execution`, `module.service["dlq"].aws_iam_role.task`, `module.service["dlq"].aws_iam_role.execution`,
		"module.github_oidc.aws_iam_role.build", "module.github_oidc.aws_iam_role.deploy", "module.network.aws_iam_role.flow"}
	got := map[string]string{}
	for _, r := range c.Roles {
		got[r.Address] = r.Code
	}
	for _, w := range want {
		if _, ok := got[w]; !ok {
			t.Errorf("contract lacks %s", w)
		}
	}
	for _, svc := range []string{"api", "worker", "dlq"} {
		if got[`module.service["`+svc+`"].aws_iam_role.task`] != svc {
			t.Errorf("the %s task role must map to services/%s", svc, svc)
		}
	}
}
