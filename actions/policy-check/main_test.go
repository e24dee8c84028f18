package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func tfDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const overPrivileged = `resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r.id
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["dynamodb:*"], Resource = "*" }] })
}
`

func TestExitCodes(t *testing.T) {
	clean := tfDir(t, `resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r.id
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["sqs:SendMessage"], Resource = "arn:aws:sqs:us-east-1:1:q" }] })
}
`)
	bad := tfDir(t, overPrivileged)
	broken := tfDir(t, "resource \"aws_iam_role\" \"r\" {\n  name = \n}\n")
	cases := []struct {
		name string
		args []string
		want int
		err  string
	}{
		{"clean", []string{clean}, 0, ""},
		{"findings", []string{bad}, 1, ""},
		{"unparseable input with its position", []string{broken}, 2, "main.tf:2:"},
		{"no directory", nil, 2, "give at least one"},
		{"bad format", []string{"--format", "xml", clean}, 2, "want text, json"},
		{"missing contract file", []string{"--contract", "/nonexistent.hcl", clean}, 2, "nonexistent.hcl"},
		{"flags after directories", []string{bad, "--format", "json"}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			got := run(context.Background(), tc.args, env(nil), &out, &errb)
			if got != tc.want || !strings.Contains(errb.String(), tc.err) {
				t.Errorf("exit %d (stderr %q), want %d with %q", got, errb.String(), tc.want, tc.err)
			}
		})
	}
}

func TestJSONFindingPointsAtTheActionString(t *testing.T) {
	dir := tfDir(t, overPrivileged)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--format=json", dir}, env(nil), &out, os.Stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	var fs []struct {
		Rule   string `json:"rule"`
		File   string `json:"file"`
		Line   int    `json:"line"`
		Column int    `json:"column"`
		Role   string `json:"role"`
	}
	if err := json.Unmarshal(out.Bytes(), &fs); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Rule == "IAM001" && filepath.Base(f.File) == "main.tf" && f.Line == 4 && f.Column == 92 && f.Role == "aws_iam_role.r" {
			return
		}
	}
	t.Errorf("want IAM001 at main.tf:4:92 for aws_iam_role.r, got %+v", fs)
}

// The action passes its inputs as INPUT_* variables, the way action.yml
// maps them, and writes annotations, a summary and SARIF.
func TestRunsAsAnActionFromInputs(t *testing.T) {
	dir := tfDir(t, overPrivileged)
	tmp := t.TempDir()
	e := map[string]string{
		"INPUT_DIRECTORIES":   dir,
		"INPUT_FORMAT":        "github",
		"INPUT_SARIF_FILE":    filepath.Join(tmp, "out.sarif"),
		"GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary.md"),
		"GITHUB_OUTPUT":       filepath.Join(tmp, "output"),
		"GITHUB_WORKSPACE":    filepath.Dir(dir),
	}
	var out bytes.Buffer
	if code := run(context.Background(), nil, env(e), &out, os.Stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), "::error ") || !strings.Contains(out.String(), "file="+filepath.Base(dir)+"/main.tf,line=4") {
		t.Errorf("annotations: %s", out.String())
	}
	for _, f := range []string{"out.sarif", "summary.md", "output"} {
		if b, err := os.ReadFile(filepath.Join(tmp, f)); err != nil || len(b) == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}

func TestTheRepositoryPassesItsOwnCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the services")
	}
	repo := filepath.Join("..", "..")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--code", filepath.Join(repo, "services"), filepath.Join(repo, "infra", "environments", "production")}, env(nil), &out, &errb)
	if code != 0 {
		t.Errorf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, env(nil), &out, &errb); code != 0 {
		t.Errorf("--help exit %d, want 0", code)
	}
	if !strings.Contains(errb.String(), "-modules-dir") {
		t.Errorf("usage does not list the flags: %s", errb.String())
	}
}

func TestEmptyDirectoryExitsTwo(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{t.TempDir()}, env(nil), &out, &errb); code != 2 || !strings.Contains(errb.String(), "no Terraform files") {
		t.Errorf("exit %d (%s), want 2 naming the missing Terraform files", code, errb.String())
	}
}
