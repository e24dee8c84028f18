#!/usr/bin/env bash
# Fails when a tracked file is build output: an executable or object format
# (ELF, Mach-O, PE, Go archive) or a file larger than 1 MiB. `make lint` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r -d '' f; do
  [[ -f "$f" ]] || continue
  size=$(stat -c %s "$f")
  magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
  case "$magic" in
    7f454c46) echo "$f: ELF executable or object is build output; remove it and ignore it" >&2; bad=1; continue ;;
    cffaedfe|cefaedfe|feedfacf|feedface) echo "$f: Mach-O binary is build output; remove it and ignore it" >&2; bad=1; continue ;;
    4d5a*) echo "$f: PE executable is build output; remove it and ignore it" >&2; bad=1; continue ;;
    213c6172) echo "$f: Go/ar archive is build output; remove it and ignore it" >&2; bad=1; continue ;;
  esac
  if ((size > 1048576)); then
    echo "$f: $size bytes; files over 1 MiB do not belong in the repository" >&2
    bad=1
  fi
done < <(git ls-files -z)
exit "$bad"
