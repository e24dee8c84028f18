output "topic_arn" {
  value = aws_sns_topic.alarms.arn
}

output "api_error_rate_alarm_name" {
  description = "The alarm the api's deployments watch (ECS deployment alarms)."
  value       = aws_cloudwatch_metric_alarm.api_errors.alarm_name
}

output "alarm_names" {
  value = concat(
    [aws_cloudwatch_metric_alarm.dlq_visible.alarm_name, aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name,
    aws_cloudwatch_metric_alarm.api_errors.alarm_name, aws_cloudwatch_metric_alarm.worker_backlog.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.oldest_message : a.alarm_name],
  )
}
