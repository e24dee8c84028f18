output "build_role_arn" {
  description = "For the repository variable AWS_BUILD_ROLE_ARN (build-push, policy-check)."
  value       = aws_iam_role.build.arn
}

output "deploy_role_arn" {
  description = "For the production environment's variable AWS_DEPLOY_ROLE_ARN (deploy, rollback)."
  value       = aws_iam_role.deploy.arn
}

output "build_role_trust_policy" {
  description = "The build role's trust policy (JSON): which OIDC subjects may assume it."
  value       = aws_iam_role.build.assume_role_policy
}

output "deploy_role_trust_policy" {
  description = "The deploy role's trust policy (JSON): which OIDC subjects may assume it."
  value       = aws_iam_role.deploy.assume_role_policy
}

output "oidc_provider_arn" {
  value = local.oidc_provider_arn
}
