variable "name" {
  description = "The deploy role's name."
  type        = string
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

variable "github_subjects" {
  description = "OIDC sub claims allowed to assume the role, e.g. repo:ORG/REPO:ref:refs/heads/main."
  type        = list(string)

  validation {
    condition     = length(var.github_subjects) >= 1 && alltrue([for s in var.github_subjects : startswith(s, "repo:") && !strcontains(s, "*")])
    error_message = "github_subjects must name at least one exact subject \"repo:ORG/REPO:...\" without wildcards, got ${jsonencode(var.github_subjects)}."
  }
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
