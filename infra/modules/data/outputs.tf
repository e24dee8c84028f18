output "table_arn" {
  value = aws_dynamodb_table.tasks.arn
}

output "table_name" {
  value = aws_dynamodb_table.tasks.name
}

output "queue_arn" {
  value = aws_sqs_queue.tasks.arn
}

output "queue_url" {
  value = aws_sqs_queue.tasks.url
}

output "queue_name" {
  value = aws_sqs_queue.tasks.name
}

output "dlq_arn" {
  value = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  value = aws_sqs_queue.dlq.url
}

output "dlq_name" {
  value = aws_sqs_queue.dlq.name
}

output "pending_index_arn" {
  value = "${aws_dynamodb_table.tasks.arn}/index/pending"
}
