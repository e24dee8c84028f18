# Terraform override file: merges into module "alb" in main.tf (shared with
# production) and replaces only the certificate. See certificate.tf for why.
module "alb" {
  certificate_arn = aws_acm_certificate.local.arn
}
