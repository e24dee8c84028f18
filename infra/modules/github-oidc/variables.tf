variable "build_role_name" {
  description = "The build role's name (build-push, policy-check on main)."
  type        = string
}

variable "deploy_role_name" {
  description = "The deploy role's name (deploy, rollback in the production environment)."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows assume the roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name, got ${var.github_repository}."
  }
}

variable "deploy_environment" {
  description = "The GitHub environment whose jobs may assume the deploy role."
  type        = string
  default     = "production"
}

variable "build_subjects" {
  description = "OIDC subjects for the build role; null: repo:<github_repository>:ref:refs/heads/main."
  type        = list(string)
  default     = null

  validation {
    condition     = var.build_subjects == null || alltrue([for s in(var.build_subjects == null ? [] : var.build_subjects) : startswith(s, "repo:") && !strcontains(s, "*") && !strcontains(s, ":environment:")])
    error_message = "build_subjects must be exact subjects \"repo:ORG/REPO:ref:...\" without wildcards or environments (an environment's jobs get the deploy role), got ${jsonencode(var.build_subjects)}."
  }
}

variable "deploy_subjects" {
  description = "OIDC subjects for the deploy role; null: repo:<github_repository>:environment:<deploy_environment>."
  type        = list(string)
  default     = null

  validation {
    condition     = var.deploy_subjects == null || alltrue([for s in(var.deploy_subjects == null ? [] : var.deploy_subjects) : startswith(s, "repo:") && !strcontains(s, "*") && strcontains(s, ":environment:")])
    error_message = "deploy_subjects must be exact environment subjects \"repo:ORG/REPO:environment:NAME\" (a branch subject would bypass the environment's reviewers), got ${jsonencode(var.deploy_subjects)}."
  }
}

variable "apply_policy_arns" {
  description = "Managed policies attached to the deploy role so that deploy's apply-infra can run terraform apply; empty: the role only rolls out."
  type        = list(string)
  default     = []
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider; false to use oidc_provider_arn (there is one per account and URL)."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "An existing GitHub OIDC provider, when create_oidc_provider is false."
  type        = string
  default     = null
}

variable "oidc_url" {
  type    = string
  default = "https://token.actions.githubusercontent.com"
}

variable "oidc_thumbprints" {
  description = "IAM no longer checks these for GitHub's provider, but the API still wants one."
  type        = list(string)
  default     = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

variable "ecs_service_arns" {
  description = "Services the pipeline rolls out (UpdateService, DescribeServices)."
  type        = list(string)
}

variable "ecs_cluster_arn" {
  description = "The cluster whose tasks the rollout watcher lists and describes."
  type        = string
}

variable "task_definition_families" {
  description = "Families the pipeline registers new revisions of."
  type        = list(string)
}

variable "ecr_repository_arns" {
  description = "Repositories the pipeline pushes to."
  type        = list(string)
}

variable "pass_role_arns" {
  description = "The services' task and execution roles: the only roles the pipeline may hand to ECS."
  type        = list(string)
}

variable "state_bucket" {
  description = "Terraform state bucket name."
  type        = string
}

variable "state_key" {
  description = "Terraform state object key."
  type        = string
}

variable "state_lock_table_arn" {
  description = "DynamoDB lock table ARN, when state locks there instead of in S3 (use_lockfile)."
  type        = string
  default     = null
}

variable "region" {
  type = string
}

variable "account_id" {
  type = string
}

variable "tags" {
  type    = map(string)
  default = {}
}
