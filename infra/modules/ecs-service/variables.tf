variable "name" {
  description = "The ECS service's name, e.g. conveyor-api; also names its roles, log group and task family."
  type        = string
}

variable "container_name" {
  description = "The container's name in the task definition, e.g. api."
  type        = string
}

variable "region" {
  type = string
}

variable "account_id" {
  description = "The account the roles trust ECS tasks of (aws:SourceAccount, aws:SourceArn)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id, got ${var.account_id}."
  }
}

variable "partition" {
  type    = string
  default = "aws"
}

variable "cluster_arn" {
  type = string
}

variable "cluster_name" {
  type = string
}

variable "image" {
  description = "The first image; afterwards the pipeline owns rollouts (ignore_changes on the task definition)."
  type        = string
}

variable "repository_arn" {
  description = "The ECR repository the execution role may pull from."
  type        = string
}

variable "cpu" {
  description = "Fargate CPU units for the task."
  type        = number

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size (256, 512, 1024, 2048, 4096, 8192, 16384), got ${var.cpu}."
  }
}

variable "memory" {
  description = "Memory (MiB) for the task."
  type        = number

  validation {
    condition     = var.memory >= 512
    error_message = "memory must be at least 512 MiB on Fargate, got ${var.memory}."
  }
}

variable "architecture" {
  type    = string
  default = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.architecture)
    error_message = "architecture must be X86_64 or ARM64, got ${var.architecture}."
  }
}

variable "container_port" {
  description = "The port the container listens on, or null for a service that only calls out."
  type        = number
  default     = null
}

variable "environment" {
  description = "The container's environment variables."
  type        = map(string)
  default     = {}
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL: the drain the service's shutdown contract needs."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 2 and 120 seconds (Fargate's maximum is 120), got ${var.stop_timeout}."
  }
}

variable "min_count" {
  description = "Desired count at creation and the autoscaling minimum."
  type        = number

  validation {
    condition     = var.min_count >= 1 && floor(var.min_count) == var.min_count
    error_message = "min_count must be a whole number of at least 1, got ${var.min_count}: a service with no task serves nothing."
  }
}

variable "max_count" {
  description = "The autoscaling maximum."
  type        = number

  validation {
    condition     = var.max_count >= var.min_count
    error_message = "max_count (${var.max_count}) must be at least min_count (${var.min_count})."
  }
}

variable "deployment_minimum_healthy_percent" {
  description = "Rolling update lower bound (designed: 50)."
  type        = number
  default     = 50

  validation {
    condition     = var.deployment_minimum_healthy_percent >= 0 && var.deployment_minimum_healthy_percent <= 100
    error_message = "deployment_minimum_healthy_percent must be 0..100, got ${var.deployment_minimum_healthy_percent}."
  }
}

variable "deployment_maximum_percent" {
  description = "Rolling update upper bound (designed: 200)."
  type        = number
  default     = 200

  validation {
    condition     = var.deployment_maximum_percent >= 100 && var.deployment_maximum_percent <= 200
    error_message = "deployment_maximum_percent must be 100..200, got ${var.deployment_maximum_percent}."
  }
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in (one per AZ; ECS spreads tasks across them)."
  type        = list(string)
}

variable "vpc_id" {
  type = string
}

variable "vpc_cidr" {
  description = "Egress on 443 to the VPC reaches the interface endpoints."
  type        = string
}

variable "egress_prefix_list_ids" {
  description = "Gateway endpoints' prefix lists the tasks may reach on 443, keyed by a static name (s3 for image layers, dynamodb)."
  type        = map(string)
  default     = {}
}

variable "ingress_security_group_ids" {
  description = "Security groups admitted to container_port, keyed by a static name (the ALB's for the api)."
  type        = map(string)
  default     = {}
}

variable "target_group_arn" {
  description = "The ALB target group to register tasks in, or null."
  type        = string
  default     = null
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing ALB health checks after a task starts (only with a target group)."
  type        = number
  default     = 60
}

variable "task_role_statements" {
  description = "The task role's policy: named actions on named ARNs, nothing else."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))

  validation {
    condition = alltrue([
      for s in var.task_role_statements :
      length(s.actions) > 0 && length(s.resources) > 0 &&
      alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:[A-Za-z0-9]+$", a))]) &&
      alltrue([for r in s.resources : can(regex("^arn:[^*]+$", r))])
    ])
    error_message = "Every task_role_statements entry needs named actions (service:Action, no wildcard) on ARNs without wildcards: ${jsonencode(var.task_role_statements)}."
  }

  validation {
    condition     = alltrue([for s in var.task_role_statements : can(regex("^[A-Za-z0-9]+$", s.sid))])
    error_message = "task_role_statements sids must be alphanumeric (IAM's rule): ${jsonencode([for s in var.task_role_statements : s.sid])}."
  }
}

variable "autoscaling" {
  description = <<-EOT
    Step scaling on one CloudWatch signal. metrics are metric-math queries: exactly
    one has return_data = true and is the value compared with the thresholds.
    Scale out by scale_out_step when it is above scale_out_threshold for
    scale_out_periods periods; scale in by one when it is below scale_in_threshold
    for scale_in_periods periods.
  EOT
  type = object({
    metrics = list(object({
      id          = string
      expression  = optional(string)
      label       = optional(string)
      namespace   = optional(string)
      metric_name = optional(string)
      dimensions  = optional(map(string), {})
      stat        = optional(string, "Average")
      return_data = optional(bool, false)
    }))
    period                        = optional(number, 60)
    scale_out_comparison_operator = optional(string, "GreaterThanThreshold")
    scale_in_comparison_operator  = optional(string, "LessThanThreshold")
    scale_out_threshold           = number
    scale_out_periods             = number
    scale_out_step                = optional(number, 1)
    scale_out_cooldown            = optional(number, 60)
    scale_in_threshold            = number
    scale_in_periods              = number
    scale_in_cooldown             = optional(number, 300)
  })

  validation {
    condition     = length([for m in var.autoscaling.metrics : m if m.return_data]) == 1
    error_message = "autoscaling.metrics must mark exactly one query return_data = true."
  }

  validation {
    condition = (contains(["GreaterThanThreshold", "GreaterThanOrEqualToThreshold"], var.autoscaling.scale_out_comparison_operator) &&
    contains(["LessThanThreshold", "LessThanOrEqualToThreshold"], var.autoscaling.scale_in_comparison_operator))
    error_message = "autoscaling: scale out on GreaterThanThreshold or GreaterThanOrEqualToThreshold and scale in on LessThanThreshold or LessThanOrEqualToThreshold, got ${var.autoscaling.scale_out_comparison_operator} and ${var.autoscaling.scale_in_comparison_operator}."
  }

  # The two alarms must never both be in ALARM: the scale-in range has to lie
  # below the scale-out range. Equal thresholds are allowed only when one
  # side excludes the threshold itself (>= 1 out, < 1 in).
  validation {
    condition = (var.autoscaling.scale_in_threshold < var.autoscaling.scale_out_threshold ||
      (var.autoscaling.scale_in_threshold == var.autoscaling.scale_out_threshold &&
        !(var.autoscaling.scale_out_comparison_operator == "GreaterThanOrEqualToThreshold" &&
    var.autoscaling.scale_in_comparison_operator == "LessThanOrEqualToThreshold")))
    error_message = "autoscaling: scale in (${var.autoscaling.scale_in_comparison_operator} ${var.autoscaling.scale_in_threshold}) overlaps scale out (${var.autoscaling.scale_out_comparison_operator} ${var.autoscaling.scale_out_threshold}), so the service would flap."
  }
}

variable "health_check" {
  description = "The container's command health check (ECS runs command inside the container), or null. The ALB's target-group check covers load-balanced services."
  type = object({
    command      = list(string)
    interval     = optional(number, 30)
    timeout      = optional(number, 5)
    retries      = optional(number, 3)
    start_period = optional(number, 60)
  })
  default = null

  validation {
    # Terraform evaluates both sides of ||, so null is tested with ?: instead.
    condition = var.health_check == null ? true : (
      contains(["CMD", "CMD-SHELL"], try(var.health_check.command[0], "")) &&
      var.health_check.interval >= 5 && var.health_check.interval <= 300 &&
      var.health_check.timeout >= 2 && var.health_check.timeout <= 60 &&
      var.health_check.retries >= 1 && var.health_check.retries <= 10 &&
    var.health_check.start_period >= 0 && var.health_check.start_period <= 300)
    error_message = "health_check: command must start with CMD or CMD-SHELL; interval 5..300, timeout 2..60, retries 1..10, start_period 0..300 (ECS's ranges), got ${jsonencode(var.health_check)}."
  }
}

variable "deployment_alarm_names" {
  description = "CloudWatch alarms that fail a deployment (and roll it back) when they go into ALARM while it runs."
  type        = list(string)
  default     = []
}

variable "enable_autoscaling" {
  description = "Create the scalable target, step policies and alarms. Off only where the stand-in cannot hold them."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "tags" {
  type    = map(string)
  default = {}
}
