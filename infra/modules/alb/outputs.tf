output "arn" {
  value = aws_lb.this.arn
}

output "dns_name" {
  value = aws_lb.this.dns_name
}

output "security_group_id" {
  description = "The api's tasks admit their port from this group only."
  value       = aws_security_group.alb.id
}

output "target_group_arn" {
  description = "Available only once the listener forwards to it: ECS refuses a service whose target group has no load balancer."
  value       = aws_lb_target_group.api.arn
  depends_on  = [aws_lb_listener.https]
}

output "arn_suffix" {
  description = "The LoadBalancer dimension of AWS/ApplicationELB metrics."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "The TargetGroup dimension of AWS/ApplicationELB metrics."
  value       = aws_lb_target_group.api.arn_suffix
}

output "access_logs_bucket" {
  value = var.access_logs ? aws_s3_bucket.logs[0].id : null
}

output "listener_arn" {
  value = aws_lb_listener.https.arn
}
