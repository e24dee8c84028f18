# Internet-facing ALB in the public subnets, terminating TLS and speaking gRPC
# (HTTP/2) to the api tasks by IP.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "ALB: listener port from the allowed ranges, target port to the VPC"
  # The description is immutable (changing it replaces the group, which the
  # listener and the tasks' ingress rule hang on), so it keeps its old words;
  # the egress rule below names what the ALB may reach now.
  vpc_id = var.vpc_id
  tags   = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "listener" {
  for_each          = toset(var.ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "Listener from ${each.key}"
  ip_protocol       = "tcp"
  from_port         = local.listener_port
  to_port           = local.listener_port
  cidr_ipv4         = each.key
}

# Only the api tasks' security group, only their port: the ALB has no
# business with anything else in the VPC.
resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id            = aws_security_group.alb.id
  description                  = "gRPC and health checks to the api tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.target_port
  to_port                      = var.target_port
  referenced_security_group_id = var.target_security_group_id

  # A rule cannot change its destination in place: the new one must exist
  # before the old one goes, or the ALB loses its targets for a moment.
  lifecycle {
    create_before_destroy = true
  }
}

locals {
  listener_port = var.listener_protocol == "HTTPS" ? 443 : 80
}

resource "aws_lb" "this" {
  name                       = var.name
  internal                   = false
  load_balancer_type         = "application"
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.deletion_protection
  drop_invalid_header_fields = true

  dynamic "access_logs" {
    for_each = var.access_logs ? [1] : []
    content {
      bucket  = aws_s3_bucket.logs[0].id
      prefix  = local.log_prefix
      enabled = true
    }
  }

  tags = var.tags

  # ELB checks that it may write to the bucket when access logs are turned
  # on, so the bucket policy must exist first.
  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "api" {
  name                 = "${var.name}-api"
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  protocol_version     = "GRPC"
  port                 = var.target_port
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    path                = "/grpc.health.v1.Health/Check"
    matcher             = "0" # gRPC status OK; NOT_SERVING answers non-zero
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = local.listener_port
  protocol          = var.listener_protocol
  ssl_policy        = var.listener_protocol == "HTTPS" ? var.ssl_policy : null
  certificate_arn   = var.listener_protocol == "HTTPS" ? var.certificate_arn : null

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = var.tags
}

# Access logs: one bucket per ALB, SSE-S3 (the only encryption ELB log
# delivery supports), no public access, objects owned by the bucket owner,
# expired after access_logs_retention_days.
locals {
  log_prefix = "alb"
}

data "aws_elb_service_account" "this" {
  count = var.access_logs ? 1 : 0
}

resource "aws_s3_bucket" "logs" {
  count         = var.access_logs ? 1 : 0
  bucket        = "${var.name}-alb-logs-${var.account_id}"
  force_destroy = var.access_logs_force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "logs" {
  count                   = var.access_logs ? 1 : 0
  bucket                  = aws_s3_bucket.logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  count  = var.access_logs ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  count  = var.access_logs ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  count  = var.access_logs ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_logs_retention_days
    }
  }
}

# ELB log delivery ("Enable access logs for your Application Load
# Balancer", Elastic Load Balancing User Guide): Regions older than August
# 2022 write as the Region's ELB account, newer ones as the
# logdelivery.elasticloadbalancing.amazonaws.com service principal. Both
# may only put objects under this account's prefix.
resource "aws_s3_bucket_policy" "logs" {
  count  = var.access_logs ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ElbAccountLogDelivery"
        Effect    = "Allow"
        Principal = { AWS = data.aws_elb_service_account.this[0].arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs[0].arn}/${local.log_prefix}/AWSLogs/${var.account_id}/*"
      },
      {
        Sid       = "ElbServiceLogDelivery"
        Effect    = "Allow"
        Principal = { Service = "logdelivery.elasticloadbalancing.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs[0].arn}/${local.log_prefix}/AWSLogs/${var.account_id}/*"
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.logs]
}
