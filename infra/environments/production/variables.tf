# Shared by environments/production and environments/local (local's copy is a
# symlink to this file). Defaults are the design's values; environments/local
# overrides only what moto cannot model, in local.auto.tfvars.

variable "name" {
  description = "Prefix for every resource: cluster \"<name>\", services \"<name>-api\", repositories \"<name>/api\"..."
  type        = string
  default     = "conveyor"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,23}$", var.name))
    error_message = "name must be lower-case letters, digits and dashes, at most 24 characters (the ALB's name limit), got ${var.name}."
  }
}

variable "environment" {
  description = "Tag value telling production apart from the local world."
  type        = string
  default     = "production"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "azs" {
  description = "Availability zones. The design's two leave one api task after an AZ loss at the minimum count (docs/architecture.md); three need a third pair of CIDRs."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "public_subnet_cidrs" {
  type    = list(string)
  default = ["10.0.1.0/24", "10.0.3.0/24"]
}

variable "private_subnet_cidrs" {
  type    = list(string)
  default = ["10.0.2.0/24", "10.0.4.0/24"]
}

variable "interface_endpoint_private_dns" {
  type    = bool
  default = true
}

variable "certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener. The workflows pass the repository (or environment) variable CONVEYOR_CERTIFICATE_ARN as TF_VAR_certificate_arn and stop with an error naming it when it is empty."
  type        = string
  default     = null
}

variable "alb_listener_protocol" {
  type    = string
  default = "HTTPS"
}

variable "alb_ingress_cidrs" {
  type    = list(string)
  default = ["0.0.0.0/0"]
}

variable "image_tag" {
  description = "The tag of the first image in each repository; after that the pipeline registers task definitions itself."
  type        = string
  default     = "bootstrap"
}

variable "architecture" {
  type    = string
  default = "X86_64"
}

variable "api" {
  description = "The api's size and counts (the design: 2→10, 512 CPU / 1024 MiB)."
  type = object({
    min_count                         = optional(number, 2)
    max_count                         = optional(number, 10)
    cpu                               = optional(number, 512)
    memory                            = optional(number, 1024)
    stop_timeout                      = optional(number, 30)
    health_check_grace_period_seconds = optional(number, 60)
    cpu_scale_out_percent             = optional(number, 70)
    cpu_scale_out_minutes             = optional(number, 2)
    # 100 / 200, not the design's 50 / 200: at 2 tasks, 50 % lets ECS stop
    # one old task before a new one is healthy, so every deploy would run
    # on a single task (docs/architecture.md).
    deployment_minimum_healthy_percent = optional(number, 100)
    deployment_maximum_percent         = optional(number, 200)
  })
  default = {}
}

variable "worker" {
  description = "The worker's size and counts (the design: 4→20, 1024 CPU / 2048 MiB). stop_timeout is the drain: Fargate's maximum, 120 s."
  type = object({
    min_count                  = optional(number, 4)
    max_count                  = optional(number, 20)
    cpu                        = optional(number, 1024)
    memory                     = optional(number, 2048)
    stop_timeout               = optional(number, 120)
    scaling_signal             = optional(string, "queue_depth")
    queue_depth_threshold      = optional(number, 500)
    backlog_per_task_target    = optional(number, 125)
    visibility_timeout_seconds = optional(number, 60)
    # As designed: half the workers may be replaced at once; the queue
    # holds the work meanwhile.
    deployment_minimum_healthy_percent = optional(number, 50)
    deployment_maximum_percent         = optional(number, 200)
  })
  default = {}

  validation {
    condition     = contains(["queue_depth", "backlog_per_task"], var.worker.scaling_signal)
    error_message = "worker.scaling_signal must be queue_depth (designed) or backlog_per_task, got ${var.worker.scaling_signal}."
  }
}

variable "dlq" {
  description = "The dead-letter processor's size and counts (the design: 1→2, 256 CPU / 512 MiB)."
  type = object({
    min_count    = optional(number, 1)
    max_count    = optional(number, 2)
    cpu          = optional(number, 256)
    memory       = optional(number, 512)
    stop_timeout = optional(number, 30)
    # As designed: dead letters wait in the DLQ during a deploy.
    deployment_minimum_healthy_percent = optional(number, 50)
    deployment_maximum_percent         = optional(number, 200)
  })
  default = {}
}

variable "liveness_max_age_seconds" {
  description = "worker and dlq fail their container health check when their liveness file is older than this (they refresh it after every SQS call)."
  type        = number
  default     = 90

  # A healthy process may be quiet for a 20 s long poll that times out 15 s
  # later plus a 30 s backoff (services/internal/queue): 65 s.
  validation {
    condition     = var.liveness_max_age_seconds >= 70
    error_message = "liveness_max_age_seconds must be at least 70 (a healthy worker can be quiet for 65 s: long poll, timeout, backoff), got ${var.liveness_max_age_seconds}."
  }
}

variable "alarm_email" {
  description = "Address subscribed to the operator alarms' SNS topic. No default: without it the topic has no subscriber."
  type        = string
  default     = null
}

variable "alarms" {
  description = "Thresholds of the operator alarms (modules/alarms)."
  type = object({
    queue_oldest_message_seconds = optional(number, 300)
    dlq_oldest_message_seconds   = optional(number, 3600)
    api_error_rate_percent       = optional(number, 5)
    api_error_rate_periods       = optional(number, 2)
    worker_backlog_per_task      = optional(number, 250)
  })
  default = {}
}

variable "alb_deletion_protection" {
  type    = bool
  default = true
}

variable "alb_access_logs" {
  description = "ALB access logs to an S3 bucket the alb module creates."
  type        = bool
  default     = true
}

variable "alb_access_logs_retention_days" {
  type    = number
  default = 90
}

variable "alb_access_logs_force_destroy" {
  description = "Let destroy delete the access-log bucket with its logs (throw-away worlds only)."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Days CloudWatch Logs keeps the VPC flow logs."
  type        = number
  default     = 90
}

variable "max_receive_count" {
  type    = number
  default = 5
}

variable "table_deletion_protection" {
  type    = bool
  default = true
}

variable "ecr_force_delete" {
  type    = bool
  default = false
}

variable "ecr_keep_images" {
  type    = number
  default = 30
}

variable "container_insights" {
  type    = bool
  default = true
}

variable "manage_capacity_providers" {
  type    = bool
  default = true
}

variable "enable_autoscaling" {
  type    = bool
  default = true
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows deploy: its main branch may assume the build role, its production environment the deploy role (modules/github-oidc). Workflows set it from github.repository."
  type        = string
  default     = "conveyor-dev/conveyor"
}

variable "deploy_apply_policy_arns" {
  description = "Managed policies that let the deploy role run terraform apply (deploy's apply-infra, CONVEYOR_APPLY_INFRA); empty: the deploy role only rolls out."
  type        = list(string)
  default     = []
}

variable "create_oidc_provider" {
  type    = bool
  default = true
}

variable "oidc_url" {
  description = "GitHub's OIDC issuer. IAM holds one provider per URL and account, so tests sharing one moto give each run its own path."
  type        = string
  default     = "https://token.actions.githubusercontent.com"
}

variable "oidc_provider_arn" {
  type    = string
  default = null
}

variable "state_bucket" {
  description = "Must match the S3 backend in environments/production/backend.tf."
  type        = string
  default     = "conveyor-terraform-state"
}

variable "state_key" {
  description = "Must match the S3 backend in environments/production/backend.tf."
  type        = string
  default     = "conveyor/production.tfstate"
}
