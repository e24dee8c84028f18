#!/usr/bin/env bash
# Rebuilds catalog.tsv.gz. With network access it reads AWS's service
# reference; offline it falls back to the copy cfn-lint ships.
# Usage: bash refresh.sh   (or: go generate ./actions/internal/iamcatalog)
set -euo pipefail
cd "$(dirname "$0")"
root=https://servicereference.us-east-1.amazonaws.com/
if curl -fsS --max-time 10 "$root" >/dev/null 2>&1; then
  go run ./refresh -service-reference "$root" -out catalog.tsv.gz
else
  echo "service reference unreachable; using cfn-lint's Policies.json" >&2
  dir=$(python3 -c 'import cfnlint, os; print(os.path.dirname(cfnlint.__file__))')
  ver=$(python3 -c 'import cfnlint.version as v; print(v.__version__)' 2>/dev/null || echo unknown)
  go run ./refresh -cfn-lint "$dir/data/AdditionalSpecs/Policies.json" -source "cfn-lint $ver data/AdditionalSpecs/Policies.json (MIT-0)" -out catalog.tsv.gz
fi
