#!/usr/bin/env bash
# Prints a Terraform CLI configuration for conveyor's roots.
#
# Where this machine has a filesystem mirror of the aws provider
# ($CONVEYOR_TF_MIRROR, else the first found), providers come only from it, so
# `terraform init` works offline. Where it has none, the configuration leaves
# provider installation to Terraform's default (the provider's registry) and
# says so on stderr. Either way `terraform init` checks what it installs
# against the committed .terraform.lock.hcl.
#
# Usage: scripts/terraformrc.sh > .cache/terraformrc
#        CONVEYOR_TF_MIRROR=none scripts/terraformrc.sh   # never a mirror
set -euo pipefail
mirror="${CONVEYOR_TF_MIRROR:-}"
if [[ "$mirror" == none ]]; then
  mirror=""
elif [[ -n "$mirror" ]]; then
  [[ -d "$mirror/registry.terraform.io/hashicorp/aws" ]] || {
    echo "terraformrc: CONVEYOR_TF_MIRROR=$mirror holds no registry.terraform.io/hashicorp/aws" >&2
    exit 1
  }
else
  for d in "$HOME/.terraform.d/plugins" /opt/tf-plugins /usr/local/share/terraform/plugins /usr/share/terraform/plugins; do
    if [[ -d "$d/registry.terraform.io/hashicorp/aws" ]]; then
      mirror=$d
      break
    fi
  done
  if [[ -z "$mirror" ]]; then
    aws_dir=$(find / -maxdepth 6 -path '*registry.terraform.io/hashicorp/aws' -type d 2>/dev/null | head -n1 || true)
    [[ -z "$aws_dir" ]] || mirror=${aws_dir%/registry.terraform.io/hashicorp/aws}
  fi
fi
if [[ -z "$mirror" ]]; then
  echo "terraformrc: no filesystem mirror of registry.terraform.io/hashicorp/aws on this machine: terraform init will download the aws provider from its registry (set CONVEYOR_TF_MIRROR to a mirror to work offline)" >&2
  echo "# No provider mirror on this machine: providers install from their registries (scripts/terraformrc.sh)."
  exit 0
fi
echo "terraformrc: aws provider from the filesystem mirror $mirror" >&2
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
