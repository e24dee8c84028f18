#!/usr/bin/env bash
# Benchmarks policy-check in two parts.
#
# 1. The real-world corpus: terraform-aws-modules iam, ecs, lambda, eks and
#    s3-bucket at the commits in bench/policycheck/corpus.txt. Per corpus:
#    directories, exit codes, findings per rule, time, and the labelled
#    sample in bench/policycheck/labels.tsv (each finding judged true or
#    false, with why) re-checked against this run. Copies are read from
#    $POLICYCHECK_CORPORA/<repository name> when that folder exists (a
#    cache); otherwise each repository is fetched at its commit.
# 2. Against `trivy config` (with a custom Rego check for IAM wildcard
#    actions, since trivy's built-in one is empty) on infra/ and on a
#    generated corpus of ROOTS x FILES Terraform files: wall times, the
#    ratio, and whether policy-check finds every IAM issue trivy finds.
#    Needs trivy v0.74.0 on PATH or in $(go env GOPATH)/bin:
#      GOEXPERIMENT=jsonv2 CGO_ENABLED=0 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
set -euo pipefail
cd "$(dirname "$0")/.."
ROOTS=${ROOTS:-100}
FILES=${FILES:-10}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/policy-check" ./actions/policy-check

echo "## real-world corpus"
while read -r repo commit; do
  [[ -z $repo || $repo == \#* ]] && continue
  name=${repo#*/}
  src="${POLICYCHECK_CORPORA:-}/$name"
  if [[ -z ${POLICYCHECK_CORPORA:-} || ! -d $src ]]; then
    src="$work/src/$name"
    mkdir -p "$src"
    if ! (cd "$src" && git init -q && git fetch -q --depth 1 "https://github.com/$repo" "$commit" && git checkout -q FETCH_HEAD); then
      echo "$name: cannot fetch $repo at $commit; set POLICYCHECK_CORPORA to a folder holding a copy" >&2
      [[ -z ${CI:-} ]] || exit 1
      continue
    fi
  fi
  python3 bench/policycheck/corpus.py "$work/policy-check" "$name" "$src" bench/policycheck/labels.tsv "$work/$name.corpus.json"
done <bench/policycheck/corpus.txt
python3 - "$work" <<'PY'
import glob, json, sys
rs = [json.load(open(p)) for p in sorted(glob.glob(sys.argv[1] + "/*.corpus.json"))]
dirs = sum(r["dirs"] for r in rs)
crashes = sum(r["crashes"] for r in rs)
secs = sum(r["seconds"] for r in rs)
print(f"corpus total: {len(rs)} repositories, {dirs} directories, {crashes} crashes (exit other than 0 or 1), {secs:.1f}s")
PY

echo "## against trivy"
trivy=$(command -v trivy || true)
[[ -n $trivy ]] || trivy="$(go env GOPATH)/bin/trivy"
if [[ ! -x $trivy ]]; then
  echo "SKIP: trivy not installed; install it with:" >&2
  echo "  GOEXPERIMENT=jsonv2 CGO_ENABLED=0 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0" >&2
  [[ -z ${CI:-} ]] || exit 1
  exit 0
fi

python3 bench/policycheck/gen.py "$work/corpus" "$ROOTS" "$FILES"
echo "corpus: $(find "$work/corpus" -name '*.tf' | wc -l) .tf files in $ROOTS root modules"
echo "trivy: $("$trivy" --version 2>/dev/null | head -1)"

now() { date +%s.%N; }
# Warm trivy's cache (its embedded check bundle) once, outside the timings.
"$trivy" config --skip-check-update --cache-dir "$work/cache" --quiet infra >/dev/null 2>&1 || true

tv() { # target, output
  "$trivy" config --skip-check-update --cache-dir "$work/cache" --quiet \
    --config-check bench/policycheck/iam_wildcards.rego --namespaces user \
    --format json --output "$2" "$1" >/dev/null 2>&1 || true
}
pc() { # output, dirs...
  local out=$1 rc=0
  shift
  "$work/policy-check" --no-contract true --format json "$@" >"$out" || rc=$?
  ((rc <= 1)) || { echo "policy-check failed (exit $rc)" >&2; exit 1; }
}

run() { # name, trivy target, policy-check dirs...
  local name=$1 target=$2
  shift 2
  local t0 t1 t2
  t0=$(now)
  tv "$target" "$work/$name.trivy.json"
  t1=$(now)
  pc "$work/$name.pc.json" "$@"
  t2=$(now)
  python3 - "$t0" "$t1" "$t2" "$name" <<'PY'
import sys
t0, t1, t2, name = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
tv, pc = t1 - t0, t2 - t1
print(f"{name}: trivy {tv:.2f}s, policy-check {pc:.3f}s, policy-check is {tv / pc:.1f}x faster")
PY
  python3 bench/policycheck/compare.py "$work/$name.trivy.json" "$work/$name.pc.json" "$(cd "$target" && pwd)"
}

run infra infra infra/environments/production infra/environments/local
mapfile -t roots < <(find "$work/corpus" -mindepth 1 -maxdepth 1 -type d | sort)
run corpus "$work/corpus" "${roots[@]}"
