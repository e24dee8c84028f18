#!/usr/bin/env bash
# Runs every benchmark in bench/ (each prints its ratios against the peer tool).
# Usage: make bench        or        bash bench/run.sh [name ...]
set -euo pipefail
cd "$(dirname "$0")"
names=("$@")
if ((${#names[@]} == 0)); then
  for f in *.sh; do [[ $f == run.sh ]] || names+=("${f%.sh}"); done
fi
for n in "${names[@]}"; do
  printf '\n### bench: %s\n' "$n"
  bash "./$n.sh"
done
