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

"$work/buildpushbench" registry "$work/addr" &
reg_pid=$!
for _ in $(seq 1 100); do [[ -s $work/addr ]] && break; sleep 0.1; done
reg=$(cat "$work/addr")
base=$("$work/buildpushbench" base "$reg/base")
echo "registry $reg, base $base"

sha=$(git rev-parse HEAD)
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH
pkgs=()
for s in "${services[@]}"; do pkgs+=("./services/$s"); done

# ko gets the same flags conveyor uses (stripped, revision stamped, trimpath).
cat >"$work/.ko.yaml" <<KO
defaultBaseImage: $base
defaultPlatforms: [linux/amd64, linux/arm64]
builds:
$(for s in "${services[@]}"; do printf -- '- id: %s\n  main: ./services/%s\n  env: [CGO_ENABLED=0]\n  flags: [-trimpath]\n  ldflags: ["-s", "-w", "-X github.com/conveyor-dev/conveyor/services/internal/version.Revision=%s"]\n' "$s" "$s" "$sha"; done)
KO

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

if [[ ${BENCH_FRESH_GOCACHE:-} == 1 ]]; then
  cache_note="each tool's cold run with its own empty GOCACHE"
  conveyor_gc=$work/gocache-conveyor ko_gc=$work/gocache-ko
else
  cache_note="Go build cache warmed for both platforms first (both link, neither compiles)"
  conveyor_gc="" ko_gc=""
  for arch in amd64 arm64; do
    CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -o "$work/warm-$arch/" "${pkgs[@]}"
  done
fi

read -r c_cold c_cold_blob c_cold_man <<<"$(timed conveyor "$conveyor_gc")"
read -r k_cold k_cold_blob k_cold_man <<<"$(timed ko "$ko_gc")"
read -r c_noop c_noop_blob c_noop_man <<<"$(timed conveyor "$conveyor_gc")"
read -r k_noop k_noop_blob k_noop_man <<<"$(timed ko "$ko_gc")"

goal() { awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "met" : "MISSED" }'; }
cold_ratio=$(ratio "$c_cold" "$k_cold")
noop_ratio=$(ratio "$c_noop" "$k_noop")
cat <<REPORT

build-push vs ko $KO_VERSION: ${#services[@]} services x 2 platforms, registry $reg (in-process go-containerregistry)
cold = empty registry, no tool cache; $cache_note
                        conveyor        ko   ratio  goal
cold build+push (s)     $(printf '%8s  %8s  %6s  <=0.8 %s' "$c_cold" "$k_cold" "$cold_ratio" "$(goal "$cold_ratio" 0.8)")
no-op rebuild (s)       $(printf '%8s  %8s  %6s  <=0.8 %s' "$c_noop" "$k_noop" "$noop_ratio" "$(goal "$noop_ratio" 0.8)")
cold blob bytes up      $(printf '%8s  %8s' "$c_cold_blob" "$k_cold_blob")
cold manifest bytes up  $(printf '%8s  %8s' "$c_cold_man" "$k_cold_man")
no-op blob bytes up     $(printf '%8s  %8s' "$c_noop_blob" "$k_noop_blob")         goal 0: $([[ $c_noop_blob == 0 ]] && echo met || echo MISSED)
no-op manifest bytes up $(printf '%8s  %8s' "$c_noop_man" "$k_noop_man")
REPORT
grep -E '^\| ' "$work/conveyor.log" || true
