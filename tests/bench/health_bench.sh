#!/usr/bin/env bash
# Benchmarks Weft's health API (issue 5): Debian's wrk against `GET /v1/health/service/web?passing`
# on an agent dev holding INSTANCES passing instances of `web`, and in the same run, as the
# reference, the same wrk against Debian's etcd 3.4 answering a range read of the same instances
# (one JSON value per instance under /svc/web/, through its HTTP/JSON gateway, POST /v3/kv/range)
# -- the nearest thing in Debian to "a small list of instances from a cluster store over HTTP"
# (Consul is not packaged). Each server alone in turn on one core (taskset -c 1), wrk on the other
# (taskset -c 0), ROUNDS rounds interleaved; reports requests per second, p50 and p99 latency, and
# Weft's ratios on the medians. The bodies differ: Weft answers Consul's full shape (node, service
# and checks per instance), etcd the values base64-encoded; both sizes are printed.
#
# Usage: tests/bench/health_bench.sh [BUILD_DIR]   (default build/; needs BUILD_DIR/agent)
#   INSTANCES=3 SECONDS_EACH=10 ROUNDS=3 CONNECTIONS=50 OUT=DIR
# Needs root only to install wrk and etcd-server with apt-get when they are missing.
set -euo pipefail

BENCH=health_bench
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-}"
INSTANCES=${INSTANCES:-3}
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
bench_positive INSTANCES SECONDS_EACH ROUNDS CONNECTIONS
[ "$INSTANCES" -le 500 ] || die "at most 500 instances (the agent keeps 512 services)"
[ "$CONNECTIONS" -le 1000 ] || die "at most 1000 connections"
bench_install wrk:wrk etcd:etcd-server

bench_work healthbench
wait_http() {  # wait_http URL: up to 20 s
  for _ in $(seq 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  die "$1 did not answer within 20 s"
}

# Weft: the instances registered through the agent API, each with a TTL check set passing; the
# benchmark starts once the catalog (fed by anti-entropy) holds all of them passing.
whttp=$(free_port)
taskset -c 1 "$agent" dev -ports.http="$whttp" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" \
  -data_dir="$work/weft" -socket_path="$work/weft.sock" -node_name=bench -log_level=warn >"$OUT/weft.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$whttp/v1/agent/health"
for j in $(seq "$INSTANCES"); do
  curl -fsS -o /dev/null -X PUT --data-binary \
    "{\"ID\":\"web-$j\",\"Name\":\"web\",\"Address\":\"10.0.$((j / 250)).$((j % 250 + 1))\",\"Port\":8080,\"Tags\":[\"v1\"],\"Check\":{\"CheckID\":\"web-$j\",\"TTL\":\"1h\"}}" \
    "http://127.0.0.1:$whttp/v1/agent/service/register" || die "registering web-$j failed"
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$whttp/v1/agent/check/pass/web-$j" || die "passing web-$j failed"
done
weft_url="http://127.0.0.1:$whttp/v1/health/service/web?passing"
for _ in $(seq 300); do
  n=$(curl -fsS "$weft_url" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
  [ "$n" = "$INSTANCES" ] && break
  sleep 0.1
done
[ "$n" = "$INSTANCES" ] || die "the catalog did not list $INSTANCES passing instances within 30 s (got $n)"

# etcd: one member, the same instances as JSON values.
eclient=$(free_port)
taskset -c 1 etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$eclient" \
  --advertise-client-urls "http://127.0.0.1:$eclient" --listen-peer-urls "http://127.0.0.1:$(free_port)" \
  --log-level error >"$OUT/etcd.log" 2>&1 &
PIDS+=("$!")
b64() { printf '%s' "$1" | base64 -w0; }
for _ in $(seq 200); do curl -fsS -o /dev/null -X POST -d '{}' "http://127.0.0.1:$eclient/v3/maintenance/status" 2>/dev/null && break; sleep 0.1; done
for j in $(seq "$INSTANCES"); do
  value="{\"Node\":\"bench\",\"ID\":\"web-$j\",\"Service\":\"web\",\"Address\":\"10.0.$((j / 250)).$((j % 250 + 1))\",\"Port\":8080,\"Tags\":[\"v1\"],\"Status\":\"passing\"}"
  curl -fsS -o /dev/null -X POST -d "{\"key\":\"$(b64 "/svc/web/web-$j")\",\"value\":\"$(b64 "$value")\"}" \
    "http://127.0.0.1:$eclient/v3/kv/put" || die "etcd put web-$j failed"
done
range_body="{\"key\":\"$(b64 /svc/web/)\",\"range_end\":\"$(b64 /svc/web0)\"}"
cat >"$work/range.lua" <<LUA
wrk.method = "POST"
wrk.body = '$range_body'
wrk.headers["Content-Type"] = "application/json"
LUA
n=$(curl -fsS -X POST -d "$range_body" "http://127.0.0.1:$eclient/v3/kv/range" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("count","0"))')
[ "$n" = "$INSTANCES" ] || die "etcd's range read counts $n, not $INSTANCES"
etcd_url="http://127.0.0.1:$eclient/v3/kv/range"
weft_bytes=$(curl -fsS "$weft_url" | wc -c)
etcd_bytes=$(curl -fsS -X POST -d "$range_body" "$etcd_url" | wc -c)

# run SYSTEM ROUND: one wrk run; appends "system rps p50_ms p99_ms" to results.
ms() {  # wrk's latency ("1.23ms", "850.00us", "1.02s") in milliseconds
  awk -v t="$1" 'BEGIN { v = t + 0; if (t ~ /us$/) v /= 1000; else if (t ~ /ms$/) v += 0; else if (t ~ /s$/) v *= 1000; printf "%.3f", v }'
}
run() {
  local out
  if [ "$1" = weft ]; then
    out=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$weft_url")
  else
    out=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -s "$work/range.lua" "$etcd_url")
  fi
  echo "$out" >"$OUT/wrk-$1-$2.txt"
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then die "$1 round $2: errors (see $OUT/wrk-$1-$2.txt)"; fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  echo "$1 $rps $p50 $p99" >>"$work/results"
  echo "  $1 round $2: $rps req/s, p50 $p50 ms, p99 $p99 ms" >&2
}
: >"$work/results"
for r in $(seq "$ROUNDS"); do
  run weft "$r"
  run etcd "$r"
done

median() {  # median SYSTEM FIELD
  awk -v s="$1" -v f="$2" '$1 == s {print $f}' "$work/results" | sort -g | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }'
}
echo "# health_bench: $INSTANCES instances, $CONNECTIONS connections, ${SECONDS_EACH}s x $ROUNDS rounds, $(date -u +%F)"
echo "# bodies: Weft $weft_bytes bytes, etcd $etcd_bytes bytes"
echo "| system | req/s (median) | p50 ms | p99 ms |"
echo "|---|---|---|---|"
for s in weft etcd; do echo "| $s | $(median "$s" 2) | $(median "$s" 3) | $(median "$s" 4) |"; done
awk -v a="$(median weft 2)" -v b="$(median etcd 2)" -v c="$(median weft 4)" -v d="$(median etcd 4)" \
  'BEGIN { printf "Weft/etcd: throughput %.2fx, p99 %.2fx (lower is better)\n", a / b, c / d }'
