#!/usr/bin/env bash
# Benchmark: conveyor's deploy action vs `aws ecs update-service` + `aws ecs
# wait services-stable` against the ECS rollout stand-in, on the same
# adversarial scenarios (bench/deployscore lists them): how many each tool
# gets right, the time from ECS's terminal state to the tool's exit, and the
# reads each spends.
# Usage: bash bench/deploy.sh     (SPEED=20 POLL=1s ONLY=<name part> to change)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v aws >/dev/null || { echo "bench/deploy.sh: the aws CLI is needed for the waiter side (pip install awscli)" >&2; exit 1; }
go build -o "$work/deploy" ./actions/deploy
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
go run ./bench/deployscore -deploy "$work/deploy" -speed "${SPEED:-20}" -poll "${POLL:-1s}" -only "${ONLY:-}"
