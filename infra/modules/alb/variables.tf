variable "name" {
  description = "Name of the load balancer; the target group is \"<name>-api\" (both at most 32 characters)."
  type        = string

  validation {
    condition     = length(var.name) <= 28
    error_message = "alb name ${var.name} is ${length(var.name)} characters; at most 28 leave room for the target group's \"-api\" suffix within AWS's 32."
  }
}

variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  description = "Public subnets, one per AZ."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (gRPC needs HTTP/2 over TLS)."
  type        = string
  default     = null

  validation {
    condition     = var.listener_protocol != "HTTPS" || can(regex("^arn:aws[a-z-]*:(acm|iam):[a-z0-9-]*:[0-9]{12}:", var.certificate_arn))
    error_message = "certificate_arn must be the ARN of an ACM (or IAM) certificate for the HTTPS listener, got ${coalesce(var.certificate_arn, "nothing")}."
  }
}

variable "listener_protocol" {
  description = "HTTPS as designed. Only a stand-in that cannot hold a certificate sets HTTP."
  type        = string
  default     = "HTTPS"

  validation {
    condition     = contains(["HTTPS", "HTTP"], var.listener_protocol)
    error_message = "listener_protocol must be HTTPS (designed) or HTTP (local stand-ins only), got ${var.listener_protocol}."
  }
}

variable "ssl_policy" {
  type    = string
  default = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "ingress_cidrs" {
  description = "Who may reach the listener."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "target_port" {
  description = "The api container's gRPC port."
  type        = number
  default     = 8080
}

variable "deregistration_delay" {
  description = "Seconds the ALB drains a deregistering target (AWS default 300; the api's drain fits in 30)."
  type        = number
  default     = 30
}

variable "idle_timeout" {
  type    = number
  default = 60
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (the service's public address) until this is turned off."
  type        = bool
  default     = true
}

variable "target_security_group_id" {
  description = "The api tasks' security group: the only destination the ALB may send to."
  type        = string
}

variable "account_id" {
  description = "Names the access-log bucket and scopes the log-delivery policy to this account's prefix."
  type        = string
}

variable "access_logs" {
  description = "Write access logs to an S3 bucket this module creates."
  type        = bool
  default     = true
}

variable "access_logs_retention_days" {
  type    = number
  default = 90
}

variable "access_logs_force_destroy" {
  description = "Let destroy delete a bucket that still holds logs (throw-away worlds only)."
  type        = bool
  default     = false
}

variable "tags" {
  type    = map(string)
  default = {}
}
