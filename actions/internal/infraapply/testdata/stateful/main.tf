# A tiny root module for infraapply's tests: one table and one queue on moto.
# Changing hash_key forces the table to be replaced, which must stop the apply.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

variable "endpoint" {
  type = string
}

variable "name" {
  type = string
}

variable "hash_key" {
  type    = string
  default = "id"
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {
    dynamodb = var.endpoint
    sqs      = var.endpoint
    sts      = var.endpoint
  }
}

resource "aws_dynamodb_table" "tasks" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = var.hash_key
  attribute {
    name = var.hash_key
    type = "S"
  }
}

resource "aws_sqs_queue" "tasks" {
  name                    = var.name
  sqs_managed_sse_enabled = true
}
