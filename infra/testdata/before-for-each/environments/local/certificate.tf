# moto's ELBv2 accepts a listener certificate only if its own ACM holds it, so
# the local world requests one there and hands it to the ALB (alb_override.tf).
# Production passes an existing certificate in var.certificate_arn.
resource "aws_acm_certificate" "local" {
  domain_name       = "conveyor.test"
  validation_method = "DNS"
}
