"""Generates a Terraform corpus for bench/policycheck.sh: ROOTS root modules
of FILES files each, mixing clean and over-privileged IAM in every form the
checker reads (jsonencode, aws_iam_policy_document, heredoc JSON), plus
non-IAM resources for bulk. Deterministic (seeded)."""
import os
import random
import sys

out, roots, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)

CLEAN = [("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t{n}"),
         ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q{n}"),
         ("s3:GetObject", "arn:aws:s3:::bucket-{n}/*"),
         ("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:g{n}:*")]
BAD = [("s3:*", "arn:aws:s3:::bucket-{n}/*"),
       ("dynamodb:Get*", "arn:aws:dynamodb:us-east-1:123456789012:table/t{n}"),
       ("*", "*"),
       ("sqs:SendMessage", "*"),
       ("iam:PassRole", "*")]


def grant(n):
    a, r = rnd.choice(BAD if rnd.random() < 0.3 else CLEAN)
    return a, r.format(n=n)


def jsonencode(n):
    a, r = grant(n)
    return f"""resource "aws_iam_role" "r{n}" {{
  name               = "role-{n}"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "sts:AssumeRole", Principal = {{ Service = "ecs-tasks.amazonaws.com" }} }}] }})
}}

resource "aws_iam_role_policy" "p{n}" {{
  name = "p{n}"
  role = aws_iam_role.r{n}.id
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect   = "Allow"
      Action   = ["{a}"]
      Resource = ["{r}"]
    }}]
  }})
}}
"""


def document(n):
    a, r = grant(n)
    return f"""data "aws_iam_policy_document" "d{n}" {{
  statement {{
    actions   = ["{a}"]
    resources = ["{r}"]
  }}
}}

resource "aws_iam_policy" "p{n}" {{
  name   = "p{n}"
  policy = data.aws_iam_policy_document.d{n}.json
}}
"""


def heredoc(n):
    a, r = grant(n)
    return f"""resource "aws_iam_policy" "h{n}" {{
  name   = "h{n}"
  policy = <<POLICY
{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Effect": "Allow",
      "Action": "{a}",
      "Resource": "{r}"
    }}
  ]
}}
POLICY
}}
"""


def bulk(n):
    return f"""resource "aws_sqs_queue" "q{n}" {{
  name                    = "q{n}"
  sqs_managed_sse_enabled = true
}}

resource "aws_dynamodb_table" "t{n}" {{
  name         = "t{n}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {{
    name = "id"
    type = "S"
  }}
}}
"""


n = 0
for i in range(roots):
    d = os.path.join(out, f"root{i:03d}")
    os.makedirs(d, exist_ok=True)
    for j in range(files):
        n += 1
        body = rnd.choice([jsonencode, document, heredoc])(n) + bulk(n)
        with open(os.path.join(d, f"f{j:02d}.tf"), "w") as f:
            f.write(body)
