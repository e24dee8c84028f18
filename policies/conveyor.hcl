# The least-privilege contract: what each IAM role is meant to do.
#
# One block per role, named by the Terraform address of its aws_iam_role.
# `code` names the service under services/ whose Go code runs with the role,
# so policy-check --code services compares the role with the AWS calls the
# code makes. Resources are Terraform references, resolved in the root
# module being checked (infra/environments/production), or ARN patterns.
# The task roles follow notes/contract.md and services/internal/awscalls.

role "module.api.aws_iam_role.task" {
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

role "module.worker.aws_iam_role.task" {
  code = "worker"
  allow {
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.table_arn]
  }
  allow {
    # ChangeMessageVisibility is a written-down deviation from DESIGN.md:
    # visibility heartbeat for long tasks, visibility 0 on SIGTERM.
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [module.data.queue_arn]
  }
}

role "module.dlq.aws_iam_role.task" {
  code = "dlq"
  allow {
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.table_arn]
  }
  allow {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [module.data.dlq_arn]
  }
  # Deviations from DESIGN.md (issue 12): a dead letter whose task never
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

role "module.api.aws_iam_role.execution" {
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
    resources = ["${module.api.aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
}

role "module.worker.aws_iam_role.execution" {
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
    resources = ["${module.worker.aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
}

role "module.dlq.aws_iam_role.execution" {
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
    resources = ["${module.dlq.aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
}

# The pipeline's GitHub OIDC role: push images, register task definitions,
# roll and watch the three services, read and lock the Terraform state.
role "module.deploy_role.aws_iam_role.deploy" {
  allow {
    # Neither accepts a resource ARN.
    actions   = ["ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"]
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
    actions = ["ecs:RegisterTaskDefinition"]
    resources = [
      for s in ["api", "worker", "dlq"] :
      "arn:aws:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:task-definition/${var.name}-${s}:*"
    ]
  }
  allow {
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [module.api.service_arn, module.worker.service_arn, module.dlq.service_arn]
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
      module.api.task_role_arn, module.api.execution_role_arn,
      module.worker.task_role_arn, module.worker.execution_role_arn,
      module.dlq.task_role_arn, module.dlq.execution_role_arn,
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
