package tfeval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzEvaluate: no configuration panics or hangs the evaluator, and a file
// that does not parse is reported with its position.
func FuzzEvaluate(f *testing.F) {
	seeds := []string{
		`resource "aws_iam_role" "r" { name = "r" }
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r.id
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:*"], Resource = "*" }] })
}`,
		`variable "x" { default = ["a", "b"] }
locals { y = { for k, v in var.x : v => k } }
data "aws_iam_policy_document" "d" {
  dynamic "statement" {
    for_each = local.y
    content { actions = ["sqs:${statement.key}"] }
  }
}
resource "aws_iam_policy" "p" { policy = data.aws_iam_policy_document.d.json }`,
		`module "m" { source = "./" }
locals { a = local.b
 b = local.a }
output "o" { value = local.a[0].x[*].y }`,
		"resource \"aws_iam_role_policy\" \"p\" {\n  count = 3\n  policy = <<EOF\n{\"Statement\": [${count.index}]}\nEOF\n}",
		`resource "x" "y" { for_each = toset(["a"]) z = each.value ? 1 : 0 }`,
		`resource "aws_iam_role" "r" {`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Evaluate(dir)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), "main.tf:") {
				t.Fatalf("error without a position: %v", err)
			}
		}
	})
}

// FuzzEvaluateJSON: no .tf.json file panics the JSON-syntax reader, and one
// that is not valid JSON is refused with its position.
func FuzzEvaluateJSON(f *testing.F) {
	for _, s := range []string{
		`{"resource":{"aws_iam_role":{"r":{"name":"r"}},"aws_iam_role_policy":{"p":{"role":"${aws_iam_role.r.name}","policy":"${jsonencode({Statement=[]})}"}}}}`,
		`{"data":{"aws_iam_policy_document":{"d":{"statement":[{"actions":["s3:*"],"resources":["*"]}],"dynamic":{"statement":{"for_each":"${[1]}","content":{"actions":["x:y"]}}}}}}}`,
		`{"variable":{"v":{"type":"list(object({a=optional(string,\"x\")}))","default":[{}]}},"locals":[{"a":"${var.v[0].a}"}]}`,
		`{"module":{"m":{"source":"./nowhere"}},"//":"comment"}`,
		`{"resource":`,
		`[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Evaluate(dir); err != nil && !strings.Contains(err.Error(), "main.tf.json:") {
			t.Fatalf("error without a position: %v", err)
		}
	})
}
