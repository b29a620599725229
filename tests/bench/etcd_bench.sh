#!/usr/bin/env bash
# Benchmarks Weft's foundations beside Debian's etcd 3.4 on this machine, in one run: three
# members of each on loopback, fsync on for both (etcd's default; Weft's Raft log is
# synchronous=FULL), the same value size and client concurrency, measured by the same client
# (tests/lin/kvclient: Weft's Consul-compatible /v1/kv, etcd's v3 JSON gateway, both HTTP/1.1
# keep-alive, one connection per client):
#   - sequential write latency p50/p99: one client, one write at a time, to the leader;
#   - saturated write throughput: CLIENTS concurrent clients spread over the three members, each
#     writing as soon as its last write was answered, for TPUT_S seconds;
#   - failover: kill -9 of the leader until a write succeeds again (one probe client per member
#     writing every 5 ms; the time from the kill to the first success after it), FAILOVERS times,
#     the killed member restarted between kills.
# Each system runs alone (etcd first, then Weft, never both at once) inside a private network
# namespace with only its own 127.0.0.1, so no port clashes with anything else on the machine; the
# wrapper removes everything on exit, Ctrl-C included.
#
# Usage: tests/bench/etcd_bench.sh [BUILD_DIR]
#   BUILD_DIR  default build: needs BUILD_DIR/agent and BUILD_DIR/tests/kvclient (a release build:
#              cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release &&
#              ninja -C build-bench agent kvclient); built there if missing
#   SYSTEMS=etcd,weft CLIENTS=64 VALUE_BYTES=1024 LAT_COUNT=2000 TPUT_S=10 FAILOVERS=5 OUT=DIR
#   WEFT_FLAGS="..." (extra agent flags)
# Needs root (ip netns). Prints the figures per system and a markdown table; keeps both in OUT.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
SYSTEMS=${SYSTEMS:-etcd,weft}
CLIENTS=${CLIENTS:-64}
VALUE_BYTES=${VALUE_BYTES:-1024}
LAT_COUNT=${LAT_COUNT:-2000}
TPUT_S=${TPUT_S:-10}
FAILOVERS=${FAILOVERS:-5}
WEFT_FLAGS=${WEFT_FLAGS:-}

die() { echo "etcd_bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (it makes a network namespace)"
for v in CLIENTS VALUE_BYTES LAT_COUNT TPUT_S FAILOVERS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive whole number, got '${!v}'"
done
build=$(cd "$build" 2>/dev/null && pwd) || { mkdir -p "$build"; build=$(cd "$build" && pwd); }
if [ ! -x "$build/agent" ] || [ ! -x "$build/tests/kvclient" ]; then
  echo "etcd_bench: building agent and kvclient in $build (release)" >&2
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build" -j2 agent kvclient >/dev/null
fi
agent=$build/agent
kvclient=$build/tests/kvclient
if ! command -v etcd >/dev/null; then
  echo "etcd_bench: installing etcd-server (apt-get install etcd-server)" >&2
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y etcd-server >/dev/null || die "apt-get install etcd-server failed"
fi
etcd=$(command -v etcd)

ns=weft-ebench-$$
work=$(mktemp -d /tmp/weft-ebench.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"

cleanup() {
  trap - EXIT INT TERM
  # Everything the run started lives in the namespace: end exactly those processes.
  local pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    kill -CONT $pids 2>/dev/null || true
    kill -KILL $pids 2>/dev/null || true
  fi
  for _ in $(seq 50); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
  ip netns del "$ns" 2>/dev/null || true
  if [ "$OUT" != "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
inns() { ip netns exec "$ns" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

{
  echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n): $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg); disk of $work: $(df -P "$work" | awk 'NR==2 {print $1}')"
  # The binary does not carry its commit: say which file ran (its digest and build time) and the
  # source tree's HEAD at the start of the run, which is the binary's only if it was built from it.
  echo "# agent: $agent (sha256 $(sha256sum "$agent" | cut -c1-12), built $(date -u -r "$agent" '+%Y-%m-%d %H:%M UTC')); source tree at run start: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "# etcd: $etcd ($("$etcd" --version | head -1 | sed 's/etcd Version: //'))"
  echo "# values $VALUE_BYTES bytes; latency: $LAT_COUNT sequential writes; throughput: $CLIENTS clients for $TPUT_S s; failover: $FAILOVERS kills"
} | tee "$OUT/run.txt" >&2

# --- the two systems: start member K (1..3), its client endpoint, its pid --------------------------

pidfile() { echo "$work/$1-m$2.pid"; }
member_pid() {
  local p s
  p=$(cat "$(pidfile "$1" "$2")" 2>/dev/null) || return 1
  s=$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null | awk '{print $1}') || return 1
  [ -n "$s" ] && [ "$s" != Z ] || return 1
  echo "$p"
}
endpoint() {  # endpoint SYSTEM K
  if [ "$1" = etcd ]; then echo "127.0.0.1:$((20000 + 10 * $2 + 1))"; else echo "127.0.0.1:$((21000 + 10 * $2 + 1))"; fi
}
endpoints() { echo "$(endpoint "$1" 1),$(endpoint "$1" 2),$(endpoint "$1" 3)"; }
api() { if [ "$1" = etcd ]; then echo etcd; else echo consul; fi; }

start_member() {  # start_member SYSTEM K: starts it unless it runs
  local sys=$1 k=$2 args
  member_pid "$sys" "$k" >/dev/null && return 0
  if [ "$sys" = etcd ]; then
    local b=$((20000 + 10 * k)) cluster="" i
    for i in 1 2 3; do cluster+="${cluster:+,}m$i=http://127.0.0.1:$((20000 + 10 * i + 2))"; done
    args=("$etcd" --name "m$k" --data-dir "$work/etcd-m$k"
          --listen-client-urls "http://127.0.0.1:$((b + 1))" --advertise-client-urls "http://127.0.0.1:$((b + 1))"
          --listen-peer-urls "http://127.0.0.1:$((b + 2))" --initial-advertise-peer-urls "http://127.0.0.1:$((b + 2))"
          --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "bench$$")
  else
    local b=$((21000 + 10 * k)) i t=$work/tls
    mkdir -p "$work/weft-m$k/config" "$t"
    # The RPC between foundations is mutual TLS: a throwaway CA and one server certificate, made
    # once per run (agentctl tls, as the lab and raft_cluster_test do).
    if [ ! -f "$t/dc1-server-weft-0-key.pem" ]; then
      (cd "$t" && "$agent" ctl tls ca create >/dev/null && "$agent" ctl tls cert create -server >/dev/null) ||
        die "agent ctl tls could not make a CA and a server certificate"
    fi
    # shellcheck disable=SC2206  # WEFT_FLAGS is split on purpose
    args=("$agent" -config "$work/weft-m$k/config" -cmdline= -node_name="m$k" -data_dir="$work/weft-m$k/data"
          -socket_path="$work/weft-m$k/agent.sock" -bind_addr=127.0.0.1 -advertise_addr=127.0.0.1
          -client_addr=127.0.0.1 -ports.http=$((b + 1)) -ports.rpc=$((b + 2)) -ports.gossip=$((b + 3))
          -ports.dns=$((b + 4)) -server -bootstrap_expect=3 -gossip.profile=fast -log_level=warn
          -tls.ca_file="$t/weft-agent-ca.pem" -tls.cert_file="$t/dc1-server-weft-0.pem"
          -tls.key_file="$t/dc1-server-weft-0-key.pem" -gossip.rejoin_interval=1s $WEFT_FLAGS)
    # Every member retries joining the others, so a restarted member finds the fleet whichever
    # of them is down.
    for i in 1 2 3; do [ "$i" = "$k" ] || args+=(-retry_join="127.0.0.1:$((21000 + 10 * i + 3))"); done
  fi
  # shellcheck disable=SC2016
  inns setsid sh -c 'echo $$ >"$0"; exec "$@"' "$(pidfile "$sys" "$k")" "${args[@]}" \
    </dev/null >>"$OUT/$sys-m$k.log" 2>&1 &
  local deadline=$(( $(now_ms) + 5000 ))
  until member_pid "$sys" "$k" >/dev/null; do
    [ "$(now_ms)" -lt "$deadline" ] || die "$sys m$k did not start (log $OUT/$sys-m$k.log)"
    sleep 0.02
  done
}

kill_member() {  # kill -9, then wait until it is gone
  local p
  p=$(member_pid "$1" "$2") || return 0
  kill -KILL "$p"
  for _ in $(seq 200); do member_pid "$1" "$2" >/dev/null || return 0; sleep 0.02; done
  die "$1 m$2 (pid $p) survived SIGKILL"
}

# one_write SYSTEM ENDPOINT: a single write succeeds within a second.
one_write() {
  inns "$kvclient" latency --api="$(api "$1")" --endpoints="$2" --count=1 --warmup=0 --timeout-ms=1000 \
    --duration-s=2 --prefix=bench/ready --value-bytes=8 2>/dev/null | grep -q 'writes=1 '
}
wait_writable() {  # wait_writable SYSTEM SECONDS: writes succeed through every member
  local deadline=$(( $(now_ms) + $2 * 1000 )) k ok
  while [ "$(now_ms)" -lt "$deadline" ]; do
    ok=1
    for k in 1 2 3; do one_write "$1" "$(endpoint "$1" "$k")" || { ok=0; break; }; done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

leader() {  # leader SYSTEM: the member index of the leader, or nothing
  local sys=$1 k out lead="" ids=()
  if [ "$sys" = weft ]; then
    for k in 1 2 3; do
      out=$(inns curl -sS --max-time 1 "http://$(endpoint weft "$k")/v1/status/leader" 2>/dev/null) || continue
      out=${out//\"/}
      # The leader's RPC address names the member: rpc port = 21000 + 10k + 2.
      if [[ "$out" =~ :([0-9]+)$ ]]; then echo $(( (BASH_REMATCH[1] - 21002) / 10 )); return 0; fi
    done
    return 0
  fi
  for k in 1 2 3; do
    out=$(inns curl -sS --max-time 1 -X POST -d '{}' "http://$(endpoint etcd "$k")/v3/maintenance/status" 2>/dev/null) || { ids+=(""); continue; }
    ids+=("$(grep -oE '"member_id":"[0-9]+"' <<<"$out" | grep -oE '[0-9]+' || true)")
    [ -n "$lead" ] || lead=$(grep -oE '"leader":"[0-9]+"' <<<"$out" | grep -oE '[0-9]+' || true)
  done
  for k in 1 2 3; do [ -n "$lead" ] && [ "${ids[k-1]}" = "$lead" ] && { echo "$k"; return 0; }; done
  return 0
}

field() { grep -oE " $1=[^ ]+" <<<"$2" | head -1 | cut -d= -f2 || true; }

declare -A R   # R[system.metric] = value

bench_system() {
  local sys=$1 k l out
  echo "etcd_bench: $sys: starting 3 members" >&2
  for k in 1 2 3; do start_member "$sys" "$k"; [ "$k" = 1 ] && sleep 0.3; done
  wait_writable "$sys" 60 || die "$sys: writes do not succeed through every member within 60 s (logs in $OUT)"
  l=$(leader "$sys")
  [ -n "$l" ] || die "$sys: no leader found"
  R[$sys.load_start]=$(cut -d' ' -f1 /proc/loadavg)

  out=$(inns "$kvclient" latency --api="$(api "$sys")" --endpoints="$(endpoint "$sys" "$l")" --count="$LAT_COUNT" \
        --warmup=50 --value-bytes="$VALUE_BYTES" --prefix=bench/lat --duration-s=300 2>>"$OUT/$sys-client.err")
  echo "etcd_bench: $sys: $out" >&2
  R[$sys.lat_p50]=$(field p50_ms "$out"); R[$sys.lat_p99]=$(field p99_ms "$out"); R[$sys.lat_mean]=$(field mean_ms "$out")
  R[$sys.lat_fail]=$(field failures "$out")

  out=$(inns "$kvclient" throughput --api="$(api "$sys")" --endpoints="$(endpoints "$sys")" --clients="$CLIENTS" \
        --duration-s="$TPUT_S" --warmup-s=1 --value-bytes="$VALUE_BYTES" --prefix=bench/tput --timeout-ms=5000 \
        2>>"$OUT/$sys-client.err")
  echo "etcd_bench: $sys: $out" >&2
  R[$sys.tput]=$(field writes_per_s "$out"); R[$sys.tput_p50]=$(field p50_ms "$out"); R[$sys.tput_p99]=$(field p99_ms "$out")
  R[$sys.tput_fail]=$(field failures "$out")

  local i times=() kill_ns gap_end rec
  for i in $(seq 1 "$FAILOVERS"); do
    wait_writable "$sys" 60 || die "$sys: not writable before failover $i"
    l=$(leader "$sys")
    [ -n "$l" ] || die "$sys: no leader before failover $i"
    inns "$kvclient" probe --api="$(api "$sys")" --endpoints="$(endpoints "$sys")" --interval-ms=5 --timeout-ms=1000 \
      --duration-s=60 --gap-min-ms=200 --recovered-ms=1000 --armed-after-ms=1900 --value-bytes="$VALUE_BYTES" --prefix="bench/probe$i" \
      >"$work/probe.out" 2>>"$OUT/$sys-probe.err" &
    local probe=$!
    sleep 2   # the probe counts only gaps that end after 1.9 s: hiccups before the kill do not stop it
    kill_ns=$(date +%s%N)
    kill_member "$sys" "$l"
    wait "$probe" || die "$sys: probe failed"
    out=$(cat "$work/probe.out")
    gap_end=$(field gap_end_unix_ns "$out")
    if [ "$(field recovered "$out")" != yes ] || [ -z "$gap_end" ] || [ "$gap_end" -lt "$kill_ns" ]; then
      echo "etcd_bench: $sys: failover $i: writes did not come back after the kill ($out)" >&2
      rec=NaN
    else
      rec=$(awk -v a="$gap_end" -v b="$kill_ns" 'BEGIN { printf "%.3f", (a - b) / 1e9 }')
    fi
    times+=("$rec")
    echo "etcd_bench: $sys: failover $i: leader m$l killed; writes succeed again after $rec s ($out)" >&2
    start_member "$sys" "$l"
  done
  R[$sys.fail_all]="${times[*]}"
  R[$sys.fail_mean]=$(printf '%s\n' "${times[@]}" | awk '$1 != "NaN" { s += $1; n++ } END { if (n) printf "%.3f", s / n; else print "NaN" }')
  R[$sys.fail_median]=$(printf '%s\n' "${times[@]}" | grep -v NaN | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; else print "NaN" }')
  R[$sys.fail_max]=$(printf '%s\n' "${times[@]}" | sort -g | tail -1)
  R[$sys.fail_lost]=$(printf '%s\n' "${times[@]}" | grep -c NaN || true)
  R[$sys.load_end]=$(cut -d' ' -f1 /proc/loadavg)
  for k in 1 2 3; do kill_member "$sys" "$k"; done
}

IFS=, read -r -a systems <<<"$SYSTEMS"
for s in "${systems[@]}"; do
  case $s in etcd|weft) bench_system "$s" ;; *) die "unknown system '$s' (SYSTEMS=etcd,weft)" ;; esac
done

v() { echo "${R[$1.$2]:-}"; }
ratio() {  # ratio METRIC: weft/etcd
  awk -v a="$(v weft "$1")" -v b="$(v etcd "$1")" 'BEGIN { if (a == "" || b == "" || b + 0 == 0 || a == "NaN" || b == "NaN") print ""; else printf "%.2f", a / b }'
}
row() { echo "| $1 | $(v weft "$2") | $(v etcd "$2") | $(ratio "$2") |"; }
{
  echo "| metric (3 members on loopback, fsync on, $VALUE_BYTES-byte values) | Weft | etcd | Weft/etcd |"
  echo "|---|---:|---:|---:|"
  row "sequential write latency p50, ms (1 client, to the leader, $LAT_COUNT writes)" lat_p50
  row "sequential write latency p99, ms" lat_p99
  row "sequential write latency mean, ms" lat_mean
  row "saturated write throughput, writes/s ($CLIENTS clients over 3 members, $TPUT_S s)" tput
  row "  latency under that load p50, ms" tput_p50
  row "  latency under that load p99, ms" tput_p99
  row "failover: kill -9 of the leader until a write succeeds, s (mean of $FAILOVERS)" fail_mean
  row "  median" fail_median
  row "  slowest" fail_max
  echo "| failover, each kill, s | $(v weft fail_all) | $(v etcd fail_all) | |"
  echo "| failed writes (latency run / throughput run) | $(v weft lat_fail) / $(v weft tput_fail) | $(v etcd lat_fail) / $(v etcd tput_fail) | |"
  echo "| load average (1 min) at start / end | $(v weft load_start) / $(v weft load_end) | $(v etcd load_start) / $(v etcd load_end) | |"
} | tee "$OUT/table.md"
echo "etcd_bench: results in $OUT" >&2
