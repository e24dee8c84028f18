output "vpc_id" {
  value = aws_vpc.this.id
}

output "vpc_cidr" {
  value = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "private_route_table_ids" {
  value = aws_route_table.private[*].id
}

output "s3_prefix_list_id" {
  description = "For security group egress to S3 (ECR image layers live there)."
  value       = aws_vpc_endpoint.gateway["s3"].prefix_list_id
}

output "endpoint_security_group_id" {
  value = aws_security_group.endpoints.id
}

output "dynamodb_prefix_list_id" {
  value = aws_vpc_endpoint.gateway["dynamodb"].prefix_list_id
}
