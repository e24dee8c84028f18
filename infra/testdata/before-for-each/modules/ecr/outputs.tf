output "repository_arns" {
  description = "Repository ARNs keyed like var.repositories."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}

output "repository_urls" {
  value = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_names" {
  value = { for k, r in aws_ecr_repository.this : k => r.name }
}
