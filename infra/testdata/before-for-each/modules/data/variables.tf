variable "name" {
  description = "Prefix: table \"<name>-tasks\", queues \"<name>-tasks\" and \"<name>-tasks-dlq\"."
  type        = string
}

variable "hash_key" {
  description = "The tasks table's partition key (string): the task id the services read and write (services/internal/taskstore)."
  type        = string
  default     = "task_id"
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection; off only where the world is thrown away (tests)."
  type        = bool
  default     = true
}

variable "point_in_time_recovery" {
  type    = bool
  default = true
}

variable "max_receive_count" {
  description = "Receives before a message is moved to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000 (SQS's range), got ${var.max_receive_count}."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received task is hidden; the worker extends it for long tasks."
  type        = number
  default     = 60
}

variable "receive_wait_time_seconds" {
  description = "Long polling on both queues."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 1 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be 1..20 (long polling), got ${var.receive_wait_time_seconds}."
  }
}

variable "queue_retention_seconds" {
  type    = number
  default = 345600 # 4 days
}

variable "dlq_retention_seconds" {
  description = "Longer than the source queue's, so a message's age in the DLQ cannot run out before it is drained (SQS keeps the original enqueue time)."
  type        = number
  default     = 1209600 # 14 days, SQS's maximum

  validation {
    condition     = var.dlq_retention_seconds > var.queue_retention_seconds && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds (${var.dlq_retention_seconds}) must exceed queue_retention_seconds (${var.queue_retention_seconds}) and be at most 1209600."
  }
}

variable "tags" {
  type    = map(string)
  default = {}
}
