# The deployment architecture, composed from infra/modules. This file is shared
# by environments/production and environments/local (local's copy is a
# symlink), so both worlds run the same composition; they differ only in
# providers.tf/backend.tf and in local.auto.tfvars.

data "aws_caller_identity" "current" {}

locals {
  tags = {
    Project     = "conveyor"
    Environment = var.environment
    ManagedBy   = "terraform"
  }
  services = ["api", "worker", "dlq"]
  # Service names are "<name>-<service>"; ECS and the deploy role use them.
  service_names = { for s in local.services : s => "${var.name}-${s}" }
}

module "network" {
  source                         = "../../modules/network"
  name                           = var.name
  region                         = var.region
  azs                            = var.azs
  vpc_cidr                       = var.vpc_cidr
  public_subnet_cidrs            = var.public_subnet_cidrs
  private_subnet_cidrs           = var.private_subnet_cidrs
  interface_endpoint_private_dns = var.interface_endpoint_private_dns
  tags                           = local.tags
}

module "data" {
  source                     = "../../modules/data"
  name                       = var.name
  deletion_protection        = var.table_deletion_protection
  max_receive_count          = var.max_receive_count
  visibility_timeout_seconds = var.worker.visibility_timeout_seconds
  tags                       = local.tags
}

module "ecr" {
  source             = "../../modules/ecr"
  repositories       = { for s in local.services : s => "${var.name}/${s}" }
  keep_tagged_images = var.ecr_keep_images
  force_delete       = var.ecr_force_delete
  tags               = local.tags
}

module "cluster" {
  source                    = "../../modules/cluster"
  name                      = var.name
  container_insights        = var.container_insights
  manage_capacity_providers = var.manage_capacity_providers
  tags                      = local.tags
}

module "alb" {
  source            = "../../modules/alb"
  name              = var.name
  vpc_id            = module.network.vpc_id
  vpc_cidr          = module.network.vpc_cidr
  public_subnet_ids = module.network.public_subnet_ids
  certificate_arn   = var.certificate_arn
  listener_protocol = var.alb_listener_protocol
  ingress_cidrs     = var.alb_ingress_cidrs
  target_port       = 8080
  tags              = local.tags
}

locals {
  # Settings every service shares.
  service_common = {
    region                             = var.region
    cluster_arn                        = module.cluster.arn
    cluster_name                       = module.cluster.name
    vpc_id                             = module.network.vpc_id
    vpc_cidr                           = module.network.vpc_cidr
    subnet_ids                         = module.network.private_subnet_ids
    egress_prefix_list_ids             = { s3 = module.network.s3_prefix_list_id, dynamodb = module.network.dynamodb_prefix_list_id }
    deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
    deployment_maximum_percent         = var.deployment_maximum_percent
  }

  # SQS publishes per-queue metrics; Container Insights publishes
  # RunningTaskCount per service (the divisor of backlog per task).
  worker_scaling = {
    queue_depth = {
      metrics = [{
        id          = "depth"
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = module.data.queue_name }
        stat        = "Maximum"
        return_data = true
      }]
      scale_out_threshold = var.worker.queue_depth_threshold
      scale_in_threshold  = var.worker.queue_depth_threshold / 10
    }
    backlog_per_task = {
      metrics = [
        {
          id          = "depth"
          namespace   = "AWS/SQS"
          metric_name = "ApproximateNumberOfMessagesVisible"
          dimensions  = { QueueName = module.data.queue_name }
          stat        = "Maximum"
        },
        {
          id          = "tasks"
          namespace   = "ECS/ContainerInsights"
          metric_name = "RunningTaskCount"
          dimensions  = { ClusterName = module.cluster.name, ServiceName = local.service_names.worker }
          stat        = "Average"
        },
        {
          id          = "backlog"
          label       = "Visible messages per running worker task"
          expression  = "IF(tasks > 0, depth / tasks, depth)"
          return_data = true
        },
      ]
      scale_out_threshold = var.worker.backlog_per_task_target
      scale_in_threshold  = var.worker.backlog_per_task_target / 10
    }
  }
}

module "api" {
  source                             = "../../modules/ecs-service"
  name                               = local.service_names.api
  container_name                     = "api"
  image                              = "${module.ecr.repository_urls["api"]}:${var.image_tag}"
  repository_arn                     = module.ecr.repository_arns["api"]
  architecture                       = var.architecture
  cpu                                = var.api.cpu
  memory                             = var.api.memory
  stop_timeout                       = var.api.stop_timeout
  min_count                          = var.api.min_count
  max_count                          = var.api.max_count
  container_port                     = 8080
  ingress_security_group_ids         = { alb = module.alb.security_group_id }
  target_group_arn                   = module.alb.target_group_arn
  health_check_grace_period_seconds  = var.api.health_check_grace_period_seconds
  region                             = local.service_common.region
  cluster_arn                        = local.service_common.cluster_arn
  cluster_name                       = local.service_common.cluster_name
  vpc_id                             = local.service_common.vpc_id
  vpc_cidr                           = local.service_common.vpc_cidr
  subnet_ids                         = local.service_common.subnet_ids
  egress_prefix_list_ids             = local.service_common.egress_prefix_list_ids
  deployment_minimum_healthy_percent = local.service_common.deployment_minimum_healthy_percent
  deployment_maximum_percent         = local.service_common.deployment_maximum_percent
  log_retention_days                 = var.log_retention_days
  enable_autoscaling                 = var.enable_autoscaling
  environment = {
    AWS_REGION         = var.region
    CONVEYOR_TABLE     = module.data.table_name
    CONVEYOR_QUEUE_URL = module.data.queue_url
    CONVEYOR_LISTEN    = ":8080"
  }
  task_role_statements = [
    {
      sid       = "TasksTable"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [module.data.table_arn]
    },
    {
      sid       = "TasksQueue"
      actions   = ["sqs:SendMessage"]
      resources = [module.data.queue_arn]
    },
  ]
  autoscaling = {
    metrics = [{
      id          = "cpu"
      namespace   = "AWS/ECS"
      metric_name = "CPUUtilization"
      dimensions  = { ClusterName = module.cluster.name, ServiceName = local.service_names.api }
      stat        = "Average"
      return_data = true
    }]
    period              = 60
    scale_out_threshold = var.api.cpu_scale_out_percent
    scale_out_periods   = var.api.cpu_scale_out_minutes
    scale_out_step      = 2
    scale_in_threshold  = var.api.cpu_scale_out_percent / 2
    scale_in_periods    = 15
  }
  tags = local.tags
}

module "worker" {
  source                             = "../../modules/ecs-service"
  name                               = local.service_names.worker
  container_name                     = "worker"
  image                              = "${module.ecr.repository_urls["worker"]}:${var.image_tag}"
  repository_arn                     = module.ecr.repository_arns["worker"]
  architecture                       = var.architecture
  cpu                                = var.worker.cpu
  memory                             = var.worker.memory
  stop_timeout                       = var.worker.stop_timeout
  min_count                          = var.worker.min_count
  max_count                          = var.worker.max_count
  region                             = local.service_common.region
  cluster_arn                        = local.service_common.cluster_arn
  cluster_name                       = local.service_common.cluster_name
  vpc_id                             = local.service_common.vpc_id
  vpc_cidr                           = local.service_common.vpc_cidr
  subnet_ids                         = local.service_common.subnet_ids
  egress_prefix_list_ids             = local.service_common.egress_prefix_list_ids
  deployment_minimum_healthy_percent = local.service_common.deployment_minimum_healthy_percent
  deployment_maximum_percent         = local.service_common.deployment_maximum_percent
  log_retention_days                 = var.log_retention_days
  enable_autoscaling                 = var.enable_autoscaling
  environment = {
    AWS_REGION         = var.region
    CONVEYOR_TABLE     = module.data.table_name
    CONVEYOR_QUEUE_URL = module.data.queue_url
    # The worker sets this visibility on every receive; keep it the queue's.
    CONVEYOR_VISIBILITY_TIMEOUT = "${var.worker.visibility_timeout_seconds}s"
    # In-flight tasks get the stop timeout minus 10 s to finish, leaving time
    # to hand back the rest and flush deletes before ECS sends SIGKILL.
    CONVEYOR_STOP_BUDGET = "${max(var.worker.stop_timeout - 10, 0)}s"
  }
  # Deviations from DESIGN.md's table (contract.md): + ChangeMessageVisibility
  # (heartbeat for long tasks, visibility 0 on SIGTERM); - PutItem (the worker
  # only moves existing items with conditional UpdateItem).
  task_role_statements = [
    {
      sid       = "TasksTable"
      actions   = ["dynamodb:UpdateItem"]
      resources = [module.data.table_arn]
    },
    {
      sid       = "TasksQueue"
      actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"]
      resources = [module.data.queue_arn]
    },
  ]
  autoscaling = merge(local.worker_scaling[var.worker.scaling_signal], {
    period             = 60
    scale_out_periods  = 2
    scale_out_step     = 4
    scale_in_periods   = 15
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
  })
  tags = local.tags
}

module "dlq" {
  source                             = "../../modules/ecs-service"
  name                               = local.service_names.dlq
  container_name                     = "dlq"
  image                              = "${module.ecr.repository_urls["dlq"]}:${var.image_tag}"
  repository_arn                     = module.ecr.repository_arns["dlq"]
  architecture                       = var.architecture
  cpu                                = var.dlq.cpu
  memory                             = var.dlq.memory
  stop_timeout                       = var.dlq.stop_timeout
  min_count                          = var.dlq.min_count
  max_count                          = var.dlq.max_count
  region                             = local.service_common.region
  cluster_arn                        = local.service_common.cluster_arn
  cluster_name                       = local.service_common.cluster_name
  vpc_id                             = local.service_common.vpc_id
  vpc_cidr                           = local.service_common.vpc_cidr
  subnet_ids                         = local.service_common.subnet_ids
  egress_prefix_list_ids             = local.service_common.egress_prefix_list_ids
  deployment_minimum_healthy_percent = local.service_common.deployment_minimum_healthy_percent
  deployment_maximum_percent         = local.service_common.deployment_maximum_percent
  log_retention_days                 = var.log_retention_days
  enable_autoscaling                 = var.enable_autoscaling
  environment = {
    AWS_REGION         = var.region
    CONVEYOR_TABLE     = module.data.table_name
    CONVEYOR_DLQ_URL   = module.data.dlq_url
    CONVEYOR_QUEUE_URL = module.data.queue_url
  }
  task_role_statements = [
    {
      sid       = "TasksTable"
      actions   = ["dynamodb:UpdateItem"]
      resources = [module.data.table_arn]
    },
    {
      sid       = "DeadLetterQueue"
      actions   = ["sqs:DeleteMessage", "sqs:ReceiveMessage"]
      resources = [module.data.dlq_arn]
    },
    # Deviation (issue 12, policies/conveyor.hcl): re-drive tasks that
    # reached the DLQ without failing, and queue tasks stranded in ACCEPTED.
    {
      sid       = "PendingIndex"
      actions   = ["dynamodb:Query"]
      resources = [module.data.pending_index_arn]
    },
    {
      sid       = "TasksQueue"
      actions   = ["sqs:SendMessage"]
      resources = [module.data.queue_arn]
    },
  ]
  # 1 → 2 while anything waits in the dead-letter queue; back to 1 after it
  # has been empty for 15 minutes.
  autoscaling = {
    metrics = [{
      id          = "dlq_depth"
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = module.data.dlq_name }
      stat        = "Maximum"
      return_data = true
    }]
    period              = 60
    scale_out_threshold = 0
    scale_out_periods   = 1
    scale_out_step      = 1
    scale_in_threshold  = 0
    scale_in_periods    = 15
  }
  tags = local.tags
}

module "deploy_role" {
  source               = "../../modules/github-oidc"
  name                 = "${var.name}-deploy"
  region               = var.region
  account_id           = data.aws_caller_identity.current.account_id
  create_oidc_provider = var.create_oidc_provider
  oidc_provider_arn    = var.oidc_provider_arn
  oidc_url             = var.oidc_url
  github_subjects      = var.github_subjects
  ecs_cluster_arn      = module.cluster.arn
  ecs_service_arns     = [module.api.service_arn, module.worker.service_arn, module.dlq.service_arn]
  task_definition_families = [
    module.api.task_definition_family,
    module.worker.task_definition_family,
    module.dlq.task_definition_family,
  ]
  ecr_repository_arns = values(module.ecr.repository_arns)
  pass_role_arns = [
    module.api.task_role_arn, module.api.execution_role_arn,
    module.worker.task_role_arn, module.worker.execution_role_arn,
    module.dlq.task_role_arn, module.dlq.execution_role_arn,
  ]
  state_bucket = var.state_bucket
  state_key    = var.state_key
  tags         = local.tags
}
