# The two roles GitHub Actions assumes through OIDC, one per gate:
#
#   build   jobs on the main branch without an environment (build-push,
#           policy-check): push images, read the Terraform state, plan.
#   deploy  jobs in the production environment only (deploy, rollback): register
#           task definitions, roll and watch the services, hand their roles to
#           ECS, write the state; and apply, when apply_policy_arns grants it.
#
# A job in an environment presents the subject repo:O/R:environment:E instead of
# its ref, so the environment's protection rules (deployment branches = main,
# required reviewers) are what stand between a push and the deploy role. IAM
# evaluates only the aud and sub claims of GitHub's tokens (it does not support
# custom claims such as job_workflow_ref), so a repository that customises its
# subject template to include job_workflow_ref lists those subjects in
# build_subjects and deploy_subjects.
# https://docs.github.com/en/actions/reference/security/oidc

resource "aws_iam_openid_connect_provider" "github" {
  count           = var.create_oidc_provider ? 1 : 0
  url             = var.oidc_url
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.oidc_thumbprints
  tags            = var.tags
}

locals {
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn
  oidc_host         = trimprefix(var.oidc_url, "https://")
  cluster_name      = element(split("/", var.ecs_cluster_arn), 1)
  state_object_arn  = "arn:aws:s3:::${var.state_bucket}/${var.state_key}"

  build_subjects  = var.build_subjects != null ? var.build_subjects : ["repo:${var.github_repository}:ref:refs/heads/main"]
  deploy_subjects = var.deploy_subjects != null ? var.deploy_subjects : ["repo:${var.github_repository}:environment:${var.deploy_environment}"]

  # Exact subjects only (StringEquals, never StringLike): a wildcard would let
  # another branch or environment in.
  trust = { for role, subjects in { build = local.build_subjects, deploy = local.deploy_subjects } : role => jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = local.oidc_provider_arn }
      Condition = {
        StringEquals = {
          "${local.oidc_host}:aud" = "sts.amazonaws.com"
          "${local.oidc_host}:sub" = subjects
        }
      }
    }]
  }) }
}

resource "aws_iam_role" "build" {
  name                 = var.build_role_name
  assume_role_policy   = local.trust.build
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "build" {
  name = var.build_role_name
  role = aws_iam_role.build.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # No resource type: "*" is its only form.
        Sid      = "EcrAuth"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      {
        Sid    = "EcrPush"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:CompleteLayerUpload",
          "ecr:DescribeImages",
          "ecr:InitiateLayerUpload",
          "ecr:PutImage",
          "ecr:UploadLayerPart",
        ]
        Resource = var.ecr_repository_arns
      },
      {
        Sid      = "TerraformStateList"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = ["arn:aws:s3:::${var.state_bucket}"]
        Condition = {
          StringEquals = { "s3:prefix" = [var.state_key] }
        }
      },
      {
        # Read only: the plan runs with -lock=false and never writes.
        Sid      = "TerraformStateRead"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [local.state_object_arn]
      },
    ]
  })
}

resource "aws_iam_role" "deploy" {
  name                 = var.deploy_role_name
  assume_role_policy   = local.trust.deploy
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "deploy" {
  name = var.deploy_role_name
  role = aws_iam_role.deploy.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        # Neither action has a resource type: "*" is their only form.
        # ListTaskDefinitions finds the revision holding a digest (rollback).
        Sid      = "TaskDefinitionRead"
        Effect   = "Allow"
        Action   = ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"]
        Resource = ["*"]
      },
      {
        Sid      = "EcsRegisterTaskDefinition"
        Effect   = "Allow"
        Action   = ["ecs:RegisterTaskDefinition"]
        Resource = [for f in var.task_definition_families : "arn:aws:ecs:${var.region}:${var.account_id}:task-definition/${f}:*"]
      },
      {
        Sid      = "EcsRollout"
        Effect   = "Allow"
        Action   = ["ecs:DescribeServices", "ecs:UpdateService"]
        Resource = var.ecs_service_arns
      },
      {
        # Stop reasons of the rollout's failed tasks.
        Sid      = "EcsTasksRead"
        Effect   = "Allow"
        Action   = ["ecs:DescribeTasks"]
        Resource = ["arn:aws:ecs:${var.region}:${var.account_id}:task/${local.cluster_name}/*"]
      },
      {
        # ListTasks has only the container-instance resource type, which
        # Fargate lacks; the cluster condition is how it is scoped.
        Sid      = "EcsTasksList"
        Effect   = "Allow"
        Action   = ["ecs:ListTasks"]
        Resource = ["*"]
        Condition = {
          ArnEquals = { "ecs:cluster" = var.ecs_cluster_arn }
        }
      },
      {
        Sid      = "PassServiceRoles"
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = var.pass_role_arns
        Condition = {
          StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" }
        }
      },
      {
        Sid      = "TerraformStateList"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = ["arn:aws:s3:::${var.state_bucket}"]
        Condition = {
          StringEquals = { "s3:prefix" = [var.state_key, "${var.state_key}.tflock"] }
        }
      },
      {
        # The .tflock object is S3-native state locking (use_lockfile).
        Sid      = "TerraformStateObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = [local.state_object_arn, "${local.state_object_arn}.tflock"]
      },
      ], var.state_lock_table_arn == null ? [] : [{
        Sid      = "TerraformStateLockTable"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
        Resource = [var.state_lock_table_arn]
    }])
  })
}

# Applying the whole composition (deploy's apply-infra) needs far more than a
# rollout: whoever enables it names the managed policies that grant it. None
# by default, so the deploy role cannot change infrastructure.
resource "aws_iam_role_policy_attachment" "deploy_apply" {
  for_each   = toset(var.apply_policy_arns)
  role       = aws_iam_role.deploy.name
  policy_arn = each.value
}
