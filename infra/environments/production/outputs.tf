output "vpc_id" {
  value = module.network.vpc_id
}

output "cluster_name" {
  value = module.cluster.name
}

output "service_names" {
  value = { for s, m in module.service : s => m.service_name }
}

output "task_definition_families" {
  value = { for s, m in module.service : s => m.task_definition_family }
}

output "alarm_topic_arn" {
  value = module.alarms.topic_arn
}

output "alarm_names" {
  value = module.alarms.alarm_names
}

output "repository_urls" {
  value = module.ecr.repository_urls
}

output "table_name" {
  value = module.data.table_name
}

output "queue_url" {
  value = module.data.queue_url
}

output "dlq_url" {
  value = module.data.dlq_url
}

output "alb_dns_name" {
  value = module.alb.dns_name
}

output "target_group_arn" {
  value = module.alb.target_group_arn
}

output "build_role_arn" {
  description = "Set it as the repository variable AWS_BUILD_ROLE_ARN."
  value       = module.github_oidc.build_role_arn
}

output "deploy_role_arn" {
  description = "Set it as the production environment's variable AWS_DEPLOY_ROLE_ARN."
  value       = module.github_oidc.deploy_role_arn
}
