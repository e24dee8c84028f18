# Operator alarms: what tells a person that users are (about to be) hurt,
# on one SNS topic. Each alarm sends to the topic on ALARM and on OK, so the
# recovery is reported too.

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
  tags = var.tags
}

# An email subscription stays "pending confirmation" until the address
# confirms it; there is no default address.
resource "aws_sns_topic_subscription" "email" {
  count     = var.email == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.email
}

locals {
  actions = [aws_sns_topic.alarms.arn]
}

# Anything in the dead-letter queue is a task that failed for good: someone
# should look, even while the dlq service marks it DEAD.
resource "aws_cloudwatch_metric_alarm" "dlq_visible" {
  alarm_name          = "${var.name}-dlq-messages-visible"
  alarm_description   = "Tasks reached the dead-letter queue ${var.dlq_name} (failed ${var.max_receive_count} times)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.dlq_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# Age of the oldest message: the latency users feel, whatever the depth.
resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  for_each = {
    queue = { queue = var.queue_name, seconds = var.queue_oldest_message_seconds, who = "the workers are not keeping up or not receiving" }
    dlq   = { queue = var.dlq_name, seconds = var.dlq_oldest_message_seconds, who = "the dlq service is not draining" }
  }
  alarm_name          = "${var.name}-${each.key}-oldest-message-age"
  alarm_description   = "The oldest message in ${each.value.queue} is older than ${each.value.seconds} s: ${each.value.who}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# An unhealthy api target for two minutes: a task the ALB no longer sends
# to, so the api runs below its count.
resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-api-unhealthy-targets"
  alarm_description   = "An api target has failed its gRPC health check for 2 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# The api's error rate in percent: 5xx the ALB generated (no healthy target,
# target reset, timeout) plus 5xx the targets returned, over all requests.
# The api's ECS service watches this alarm during deployments and rolls back
# when it fires. A gRPC error travels in the grpc-status trailer of an HTTP
# 200, so application-level errors do not show here; only the transport
# failures a bad release causes (crashes, refused connections, resets) do.
resource "aws_cloudwatch_metric_alarm" "api_errors" {
  alarm_name          = "${var.name}-api-5xx-rate"
  alarm_description   = "More than ${var.api_error_rate_percent} % of api requests ended in a 5xx (ALB or target) in ${var.api_error_rate_periods} of the last ${var.api_error_rate_periods} minutes."
  evaluation_periods  = var.api_error_rate_periods
  datapoints_to_alarm = var.api_error_rate_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_error_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "rate"
    label       = "api 5xx (ALB + target) per request, %"
    expression  = "IF(requests > 0, 100 * (elb5xx + target5xx) / requests, 0)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = {
      requests  = { metric = "RequestCount", dimensions = { LoadBalancer = var.load_balancer_arn_suffix } }
      elb5xx    = { metric = "HTTPCode_ELB_5XX_Count", dimensions = { LoadBalancer = var.load_balancer_arn_suffix } }
      target5xx = { metric = "HTTPCode_Target_5XX_Count", dimensions = { LoadBalancer = var.load_balancer_arn_suffix, TargetGroup = var.target_group_arn_suffix } }
    }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value.metric
        dimensions  = metric_query.value.dimensions
        stat        = "Sum"
        period      = 60
      }
    }
  }

  tags = var.tags
}

# Visible messages per running worker for 10 minutes: the workers cannot
# keep up even after scaling (or cannot scale any further).
resource "aws_cloudwatch_metric_alarm" "worker_backlog" {
  alarm_name          = "${var.name}-worker-backlog-per-task"
  alarm_description   = "More than ${var.worker_backlog_per_task} visible messages per running worker task for 10 minutes."
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.worker_backlog_per_task
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "backlog"
    label       = "Visible messages per running worker task"
    expression  = "IF(tasks > 0, depth / tasks, depth)"
    return_data = true
  }

  metric_query {
    id = "depth"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.queue_name }
      stat        = "Maximum"
      period      = 60
    }
  }

  metric_query {
    id = "tasks"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = var.worker_service_name }
      stat        = "Average"
      period      = 60
    }
  }

  tags = var.tags
}
