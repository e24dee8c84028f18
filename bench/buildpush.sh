#!/usr/bin/env bash
# build-push benchmark: conveyor's build-push versus `ko build`, side by side,
# for the three services x two platforms, against the same local registry
# (go-containerregistry's, served by actions/internal/buildpushbench, which
# counts uploaded bytes) and on the same scratch base pinned by digest.
#
#   cold : empty registry, no tool cache (conveyor's cache-dir is fresh, ko
#          keeps none); the Go build cache is warmed for both platforms first,
#          so both tools link but neither compiles packages. BENCH_FRESH_GOCACHE=1
#          gives each tool's cold run its own empty GOCACHE instead.
#   no-op: the same command again, same commit: wall time and bytes uploaded.
#   Each cold run gets a fresh registry; BENCH_ROUNDS rounds (default 3, 1
#   with BENCH_FRESH_GOCACHE) alternate which tool goes first; medians are
#   reported.
#
# Goals: cold ratio <= 0.8, no-op ratio <= 0.8, no-op bytes = 0.
# Usage: bash bench/buildpush.sh     (or make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
KO_VERSION=v0.19.1
services=(api worker dlq)
platforms=linux/amd64,linux/arm64

work=$(mktemp -d)
reg_pid=""
cleanup() { [[ -n $reg_pid ]] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ko, installed by version with go install (kept in GOBIN between runs).
gobin=${KO_GOBIN:-$(go env GOPATH)/bin}
if ! "$gobin/ko" version 2>/dev/null | grep -qxE "v?${KO_VERSION#v}"; then
  echo "installing ko $KO_VERSION into $gobin"
  GOBIN=$gobin go install "github.com/google/ko@$KO_VERSION"
fi
ko=$gobin/ko
echo "ko $("$ko" version)"

go build -o "$work/conveyor-build-push" ./actions/build-push
go build -o "$work/buildpushbench" ./actions/internal/buildpushbench

sha=$(git rev-parse HEAD)
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH
pkgs=()
for s in "${services[@]}"; do pkgs+=("./services/$s"); done

# fresh_registry: a new, empty registry (go-containerregistry keeps blobs
# across repositories, so "cold" needs a new one) with the shared base in it.
fresh_registry() {
  if [[ -n $reg_pid ]]; then
    kill "$reg_pid" 2>/dev/null || true
    wait "$reg_pid" 2>/dev/null || true
  fi
  rm -f "$work/addr"
  "$work/buildpushbench" registry "$work/addr" &
  reg_pid=$!
  for _ in $(seq 1 100); do [[ -s $work/addr ]] && break; sleep 0.1; done
  reg=$(cat "$work/addr")
  base=$("$work/buildpushbench" base "$reg/base")
  # ko gets the same flags conveyor uses (stripped, revision stamped, trimpath).
  {
    echo "defaultBaseImage: $base"
    echo "defaultPlatforms: [linux/amd64, linux/arm64]"
    echo "builds:"
    for s in "${services[@]}"; do
      printf -- '- id: %s\n  main: ./services/%s\n  env: [CGO_ENABLED=0]\n  flags: [-trimpath]\n  ldflags: ["-s", "-w", "-X github.com/conveyor-dev/conveyor/services/internal/version.Revision=%s"]\n' "$s" "$s" "$sha"
    done
  } >"$work/.ko.yaml"
}

conveyor_run() {
  "$work/conveyor-build-push" --repository-prefix "$reg/conveyor" --base-image "$base" \
    --revision "$sha" --registry-auth docker --cache-dir "$work/conveyor-cache" \
    --platforms "$platforms" --services "$(IFS=,; echo "${services[*]}")" >"$work/conveyor.log" 2>&1 ||
    { cat "$work/conveyor.log"; exit 1; }
}
ko_run() {
  KO_CONFIG_PATH="$work/.ko.yaml" KO_DOCKER_REPO="$reg/ko" "$ko" build -B --platform="$platforms" \
    --tags="$sha" "${pkgs[@]}" >"$work/ko.log" 2>&1 || { cat "$work/ko.log"; exit 1; }
}
bytes() { "$work/buildpushbench" bytes "$reg"; }

timed() { # timed NAME GOCACHE_DIR_OR_EMPTY -> seconds, and bytes uploaded "blob manifest"
  local name=$1 gocache=$2 before after t0 t1
  before=$(bytes)
  t0=$(now)
  if [[ -n $gocache ]]; then GOCACHE=$gocache "${name}_run"; else "${name}_run"; fi
  t1=$(now)
  after=$(bytes)
  echo "$(secs "$t0" "$t1") $(awk -v b="$before" -v a="$after" 'BEGIN { split(b, x, " "); split(a, y, " "); print y[1] - x[1], y[2] - x[2] }')"
}

rounds=${BENCH_ROUNDS:-3}
if [[ ${BENCH_FRESH_GOCACHE:-} == 1 ]]; then
  rounds=${BENCH_ROUNDS:-1}
  cache_note="each tool's cold run with its own empty GOCACHE"
else
  cache_note="Go build cache warmed for both platforms first (both link, neither compiles)"
  for arch in amd64 arm64; do
    CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -o "$work/warm-$arch/" "${pkgs[@]}"
  done
fi

# One cold run and one no-op run per tool per round, each cold run on a fresh
# registry; the order alternates so a machine getting busier or quieter does
# not favour one tool. The median of the rounds is reported.
declare -A t
for r in $(seq 1 "$rounds"); do
  order=(conveyor ko)
  ((r % 2 == 0)) && order=(ko conveyor)
  for tool in "${order[@]}"; do
    fresh_registry
    rm -rf "$work/conveyor-cache"
    gc=""
    [[ ${BENCH_FRESH_GOCACHE:-} == 1 ]] && gc=$work/gocache-$tool-$r
    read -r secs_ blob_ man_ <<<"$(timed "$tool" "$gc")"
    t[$tool,cold]+="$secs_ "; t[$tool,cold_blob]=$blob_; t[$tool,cold_man]=$man_
    echo "round $r $tool: cold ${secs_}s"
    read -r secs_ blob_ man_ <<<"$(timed "$tool" "$gc")"
    t[$tool,noop]+="$secs_ "; t[$tool,noop_blob]=$blob_; t[$tool,noop_man]=$man_
    echo "round $r $tool: no-op ${secs_}s"
    [[ $tool == conveyor ]] && cp "$work/conveyor.log" "$work/conveyor-noop.log"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR]=$1} END { printf "%.2f", (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }
c_cold=$(median "${t[conveyor,cold]}") k_cold=$(median "${t[ko,cold]}")
c_noop=$(median "${t[conveyor,noop]}") k_noop=$(median "${t[ko,noop]}")
c_cold_blob=${t[conveyor,cold_blob]} k_cold_blob=${t[ko,cold_blob]}
c_cold_man=${t[conveyor,cold_man]} k_cold_man=${t[ko,cold_man]}
c_noop_blob=${t[conveyor,noop_blob]} k_noop_blob=${t[ko,noop_blob]}
c_noop_man=${t[conveyor,noop_man]} k_noop_man=${t[ko,noop_man]}

goal() { awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "met" : "MISSED" }'; }
cold_ratio=$(ratio "$c_cold" "$k_cold")
noop_ratio=$(ratio "$c_noop" "$k_noop")
cat <<REPORT

build-push vs ko $KO_VERSION: ${#services[@]} services x 2 platforms, local go-containerregistry registry
cold = fresh registry, no tool cache; $cache_note; median of $rounds round(s)
cold runs (s): conveyor ${t[conveyor,cold]}/ ko ${t[ko,cold]}; no-op runs (s): conveyor ${t[conveyor,noop]}/ ko ${t[ko,noop]}
                        conveyor        ko   ratio  goal
cold build+push (s)     $(printf '%8s  %8s  %6s  <=0.8 %s' "$c_cold" "$k_cold" "$cold_ratio" "$(goal "$cold_ratio" 0.8)")
no-op rebuild (s)       $(printf '%8s  %8s  %6s  <=0.8 %s' "$c_noop" "$k_noop" "$noop_ratio" "$(goal "$noop_ratio" 0.8)")
cold blob bytes up      $(printf '%8s  %8s' "$c_cold_blob" "$k_cold_blob")
cold manifest bytes up  $(printf '%8s  %8s' "$c_cold_man" "$k_cold_man")
no-op blob bytes up     $(printf '%8s  %8s' "$c_noop_blob" "$k_noop_blob")         goal 0: $([[ $c_noop_blob == 0 ]] && echo met || echo MISSED)
no-op manifest bytes up $(printf '%8s  %8s' "$c_noop_man" "$k_noop_man")
REPORT
grep -E '^\| ' "$work/conveyor-noop.log" || true
