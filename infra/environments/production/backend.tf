# Remote state in S3 with S3-native locking (a .tflock object next to the
# state; Terraform >= 1.10), so no DynamoDB lock table is needed. Backend
# blocks cannot read variables: keep bucket and key equal to var.state_bucket
# and var.state_key, which scope the deploy role's state permissions.
terraform {
  backend "s3" {
    bucket       = "conveyor-terraform-state"
    key          = "conveyor/production.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
