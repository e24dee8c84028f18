variable "name" {
  description = "Name prefix for every resource (tags, security groups)."
  type        = string
}

variable "region" {
  description = "Region the interface endpoints' service names are built for."
  type        = string
}

variable "account_id" {
  description = "The only account whose principals and resources the endpoints admit."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id, got ${var.account_id}."
  }
}

variable "partition" {
  type    = string
  default = "aws"
}

variable "flow_log_retention_days" {
  description = "Days CloudWatch Logs keeps the VPC flow logs."
  type        = number
  default     = 90
}

variable "azs" {
  description = "Availability zones, one public and one private subnet in each."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 1 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must name at least one availability zone, each once (got ${jsonencode(var.azs)})."
  }
}

variable "vpc_cidr" {
  description = "The VPC's CIDR block."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block such as 10.0.0.0/16 (got ${var.vpc_cidr})."
  }
}

variable "public_subnet_cidrs" {
  description = "Public subnets (the ALB), one per AZ, in the order of azs."
  type        = list(string)
  default     = ["10.0.1.0/24", "10.0.3.0/24"]

  validation {
    condition     = alltrue([for c in var.public_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "public_subnet_cidrs must be IPv4 CIDR blocks (got ${jsonencode(var.public_subnet_cidrs)})."
  }
}

variable "private_subnet_cidrs" {
  description = "Private subnets (the services and interface endpoints), one per AZ, in the order of azs."
  type        = list(string)
  default     = ["10.0.2.0/24", "10.0.4.0/24"]

  validation {
    condition     = alltrue([for c in var.private_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "private_subnet_cidrs must be IPv4 CIDR blocks (got ${jsonencode(var.private_subnet_cidrs)})."
  }

  validation {
    condition     = length(var.private_subnet_cidrs) == length(var.azs) && length(var.public_subnet_cidrs) == length(var.azs)
    error_message = "Give one public and one private subnet per AZ: ${length(var.azs)} AZs, ${length(var.public_subnet_cidrs)} public and ${length(var.private_subnet_cidrs)} private subnets."
  }

  # Two blocks overlap exactly when both, cut to the shorter of their two prefix
  # lengths, name the same network. Terraform 1.11 has no cidrcontains(), and a
  # validation may not go through a local that depends on the variable itself,
  # so the comparison is spelled out here.
  validation {
    condition = alltrue(flatten([
      for i, a in concat(var.public_subnet_cidrs, var.private_subnet_cidrs) : [
        for j, b in concat(var.public_subnet_cidrs, var.private_subnet_cidrs) :
        i == j || cidrhost("${split("/", a)[0]}/${min(split("/", a)[1], split("/", b)[1])}", 0) != cidrhost("${split("/", b)[0]}/${min(split("/", a)[1], split("/", b)[1])}", 0)
      ]
    ]))
    error_message = "Subnet CIDR blocks overlap: public ${jsonencode(var.public_subnet_cidrs)}, private ${jsonencode(var.private_subnet_cidrs)}. Give every subnet its own range."
  }

  validation {
    condition = alltrue([
      for c in concat(var.public_subnet_cidrs, var.private_subnet_cidrs) :
      tonumber(split("/", c)[1]) >= tonumber(split("/", var.vpc_cidr)[1]) && cidrhost("${split("/", c)[0]}/${split("/", var.vpc_cidr)[1]}", 0) == cidrhost(var.vpc_cidr, 0)
    ])
    error_message = "Every subnet must lie inside vpc_cidr ${var.vpc_cidr}: public ${jsonencode(var.public_subnet_cidrs)}, private ${jsonencode(var.private_subnet_cidrs)}."
  }
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface endpoints (there is no NAT gateway)."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "sqs", "logs"]
}

variable "interface_endpoint_private_dns" {
  description = "Private DNS on the interface endpoints, so the SDKs' default hostnames resolve to them. Only a stand-in that cannot model it turns this off."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
