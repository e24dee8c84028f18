# The role GitHub Actions assumes through OIDC: push images, register task
# definitions, roll the three services and watch them, read and lock the
# Terraform state. Nothing else.

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
}

resource "aws_iam_role" "deploy" {
  name = var.name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = local.oidc_provider_arn }
      Condition = {
        StringEquals = {
          "${local.oidc_host}:aud" = "sts.amazonaws.com"
          "${local.oidc_host}:sub" = var.github_subjects
        }
      }
    }]
  })
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "deploy" {
  name = var.name
  role = aws_iam_role.deploy.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        # Neither action has a resource type: "*" is their only form.
        Sid      = "EcrAuthAndTaskDefinitionRead"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"]
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
