# The tasks table and the tasks queue with its dead-letter queue.

resource "aws_dynamodb_table" "tasks" {
  name                        = "${var.name}-tasks"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.hash_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = var.hash_key
    type = "S"
  }

  # Sparse index of tasks not yet queued (only ACCEPTED items carry
  # "pending"): the dlq service queries it to queue stranded tasks
  # (services/internal/taskstore, PendingIndex).
  attribute {
    name = "pending"
    type = "S"
  }

  attribute {
    name = "claim_until"
    type = "N"
  }

  global_secondary_index {
    name            = "pending"
    hash_key        = "pending"
    range_key       = "claim_until"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  # Encryption at rest with the AWS-owned key (no server_side_encryption
  # block), so the task roles need no KMS permissions.

  tags = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                       = "${var.name}-tasks-dlq"
  message_retention_seconds  = var.dlq_retention_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  tags                       = var.tags
}

resource "aws_sqs_queue" "tasks" {
  name                       = "${var.name}-tasks"
  message_retention_seconds  = var.queue_retention_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}
