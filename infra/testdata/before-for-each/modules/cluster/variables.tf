variable "name" {
  description = "The ECS cluster's name."
  type        = string
}

variable "container_insights" {
  description = "Container Insights: per-service CPU, memory and RunningTaskCount metrics (the worker's backlog-per-task signal reads RunningTaskCount)."
  type        = bool
  default     = true
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "manage_capacity_providers" {
  description = "Attach the FARGATE capacity provider as the cluster default. Off only where the stand-in has no capacity providers."
  type        = bool
  default     = true
}
