package tfeval

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// writeTree writes files (path -> content) under a temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// grants renders each role's elements as
// "ROLE EFFECT action|resource VALUE @file:line:col", file relative to dir.
func grants(t *testing.T, res *Result, dir string) []string {
	t.Helper()
	var out []string
	pos := func(s iampolicy.Str) string {
		f, err := filepath.Rel(dir, s.Range.Filename)
		if err != nil || strings.HasPrefix(f, "..") {
			f = s.Range.Filename
		}
		return fmt.Sprintf("@%s:%d:%d", f, s.Range.Start.Line, s.Range.Start.Column)
	}
	for _, r := range res.Roles {
		for _, d := range r.Documents {
			for _, st := range d.Policy.Statements {
				for _, a := range st.Action {
					out = append(out, fmt.Sprintf("%s %s action %s %s", r.Address, st.Effect.Value, a.Value, pos(a)))
				}
				for _, a := range st.Resource {
					out = append(out, fmt.Sprintf("%s %s resource %s %s", r.Address, st.Effect.Value, a.Value, pos(a)))
				}
			}
		}
	}
	for _, p := range res.Problems {
		out = append(out, "problem "+p.Message)
	}
	return out
}

func evaluate(t *testing.T, files map[string]string, root string) ([]string, *Result) {
	t.Helper()
	dir := writeTree(t, files)
	res, err := Evaluate(filepath.Join(dir, root))
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return grants(t, res, dir), res
}

func requireLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %q in:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}

func TestModuleInputFeedsADynamicStatementAndFindingsPointAtTheCaller(t *testing.T) {
	got, _ := evaluate(t, map[string]string{
		"env/main.tf": `module "data" {
  source = "../modules/data"
}

module "api" {
  source = "../modules/svc"
  statements = [
    { sid = "Table", actions = ["dynamodb:GetItem"], resources = [module.data.table_arn] },
  ]
}
`,
		"modules/data/main.tf": `resource "aws_dynamodb_table" "tasks" {
  name = "tasks"
}
output "table_arn" { value = aws_dynamodb_table.tasks.arn }
`,
		"modules/svc/main.tf": `variable "statements" {}
resource "aws_iam_role" "task" {
  name = "task"
}
data "aws_iam_policy_document" "task" {
  dynamic "statement" {
    for_each = var.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}
resource "aws_iam_role_policy" "task" {
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
`,
	}, "env")
	requireLines(t, got,
		"module.api.aws_iam_role.task Allow action dynamodb:GetItem @env/main.tf:8:33",
		"module.api.aws_iam_role.task Allow resource ${module.data.aws_dynamodb_table.tasks.arn} @env/main.tf:8:67",
	)
}

func TestCountForEachAndConditionals(t *testing.T) {
	got, _ := evaluate(t, map[string]string{
		"main.tf": `variable "enabled" { default = false }
variable "unknown_flag" {}
variable "queues" { default = { a = "qa", b = "qb" } }

resource "aws_iam_role" "r" { name = "r" }

resource "aws_iam_role_policy" "skipped" {
  count  = var.enabled ? 1 : 0
  role   = aws_iam_role.r.name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:DeleteBucket", Resource = "*" }] })
}

resource "aws_iam_role_policy" "counted" {
  count  = 2
  role   = aws_iam_role.r.name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:SendMessage", Resource = "arn:aws:sqs:us-east-1:1:q${count.index}" }] })
}

resource "aws_iam_role_policy" "each" {
  for_each = var.queues
  role     = aws_iam_role.r.name
  policy   = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:ReceiveMessage", Resource = "arn:aws:sqs:us-east-1:1:${each.value}" }] })
}

resource "aws_iam_role_policy" "branches" {
  role   = aws_iam_role.r.name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = var.unknown_flag ? "sqs:PurgeQueue" : "sqs:GetQueueUrl", Resource = "*" }] })
}
`,
	}, ".")
	requireLines(t, got,
		"aws_iam_role.r Allow resource arn:aws:sqs:us-east-1:1:q0 @main.tf:16:121",
		"aws_iam_role.r Allow resource arn:aws:sqs:us-east-1:1:q1 @main.tf:16:121",
		"aws_iam_role.r Allow resource arn:aws:sqs:us-east-1:1:qa @main.tf:22:126",
		"aws_iam_role.r Allow resource arn:aws:sqs:us-east-1:1:qb @main.tf:22:126",
		// unknown condition: both branches are checked
		"aws_iam_role.r Allow action sqs:PurgeQueue @main.tf:27:110",
		"aws_iam_role.r Allow action sqs:GetQueueUrl @main.tf:27:129",
	)
	for _, g := range got {
		if strings.Contains(g, "s3:DeleteBucket") {
			t.Errorf("count = 0 must be skipped: %s", g)
		}
	}
}

func TestSidMergeBothWays(t *testing.T) {
	got, _ := evaluate(t, map[string]string{
		"main.tf": `data "aws_iam_policy_document" "source" {
  statement {
    sid       = "Shared"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::source/*"]
  }
  statement {
    sid       = "OnlySource"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::source"]
  }
}

data "aws_iam_policy_document" "override" {
  statement {
    sid       = "Shared"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::override/*"]
  }
}

# The current document's Shared replaces the source's; the override's
# Shared replaces the current one.
data "aws_iam_policy_document" "current" {
  source_policy_documents = [data.aws_iam_policy_document.source.json]
  statement {
    sid       = "Shared"
    actions   = ["s3:DeleteObject"]
    resources = ["arn:aws:s3:::current/*"]
  }
}

data "aws_iam_policy_document" "merged" {
  source_policy_documents   = [data.aws_iam_policy_document.current.json]
  override_policy_documents = [data.aws_iam_policy_document.override.json]
}

resource "aws_iam_role" "current" { name = "current" }
resource "aws_iam_role" "merged" { name = "merged" }

resource "aws_iam_role_policy" "current" {
  role   = aws_iam_role.current.name
  policy = data.aws_iam_policy_document.current.json
}

resource "aws_iam_role_policy" "merged" {
  role   = aws_iam_role.merged.name
  policy = data.aws_iam_policy_document.merged.json
}
`,
	}, ".")
	requireLines(t, got,
		"aws_iam_role.current Allow action s3:DeleteObject @main.tf:28:18",
		"aws_iam_role.current Allow action s3:ListBucket @main.tf:9:18",
		"aws_iam_role.merged Allow action s3:PutObject @main.tf:17:18",
		"aws_iam_role.merged Allow action s3:ListBucket @main.tf:9:18",
	)
	for _, g := range got {
		if strings.HasPrefix(g, "aws_iam_role.current") && strings.Contains(g, "s3:GetObject") {
			t.Errorf("the current document's Sid must replace the source's: %s", g)
		}
		if strings.HasPrefix(g, "aws_iam_role.merged") && (strings.Contains(g, "s3:DeleteObject") || strings.Contains(g, "s3:GetObject")) {
			t.Errorf("the override's Sid must replace the current one: %s", g)
		}
	}
}

func TestHeredocStringAndFileJSONKeepTheirPositions(t *testing.T) {
	got, _ := evaluate(t, map[string]string{
		"main.tf": `variable "bucket_arn" { default = "arn:aws:s3:::b" }
resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy" "heredoc" {
  role   = aws_iam_role.r.name
  policy = <<EOF
{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["s3:GetObject"],
    "Resource": "${var.bucket_arn}/*"
  }]
}
EOF
}
resource "aws_iam_role_policy" "quoted" {
  role   = aws_iam_role.r.name
  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:PutObject\",\"Resource\":\"*\"}]}"
}
resource "aws_iam_policy" "file" {
  policy = file("${path.module}/policy.json")
}
resource "aws_iam_role_policy_attachment" "file" {
  role       = aws_iam_role.r.name
  policy_arn = aws_iam_policy.file.arn
}
resource "aws_iam_role_policy_attachment" "managed" {
  role       = aws_iam_role.r.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}
`,
		"policy.json": `{"Version": "2012-10-17",
 "Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}}
`,
	}, ".")
	requireLines(t, got,
		"aws_iam_role.r Allow action s3:GetObject @main.tf:10:16",
		"aws_iam_role.r Allow resource arn:aws:s3:::b/* @main.tf:11:17",
		"aws_iam_role.r Allow action s3:PutObject @main.tf:18:89",
		"aws_iam_role.r Allow action sqs:SendMessage @policy.json:2:45",
		// an AWS-managed policy's statements point at its ARN in the caller
		"aws_iam_role.r Allow action ecr:BatchGetImage @main.tf:29:16",
	)
}

func TestUnresolvableReferenceStaysVisible(t *testing.T) {
	got, res := evaluate(t, map[string]string{
		"main.tf": `variable "actions" {}
variable "role_name" {}
resource "aws_s3_bucket" "b" {}
resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r.name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = var.actions, Resource = "${aws_s3_bucket.b.arn}/*" }] })
}
resource "aws_iam_role_policy" "orphan" {
  role   = var.role_name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }] })
}
`,
	}, ".")
	requireLines(t, got,
		"aws_iam_role.r Allow resource ${aws_s3_bucket.b.arn}/* @main.tf:7:115",
	)
	var action iampolicy.Str
	for _, d := range res.Roles[0].Documents {
		action = d.Policy.Statements[0].Action[0]
	}
	if !action.Unknown || action.Value != "var.actions" || action.Range.Start.Line != 7 {
		t.Errorf("an action from a variable without a value must stay the symbol var.actions at line 7, got %+v", action)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "var.role_name") || res.Problems[0].Range.Start.Line != 10 {
		t.Errorf("a policy for an unknown role must be a problem at line 10, got %+v", res.Problems)
	}
}

func TestTfvarsLocalsAndFunctions(t *testing.T) {
	got, _ := evaluate(t, map[string]string{
		"main.tf": `variable "prefix" { default = "x" }
locals {
  base    = ["sqs:SendMessage"]
  actions = distinct(concat(local.base, [for a in ["ReceiveMessage", "SendMessage"] : "sqs:${a}"]))
  arn     = format("arn:aws:sqs:%s:%s:%s", "us-east-1", "1", var.prefix)
}
resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r.name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = local.actions, Resource = [lower(local.arn)] }] })
}
`,
		"terraform.tfvars": `prefix = "FromTfvars"
`,
	}, ".")
	requireLines(t, got,
		"aws_iam_role.r Allow action sqs:SendMessage @main.tf:3:14",
		"aws_iam_role.r Allow action sqs:ReceiveMessage @main.tf:4:87",
		"aws_iam_role.r Allow resource arn:aws:sqs:us-east-1:1:fromtfvars @main.tf:5:13",
	)
}

func TestParseErrorHasAPosition(t *testing.T) {
	dir := writeTree(t, map[string]string{"main.tf": "resource \"aws_iam_role\" \"r\" {\n  name = \n}\n"})
	_, err := Evaluate(dir)
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "main.tf:2:") {
		t.Fatalf("want a parse error at main.tf:2, got %v", err)
	}
}

func TestManagedPoliciesThroughPartitionAndDataSource(t *testing.T) {
	got, res := evaluate(t, map[string]string{
		"main.tf": `data "aws_partition" "current" {}
data "aws_iam_policy" "ro" {
  name = "AmazonEC2ContainerRegistryReadOnly"
}
resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy_attachment" "exec" {
  role       = aws_iam_role.r.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}
resource "aws_iam_policy" "copy" {
  policy = data.aws_iam_policy.ro.policy
}
resource "aws_iam_role_policy_attachment" "copy" {
  role       = aws_iam_role.r.name
  policy_arn = aws_iam_policy.copy.arn
}
resource "aws_iam_role_policy_attachment" "unknown" {
  role       = aws_iam_role.r.name
  policy_arn = "arn:aws:iam::aws:policy/NoSuchPolicy"
}
`,
	}, ".")
	requireLines(t, got,
		"aws_iam_role.r Allow action logs:PutLogEvents @main.tf:8:16",
		"aws_iam_role.r Allow action ecr:DescribeImageScanFindings @main.tf:11:12",
	)
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "NoSuchPolicy") {
		t.Errorf("an AWS-managed policy outside the snapshot must be a problem: %+v", res.Problems)
	}
}

// compact drops nulls as well as empty strings; tostring of an object is an
// error, so try() falls back and can() is false (the lambda module's
// trusted_entities); replace() fills placeholders inside a policy
// document's strings (the s3-bucket module's _S3_BUCKET_ARN_).
func TestConversionsCompactAndReplaceInADocument(t *testing.T) {
	got, _ := evaluate(t, map[string]string{
		"main.tf": `variable "entities" {
  default = ["lambda.amazonaws.com", { type = "AWS", identifiers = ["arn:aws:iam::1:root"] }]
}
locals {
  services = compact([for e in var.entities : try(tostring(e), null)])
  others   = [for e in var.entities : e.type if !can(tostring(e))]
}
data "aws_iam_policy_document" "p" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = ["_ARN_"]
  }
}
resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r.name
  policy = replace(data.aws_iam_policy_document.p.json, "_ARN_", "arn:aws:sqs:us-east-1:1:q")
}
resource "aws_iam_role_policy" "q" {
  role   = aws_iam_role.r.name
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = local.others, Resource = local.services }] })
}
`,
	}, ".")
	requireLines(t, got,
		"aws_iam_role.r Allow resource arn:aws:sqs:us-east-1:1:q @main.tf:11:18",
		"aws_iam_role.r Allow action sqs:SendMessage @main.tf:10:18",
		"aws_iam_role.r Allow action AWS @main.tf:2:47",
		"aws_iam_role.r Allow resource lambda.amazonaws.com @main.tf:2:14",
	)
	for _, l := range got {
		if strings.Contains(l, "problem") {
			t.Errorf("unexpected problem: %s", l)
		}
	}
}
