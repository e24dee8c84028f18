variable "name" {
  description = "Prefix of the topic and alarm names."
  type        = string
}

variable "email" {
  description = "Address subscribed to the alarm topic, or null for none. There is no default: alarms go to whoever the operator names."
  type        = string
  default     = null

  validation {
    condition     = var.email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.email))
    error_message = "email must be an email address or null, got ${coalesce(var.email, "null")}."
  }
}

variable "queue_name" {
  type = string
}

variable "dlq_name" {
  type = string
}

variable "max_receive_count" {
  description = "Only for the DLQ alarm's description."
  type        = number
}

variable "cluster_name" {
  type = string
}

variable "worker_service_name" {
  type = string
}

variable "load_balancer_arn_suffix" {
  type = string
}

variable "target_group_arn_suffix" {
  type = string
}

variable "queue_oldest_message_seconds" {
  description = "Alarm when the tasks queue's oldest message is older than this for 3 minutes."
  type        = number
  default     = 300
}

variable "dlq_oldest_message_seconds" {
  description = "Alarm when the dead-letter queue's oldest message is older than this for 3 minutes (the dlq service should drain it within minutes)."
  type        = number
  default     = 3600
}

variable "api_error_rate_percent" {
  description = "Alarm (and roll back a deployment) above this share of 5xx responses."
  type        = number
  default     = 5

  validation {
    condition     = var.api_error_rate_percent > 0 && var.api_error_rate_percent < 100
    error_message = "api_error_rate_percent must be between 0 and 100 (exclusive), got ${var.api_error_rate_percent}."
  }
}

variable "api_error_rate_periods" {
  description = "Consecutive one-minute periods above the rate before the alarm fires."
  type        = number
  default     = 2
}

variable "worker_backlog_per_task" {
  description = "Alarm when visible messages per running worker stay above this for 10 minutes."
  type        = number
  default     = 250
}

variable "tags" {
  type    = map(string)
  default = {}
}
