#!/usr/bin/env bash
# Creates the Terraform state bucket if it does not exist yet: versioned (a
# bad apply's state can be restored), encrypted by default, public access
# blocked. Run by bootstrap.yml with the bootstrap role; safe to run again.
# Usage: scripts/state-bucket.sh BUCKET REGION
set -euo pipefail
bucket=${1:?usage: state-bucket.sh BUCKET REGION}
region=${2:?usage: state-bucket.sh BUCKET REGION}

if aws s3api head-bucket --bucket "$bucket" 2>/dev/null; then
  echo "state bucket $bucket exists"
else
  echo "creating state bucket $bucket in $region"
  # us-east-1 is the one region that refuses a LocationConstraint.
  # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
  if [[ "$region" == us-east-1 ]]; then
    aws s3api create-bucket --bucket "$bucket" --region "$region"
  else
    aws s3api create-bucket --bucket "$bucket" --region "$region" \
      --create-bucket-configuration "LocationConstraint=$region"
  fi
fi
aws s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
aws s3api put-bucket-encryption --bucket "$bucket" \
  --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
aws s3api put-public-access-block --bucket "$bucket" \
  --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
