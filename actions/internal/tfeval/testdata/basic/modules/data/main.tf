resource "aws_dynamodb_table" "tasks" {
  name = "${var.name}-tasks"
}

resource "aws_sqs_queue" "tasks" {
  name = "${var.name}-tasks"
}

variable "name" {
  type = string
}

output "table_arn" {
  value = aws_dynamodb_table.tasks.arn
}

output "queue_arn" {
  value = aws_sqs_queue.tasks.arn
}
