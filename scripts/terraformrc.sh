#!/usr/bin/env bash
# Prints a Terraform CLI configuration that installs providers only from this
# machine's filesystem mirror, so `terraform init` works offline.
# Usage: scripts/terraformrc.sh > .cache/terraformrc
set -euo pipefail
mirror="${CONVEYOR_TF_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  aws_dir=$(find / -maxdepth 6 -path '*registry.terraform.io/hashicorp/aws' -type d 2>/dev/null | head -n1 || true)
  if [[ -z "$aws_dir" ]]; then
    echo "terraformrc: no filesystem mirror of registry.terraform.io/hashicorp/aws found (set CONVEYOR_TF_MIRROR)" >&2
    exit 1
  fi
  mirror=${aws_dir%/registry.terraform.io/hashicorp/aws}
fi
cat <<CFG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
CFG
