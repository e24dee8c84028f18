#!/usr/bin/env bash
# The services' overhead over the AWS calls they make, against a private moto
# on loopback: SubmitTask through the api vs the raw DynamoDB+SQS calls, and
# echo tasks through the worker vs a raw consumer, each with ratios.
# Usage: bash bench/services.sh [-submits N] [-tasks N] [-concurrency N] [-rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./services/internal/servicesbench "$@"
