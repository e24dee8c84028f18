#!/usr/bin/env bash
# Benchmark: conveyor's deploy vs `aws ecs wait services-stable` against the
# ECS rollout stand-in, on the same scenarios:
#   - lag: time from the stand-in reaching a terminal state to the tool
#     exiting (conveyor's goal: at most one poll interval);
#   - DescribeServices calls per deployment (the stand-in counts them);
#   - correctness on a circuit-breaker rollback (the waiter says "stable").
# Usage: bash bench/deploy.sh     (SPEED=6 POLL=5s to change the pace)
# SPEED is virtual seconds per real second. At 6 a rolling replacement takes
# about 10 real seconds, longer than the aws CLI takes to start, so the
# waiter really waits; faster, deployments end before the waiter's first call.
set -euo pipefail
cd "$(dirname "$0")/.."
speed=${SPEED:-6}
poll=${POLL:-5s}
work=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/ecs-standin" ./internal/ecsstandin/cmd/ecs-standin
go build -o "$work/deploy" ./actions/deploy

cat >"$work/scenario.json" <<'JSON'
{"rules": [{"match": "sha256:bad", "behaviour": "crash", "exitCode": 1, "crashAfterSeconds": 5}]}
JSON
"$work/ecs-standin" -addr 127.0.0.1:0 -scenario "$work/scenario.json" -speed "$speed" -url-file "$work/url" >"$work/standin.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s $work/url ]] && break; sleep 0.1; done
url=$(cat "$work/url")
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL_ECS=$url
ecs() { aws --endpoint-url "$url" ecs "$@"; }
digest() { printf 'sha256:%s%0*d' "$1" $((64 - ${#1})) 0; }
repo=registry.local/conveyor

register() { # family image → task definition ARN
  ecs register-task-definition --family "$1" --requires-compatibilities FARGATE --network-mode awsvpc \
    --cpu 256 --memory 512 --container-definitions "[{\"name\":\"api\",\"image\":\"$2\",\"essential\":true,\"portMappings\":[{\"containerPort\":8080}]}]" \
    --query taskDefinition.taskDefinitionArn --output text
}
service() { # name → a service with 2 tasks behind a target group, circuit breaker with rollback
  local td
  td=$(register "$1" "$repo/api@$(digest 1111)")
  ecs create-cluster --cluster-name bench >/dev/null
  ecs create-service --cluster bench --service-name "$1" --task-definition "$td" --desired-count 2 --launch-type FARGATE \
    --deployment-configuration 'maximumPercent=200,minimumHealthyPercent=50,deploymentCircuitBreaker={enable=true,rollback=true}' \
    --load-balancers "targetGroupArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/$1/0123456789abcdef,containerName=api,containerPort=8080" >/dev/null
}
settle() { # wait until the service has a COMPLETED deployment (asks the stand-in, not ECS reads)
  for _ in $(seq 600); do
    [[ $(stat | jq --arg s "$1" '[.deployments[] | select(.service == $s and .rolloutState == "COMPLETED")] | length') -gt 0 ]] && return
    sleep 0.1
  done
  echo "service $1 never settled" >&2; return 1
}
stat() { curl -fs "$url/standin/stats"; }
calls() { stat | jq '.calls.DescribeServices // 0'; }
now() { date +%s.%N; }
# last terminal time (real) of the service's deployments, as epoch seconds
terminal() { stat | jq -r --arg s "$1" '[.deployments[] | select(.service == $s and .terminalAtReal != null)] | max_by(.terminalAtReal) | .terminalAtReal' |
  python3 -c 'import sys,datetime; s=sys.stdin.read().strip(); s=s[:26]+"+00:00" if "." in s else s.replace("Z","+00:00"); print(datetime.datetime.fromisoformat(s).timestamp())'; }

run_conveyor() { # service digest → "exit lag calls"
  local c0 c1 code=0 t
  c0=$(calls)
  "$work/deploy" --cluster bench --services "$1" --image-map "{\"api\":\"$repo/api@$(digest "$2")\"}" \
    --poll-interval "$poll" --timeout 10m >"$work/conveyor-$1.log" 2>&1 || code=$?
  t=$(now)
  c1=$(calls)
  echo "$code $(python3 -c "print(f'{$t - $(terminal "$1"):.2f}')") $((c1 - c0))"
}
run_waiter() { # service digest → "exit lag calls"
  local c0 c1 code=0 t td
  td=$(register "$1" "$repo/api@$(digest "$2")")
  c0=$(calls)
  ecs update-service --cluster bench --service "$1" --task-definition "$td" >/dev/null
  ecs wait services-stable --cluster bench --services "$1" || code=$?
  t=$(now)
  c1=$(calls)
  echo "$code $(python3 -c "print(f'{$t - $(terminal "$1"):.2f}')") $((c1 - c0))"
}

for s in ok-conveyor ok-waiter rb-conveyor rb-waiter; do service $s; done
for s in ok-conveyor ok-waiter rb-conveyor rb-waiter; do settle $s; done
read -r c_ok_code c_ok_lag c_ok_calls < <(run_conveyor ok-conveyor 600d)
read -r w_ok_code w_ok_lag w_ok_calls < <(run_waiter ok-waiter 600d)
read -r c_rb_code c_rb_lag c_rb_calls < <(run_conveyor rb-conveyor bad)
read -r w_rb_code w_rb_lag w_rb_calls < <(run_waiter rb-waiter bad)
c_rb_verdict=$(sed -n 's/^output verdicts=//p' "$work/conveyor-rb-conveyor.log" | jq -r '."rb-conveyor"')

ratio() { python3 -c "a,b=$1,$2; print(f'{a/b:.1f}x' if b>0 else 'n/a')"; }
cat <<OUT
stand-in speed ${speed}x, conveyor poll interval $poll, awscli $(aws --version 2>&1 | cut -d' ' -f1)
| scenario | tool | exit code | lag terminal→exit (s) | DescribeServices calls |
|---|---|---|---|---|
| success | conveyor deploy | $c_ok_code | $c_ok_lag | $c_ok_calls |
| success | aws ecs wait services-stable | $w_ok_code | $w_ok_lag | $w_ok_calls |
| circuit-breaker rollback | conveyor deploy | $c_rb_code ($c_rb_verdict) | $c_rb_lag | $c_rb_calls |
| circuit-breaker rollback | aws ecs wait services-stable | $w_rb_code (reports stable) | $w_rb_lag | $w_rb_calls |
lag ratio waiter/conveyor: success $(ratio "$w_ok_lag" "$c_ok_lag"), rollback $(ratio "$w_rb_lag" "$c_rb_lag")
correct on the rollback: conveyor $([[ $c_rb_code != 0 ]] && echo yes || echo NO), waiter $([[ $w_rb_code != 0 ]] && echo yes || echo "no (exit 0: the job would go green)")
OUT
