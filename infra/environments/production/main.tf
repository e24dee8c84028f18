# The deployment architecture, composed from infra/modules. This file is shared
# by environments/production and environments/local (local's copy is a
# symlink), so both worlds run the same composition; they differ only in
# providers.tf/backend.tf and in local.auto.tfvars.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  tags = {
    Project     = "conveyor"
    Environment = var.environment
    ManagedBy   = "terraform"
  }
  # Service names are "<name>-<service>"; ECS and the deploy role use them.
  service_names = { for s in keys(local.services) : s => "${var.name}-${s}" }
}

module "network" {
  source                         = "../../modules/network"
  name                           = var.name
  region                         = var.region
  account_id                     = data.aws_caller_identity.current.account_id
  partition                      = data.aws_partition.current.partition
  flow_log_retention_days        = var.flow_log_retention_days
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
  repositories       = { for s in keys(local.services) : s => "${var.name}/${s}" }
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
  source                     = "../../modules/alb"
  name                       = var.name
  account_id                 = data.aws_caller_identity.current.account_id
  vpc_id                     = module.network.vpc_id
  public_subnet_ids          = module.network.public_subnet_ids
  certificate_arn            = var.certificate_arn
  listener_protocol          = var.alb_listener_protocol
  ingress_cidrs              = var.alb_ingress_cidrs
  target_port                = 8080
  target_security_group_id   = module.service["api"].security_group_id
  deletion_protection        = var.alb_deletion_protection
  access_logs                = var.alb_access_logs
  access_logs_retention_days = var.alb_access_logs_retention_days
  access_logs_force_destroy  = var.alb_access_logs_force_destroy
  tags                       = local.tags
}

locals {
  # The three services, one entry each: what differs between them (size is
  # the service's variable: counts, CPU/memory, stop timeout, deployment
  # percentages). Keys are the container names; every entry has the same
  # attributes so for_each can hand them to one module block. Values here come from variables only
  # (no resource attributes), so the instance keys are known at plan time.
  services = {
    api = {
      size                              = var.api
      container_port                    = 8080
      health_check_grace_period_seconds = var.api.health_check_grace_period_seconds
      # The ALB's gRPC health check watches the api.
      health_check = null
    }
    worker = {
      size                              = var.worker
      container_port                    = null
      health_check_grace_period_seconds = null
      health_check                      = local.liveness_check["worker"]
    }
    dlq = {
      size                              = var.dlq
      container_port                    = null
      health_check_grace_period_seconds = null
      health_check                      = local.liveness_check["dlq"]
    }
  }

  # worker and dlq have no port to probe: each keeps a liveness file fresh
  # after every SQS call it completes, and the container check runs the
  # binary's `health` subcommand, which fails once the file is older than
  # max-age (services/internal/liveness). The file lives in /dev/shm, a
  # tmpfs the container may write although its root filesystem is read-only
  # (the images run as a non-root user, and a Fargate bind mount is owned by
  # root with mode 0755). max-age covers the longest quiet gap of a healthy
  # process: a 20 s long poll that times out 15 s later, then a 30 s backoff.
  liveness_file = "/dev/shm/conveyor-alive"
  # One per service (keyed like every per-service map); only the services
  # without a port use theirs.
  liveness_check = { for s in keys(local.service_environment) : s => {
    command      = ["CMD", "/usr/local/bin/${s}", "health", "-file", local.liveness_file, "-max-age", "${var.liveness_max_age_seconds}s"]
    interval     = 30
    timeout      = 5
    retries      = 3
    start_period = 60
  } }

  # The containers' environment, by service.
  service_environment = {
    api = {
      AWS_REGION         = var.region
      CONVEYOR_TABLE     = module.data.table_name
      CONVEYOR_QUEUE_URL = module.data.queue_url
      CONVEYOR_LISTEN    = ":8080"
    }
    worker = {
      AWS_REGION             = var.region
      CONVEYOR_TABLE         = module.data.table_name
      CONVEYOR_QUEUE_URL     = module.data.queue_url
      CONVEYOR_LIVENESS_FILE = local.liveness_file
      # The worker sets this visibility on every receive; keep it the queue's.
      CONVEYOR_VISIBILITY_TIMEOUT = "${var.worker.visibility_timeout_seconds}s"
      # In-flight tasks get the stop timeout minus 10 s to finish, leaving time
      # to hand back the rest and flush deletes before ECS sends SIGKILL.
      CONVEYOR_STOP_BUDGET = "${max(var.worker.stop_timeout - 10, 0)}s"
    }
    dlq = {
      AWS_REGION             = var.region
      CONVEYOR_TABLE         = module.data.table_name
      CONVEYOR_DLQ_URL       = module.data.dlq_url
      CONVEYOR_QUEUE_URL     = module.data.queue_url
      CONVEYOR_LIVENESS_FILE = local.liveness_file
    }
  }

  # The task roles: exactly the AWS calls each service's code makes
  # (services/catalog; the contract in policies/ checks both).
  task_role_statements = {
    api = [
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
    # Deviations from the design's table: + ChangeMessageVisibility
    # (heartbeat for long tasks, visibility 0 on SIGTERM); - PutItem (the
    # worker only moves existing items with conditional UpdateItem).
    worker = [
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
    dlq = [
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
      # Deviation (policies/conveyor.hcl): re-drive tasks that reached the
      # DLQ without failing, and queue tasks stranded in ACCEPTED.
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

  service_autoscaling = {
    api = {
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
    worker = merge(local.worker_scaling[var.worker.scaling_signal], {
      period             = 60
      scale_out_periods  = 2
      scale_out_step     = 4
      scale_in_periods   = 15
      scale_in_cooldown  = 300
      scale_out_cooldown = 60
    })
    # 1 → 2 while anything waits in the dead-letter queue (>= 1 for a
    # minute); back to 1 after it has held none (< 1) for 15 minutes. A
    # message count is never below 0, so "< 0" would never scale in; and
    # "<= 0" would put the metric exactly on the threshold, where a step
    # adjustment's exclusive upper bound of 0 matches nothing (step scaling:
    # "MetricIntervalUpperBound", Application Auto Scaling API Reference).
    dlq = {
      metrics = [{
        id          = "dlq_depth"
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = module.data.dlq_name }
        stat        = "Maximum"
        return_data = true
      }]
      period                        = 60
      scale_out_comparison_operator = "GreaterThanOrEqualToThreshold"
      scale_out_threshold           = 1
      scale_out_periods             = 1
      scale_out_step                = 1
      scale_in_comparison_operator  = "LessThanThreshold"
      scale_in_threshold            = 1
      scale_in_periods              = 15
    }
  }
}

module "service" {
  source   = "../../modules/ecs-service"
  for_each = local.services

  name                               = local.service_names[each.key]
  container_name                     = each.key
  image                              = "${module.ecr.repository_urls[each.key]}:${var.image_tag}"
  repository_arn                     = module.ecr.repository_arns[each.key]
  architecture                       = var.architecture
  cpu                                = each.value.size.cpu
  memory                             = each.value.size.memory
  stop_timeout                       = each.value.size.stop_timeout
  min_count                          = each.value.size.min_count
  max_count                          = each.value.size.max_count
  deployment_minimum_healthy_percent = each.value.size.deployment_minimum_healthy_percent
  deployment_maximum_percent         = each.value.size.deployment_maximum_percent
  container_port                     = each.value.container_port
  health_check                       = each.value.health_check
  health_check_grace_period_seconds  = each.value.health_check_grace_period_seconds
  # Only the api sits behind the ALB, and only its deployments watch the
  # api's error rate: ECS rolls back a release that passes health checks
  # but fails requests.
  ingress_security_group_ids = each.key == "api" ? { alb = module.alb.security_group_id } : {}
  target_group_arn           = each.key == "api" ? module.alb.target_group_arn : null
  deployment_alarm_names     = each.key == "api" ? [module.alarms.api_error_rate_alarm_name] : []
  region                     = var.region
  account_id                 = data.aws_caller_identity.current.account_id
  partition                  = data.aws_partition.current.partition
  cluster_arn                = module.cluster.arn
  cluster_name               = module.cluster.name
  vpc_id                     = module.network.vpc_id
  vpc_cidr                   = module.network.vpc_cidr
  subnet_ids                 = module.network.private_subnet_ids
  egress_prefix_list_ids     = { s3 = module.network.s3_prefix_list_id, dynamodb = module.network.dynamodb_prefix_list_id }
  log_retention_days         = var.log_retention_days
  enable_autoscaling         = var.enable_autoscaling
  environment                = local.service_environment[each.key]
  task_role_statements       = local.task_role_statements[each.key]
  autoscaling                = local.service_autoscaling[each.key]
  tags                       = local.tags
}

# The three module blocks became one for_each: state moves, nothing is
# destroyed (infra/moved_test.go applies the old configuration and plans
# this one against it).
moved {
  from = module.api
  to   = module.service["api"]
}

moved {
  from = module.worker
  to   = module.service["worker"]
}

moved {
  from = module.dlq
  to   = module.service["dlq"]
}

module "alarms" {
  source                       = "../../modules/alarms"
  name                         = var.name
  email                        = var.alarm_email
  queue_name                   = module.data.queue_name
  dlq_name                     = module.data.dlq_name
  max_receive_count            = var.max_receive_count
  cluster_name                 = module.cluster.name
  worker_service_name          = local.service_names.worker
  load_balancer_arn_suffix     = module.alb.arn_suffix
  target_group_arn_suffix      = module.alb.target_group_arn_suffix
  queue_oldest_message_seconds = var.alarms.queue_oldest_message_seconds
  dlq_oldest_message_seconds   = var.alarms.dlq_oldest_message_seconds
  api_error_rate_percent       = var.alarms.api_error_rate_percent
  api_error_rate_periods       = var.alarms.api_error_rate_periods
  worker_backlog_per_task      = var.alarms.worker_backlog_per_task
  tags                         = local.tags
}

# The pipeline's two OIDC roles: build (main branch) and deploy (production
# environment). Was module.deploy_role when one role did both.
moved {
  from = module.deploy_role
  to   = module.github_oidc
}

module "github_oidc" {
  source               = "../../modules/github-oidc"
  build_role_name      = "${var.name}-build"
  deploy_role_name     = "${var.name}-deploy"
  github_repository    = var.github_repository
  apply_policy_arns    = var.deploy_apply_policy_arns
  region               = var.region
  account_id           = data.aws_caller_identity.current.account_id
  create_oidc_provider = var.create_oidc_provider
  oidc_provider_arn    = var.oidc_provider_arn
  oidc_url             = var.oidc_url
  ecs_cluster_arn      = module.cluster.arn
  # Indexed by name, not by a for expression over module.service: the
  # policy check resolves static instance keys only.
  ecs_service_arns = [module.service["api"].service_arn, module.service["worker"].service_arn, module.service["dlq"].service_arn]
  task_definition_families = [
    module.service["api"].task_definition_family,
    module.service["worker"].task_definition_family,
    module.service["dlq"].task_definition_family,
  ]
  ecr_repository_arns = values(module.ecr.repository_arns)
  pass_role_arns = [
    module.service["api"].task_role_arn, module.service["api"].execution_role_arn,
    module.service["worker"].task_role_arn, module.service["worker"].execution_role_arn,
    module.service["dlq"].task_role_arn, module.service["dlq"].execution_role_arn,
  ]
  state_bucket = var.state_bucket
  state_key    = var.state_key
  tags         = local.tags
}
