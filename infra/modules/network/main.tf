# Two-AZ VPC without a NAT gateway: the private subnets reach AWS only through
# gateway endpoints (S3, DynamoDB) and interface endpoints (ECR, SQS, Logs).

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # interface endpoints' private DNS needs both
  tags                 = merge(var.tags, { Name = var.name })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count             = length(var.azs)
  vpc_id            = aws_vpc.this.id
  cidr_block        = var.public_subnet_cidrs[count.index]
  availability_zone = var.azs[count.index]
  tags              = merge(var.tags, { Name = "${var.name}-public-${var.azs[count.index]}", Tier = "public" })
}

resource "aws_subnet" "private" {
  count             = length(var.azs)
  vpc_id            = aws_vpc.this.id
  cidr_block        = var.private_subnet_cidrs[count.index]
  availability_zone = var.azs[count.index]
  tags              = merge(var.tags, { Name = "${var.name}-private-${var.azs[count.index]}", Tier = "private" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count          = length(var.azs)
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# One private route table per AZ: no default route at all, only the gateway
# endpoints' prefix-list routes.
resource "aws_route_table" "private" {
  count  = length(var.azs)
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-private-${var.azs[count.index]}" })
}

resource "aws_route_table_association" "private" {
  count          = length(var.azs)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# Endpoint policies. Everything that leaves the private subnets goes through
# an endpoint, so these decide what the tasks can reach at all: only this
# account's principals acting on this account's resources (a stolen task
# credential cannot copy data to another account's queue or table, and
# another account's credentials are useless here). S3 is the exception: the
# tasks use it only for ECR's image layers, which live in an AWS-owned
# bucket ("Amazon ECR interface VPC endpoints", Minimum Amazon S3 bucket
# permissions for Amazon ECR, Amazon ECR User Guide), reached with a URL
# ECR signs, so that statement names the bucket and s3:GetObject only.
locals {
  own_account_only = {
    Sid       = "ThisAccountOnly"
    Effect    = "Allow"
    Principal = "*"
    # policy-check:ignore IAM001 an endpoint policy grants nothing: it bounds what may pass the endpoint, and the conditions below keep that to this account's principals on this account's resources (the data-perimeter pattern); the task roles hold the grants
    Action   = "*"
    Resource = "*"
    Condition = {
      StringEquals = {
        "aws:PrincipalAccount" = var.account_id
        "aws:ResourceAccount"  = var.account_id
      }
    }
  }
  gateway_policies = {
    s3 = {
      Version = "2012-10-17"
      Statement = [{
        Sid    = "EcrImageLayers"
        Effect = "Allow"
        # policy-check:ignore IAM005 ECR hands out presigned URLs for its image layers, so the caller is not a principal of this account and no principal condition can hold; the statement names one AWS-owned bucket and s3:GetObject only
        Principal = "*"
        Action    = ["s3:GetObject"]
        Resource  = ["arn:${var.partition}:s3:::prod-${var.region}-starport-layer-bucket/*"]
      }]
    }
    dynamodb = { Version = "2012-10-17", Statement = [local.own_account_only] }
  }
  # ecr:GetAuthorizationToken acts on no resource ("*" is its only form), so
  # it has no resource account to compare; it is admitted for this
  # account's principals alone.
  interface_extra = {
    "ecr.api" = [{
      Sid       = "EcrAuthThisAccount"
      Effect    = "Allow"
      Principal = "*"
      Action    = ["ecr:GetAuthorizationToken"]
      Resource  = "*"
      Condition = { StringEquals = { "aws:PrincipalAccount" = var.account_id } }
    }]
  }
}

resource "aws_vpc_endpoint" "gateway" {
  for_each          = toset(["s3", "dynamodb"])
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
  policy            = jsonencode(local.gateway_policies[each.key])
  tags              = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface endpoints: HTTPS from the private subnets only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  for_each          = toset(var.private_subnet_cidrs)
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from private subnet ${each.key}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.key
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(var.interface_endpoint_services)
  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = var.interface_endpoint_private_dns
  policy              = jsonencode({ Version = "2012-10-17", Statement = concat([local.own_account_only], lookup(local.interface_extra, each.key, [])) })
  tags                = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# The VPC's default security group, taken over with no rules at all: nothing
# uses it, and anything that lands in it by mistake can talk to nothing.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-unused" })
}

# VPC flow logs (accepted and rejected traffic) to CloudWatch Logs.
resource "aws_cloudwatch_log_group" "flow" {
  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_days
  tags              = var.tags
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow.arn
  iam_role_arn             = aws_iam_role.flow.arn
  max_aggregation_interval = 60
  tags                     = merge(var.tags, { Name = "${var.name}-flow-logs" })
  depends_on               = [aws_iam_role_policy.flow]
}

# The delivery role: VPC flow logs of this account only ("IAM role for
# publishing flow logs to CloudWatch Logs", Amazon VPC User Guide), writing
# only to its own log group.
resource "aws_iam_role" "flow" {
  name = "${var.name}-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${var.partition}:ec2:${var.region}:${var.account_id}:vpc-flow-log/*" }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "flow" {
  name = "${var.name}-flow-logs"
  role = aws_iam_role.flow.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "FlowLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.flow.arn}:*"]
    }]
  })
}
