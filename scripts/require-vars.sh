#!/usr/bin/env bash
# Stops a workflow job before it touches AWS when a variable it needs is
# empty, and says which one and where to set it. Each NAME is an environment
# variable the step maps from the GitHub variable of the same name
# (env: NAME: ${{ vars.NAME }}).
# Usage: scripts/require-vars.sh NAME...
set -euo pipefail
missing=()
for name in "$@"; do
  [[ -n "${!name:-}" ]] || missing+=("$name")
done
for name in "${missing[@]}"; do
  echo "::error title=variable ${name} is not set::${name} is empty. Set it in the repository's Settings > Secrets and variables > Actions > Variables (or on the environment this job runs in); README.md, section \"Set-up\", says what each variable holds."
done
if ((${#missing[@]})); then
  echo "require-vars: missing ${missing[*]}" >&2
  exit 1
fi
