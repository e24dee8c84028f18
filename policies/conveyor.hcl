# The least-privilege contract: what each IAM role is meant to do.
#
# One block per role, named by the Terraform address of its aws_iam_role
# (the services are one module block with for_each: module.service["api"]).
# `code` names the service under services/ whose Go code runs with the role,
# so policy-check --code services compares the role with the AWS calls the
# code makes. Resources are Terraform references, resolved in the root
# module being checked (infra/environments/production), or ARN patterns.
# Each task role grants exactly the AWS calls services/catalog lists for its
# service; go test ./services/catalog/ compares them.

role "module.service[\"api\"].aws_iam_role.task" {
  code = "api"
  allow {
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [module.data.table_arn]
  }
  allow {
    actions   = ["sqs:SendMessage"]
    resources = [module.data.queue_arn]
  }
}

role "module.service[\"worker\"].aws_iam_role.task" {
  code = "worker"
  allow {
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.table_arn]
  }
  allow {
    # ChangeMessageVisibility is a written-down deviation from the design's
    # role table (catalog.Deviations):
    # visibility heartbeat for long tasks, visibility 0 on SIGTERM.
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [module.data.queue_arn]
  }
}

role "module.service[\"dlq\"].aws_iam_role.task" {
  code = "dlq"
  allow {
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.table_arn]
  }
  allow {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [module.data.dlq_arn]
  }
  # Deviations from the design's role table (issue 12): a dead letter whose task never
  # failed (hand-backs on SIGTERM, store errors, runs cut by a deploy) is
  # re-driven to the tasks queue instead of buried, and tasks stranded in
  # ACCEPTED (a crash between PutItem and SendMessage) are found through the
  # sparse pending index and queued, without the client.
  allow {
    actions   = ["dynamodb:Query"]
    resources = [module.data.pending_index_arn]
  }
  allow {
    actions   = ["sqs:SendMessage"]
    resources = [module.data.queue_arn]
  }
}

# Execution roles: ECS pulls the service's image and ships its logs.
# ecr:GetAuthorizationToken accepts only "*".

role "module.service[\"api\"].aws_iam_role.execution" {
  allow {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  allow {
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [module.ecr.repository_arns["api"]]
  }
  allow {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.service["api"].aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
}

role "module.service[\"worker\"].aws_iam_role.execution" {
  allow {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  allow {
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [module.ecr.repository_arns["worker"]]
  }
  allow {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.service["worker"].aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
}

role "module.service[\"dlq\"].aws_iam_role.execution" {
  allow {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  allow {
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [module.ecr.repository_arns["dlq"]]
  }
  allow {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.service["dlq"].aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
}

# The pipeline's GitHub OIDC roles, one per gate (infra/modules/github-oidc).
# build: jobs on main without an environment (build-push, policy-check): log in
# to ECR and push, read the Terraform state to plan.
role "module.github_oidc.aws_iam_role.build" {
  allow {
    # No resource type: "*" is its only form.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  allow {
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
      "ecr:DescribeImages", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
    ]
    resources = values(module.ecr.repository_arns)
  }
  allow {
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.state_bucket}"]
  }
  allow {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.state_bucket}/${var.state_key}"]
  }
}

# deploy: jobs in the production environment only (deploy, rollback): register
# task definitions, roll and watch the three services, hand their roles to
# ECS, read, write and lock the Terraform state. No ECR access: the images
# are pushed by build.
role "module.github_oidc.aws_iam_role.deploy" {
  allow {
    # Neither accepts a resource ARN. ListTaskDefinitions finds the revision
    # holding an image digest (rollback --to sha256:...).
    actions   = ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"]
    resources = ["*"]
  }
  allow {
    actions = ["ecs:RegisterTaskDefinition"]
    resources = [
      for s in ["api", "worker", "dlq"] :
      "arn:aws:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:task-definition/${var.name}-${s}:*"
    ]
  }
  allow {
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [module.service["api"].service_arn, module.service["worker"].service_arn, module.service["dlq"].service_arn]
  }
  allow {
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:aws:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:task/${element(split("/", module.cluster.arn), 1)}/*"]
  }
  allow {
    # Scoped by an ecs:cluster condition: Fargate tasks have no container
    # instance ARN to name.
    actions   = ["ecs:ListTasks"]
    resources = ["*"]
  }
  allow {
    actions = ["iam:PassRole"]
    resources = [
      module.service["api"].task_role_arn, module.service["api"].execution_role_arn,
      module.service["worker"].task_role_arn, module.service["worker"].execution_role_arn,
      module.service["dlq"].task_role_arn, module.service["dlq"].execution_role_arn,
    ]
  }
  allow {
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.state_bucket}"]
  }
  allow {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:aws:s3:::${var.state_bucket}/${var.state_key}", "arn:aws:s3:::${var.state_bucket}/${var.state_key}.tflock"]
  }
}

# VPC flow logs deliver to their own log group and nothing else.
role "module.network.aws_iam_role.flow" {
  allow {
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${module.network.aws_cloudwatch_log_group.flow.arn}:*"]
  }
}
