#!/usr/bin/env bash
# Benchmarks Weft's membership beside Debian's serf on this machine, in one run, same timing
# profile (lan), same encryption (AES-256-GCM: both get one 32-byte key): convergence, failure
# detection after kill -9, flaps under SIGSTOP pauses, and steady-state UDP datagrams, CPU and
# resident memory per agent, for each N. The measuring is in serf_bench.py; this wrapper installs
# serf if missing, makes a private network namespace (only its own 127.0.0.1, so its UDP counters
# see only the agents' datagrams and no port can clash with anything else on the machine), runs
# the helper inside it, and removes everything on exit, Ctrl-C included.
#
# Usage: tests/bench/serf_bench.sh [AGENT_BINARY] [-- helper options]
#   AGENT_BINARY  default build/agent (a release build: cmake -S . -B build-bench -G Ninja)
#   SIZES=20,50,100 WINDOW=20 PAUSES=2,4,6,8 SYSTEMS=weft,serf ENCRYPT=1 DETECT_REPS=10 OUT=DIR
#   (environment; DETECT_REPS is how many times each fleet has an agent killed, see serf_bench.py)
# Needs root (ip netns). Prints the JSON per (system, N) and a markdown table; keeps both in OUT.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
agent=${1:-$root/build/agent}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift

SIZES=${SIZES:-20,50,100}
WINDOW=${WINDOW:-20}
PAUSES=${PAUSES:-2,4,6,8}
SYSTEMS=${SYSTEMS:-weft,serf}
ENCRYPT=${ENCRYPT:-1}
DETECT_REPS=${DETECT_REPS:-10}

die() { echo "serf_bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (it makes a network namespace)"
[ -x "$agent" ] || die "no agent binary at $agent (build: cmake -S $root -B $root/build-bench -G Ninja && ninja -C $root/build-bench agent)"
agent=$(cd "$(dirname "$agent")" && pwd)/$(basename "$agent")
if ! command -v serf >/dev/null; then
  echo "serf_bench: installing serf (apt-get install serf)" >&2
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y serf >/dev/null || die "apt-get install serf failed"
fi
serf=$(command -v serf)

ns=weft-bench-$$
work=$(mktemp -d /tmp/weft-bench.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"

cleanup() {
  trap - EXIT INT TERM
  if [ -n "${helper:-}" ]; then kill -TERM "$helper" 2>/dev/null || true; fi
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

key=""
if [ "$ENCRYPT" = 1 ]; then
  # A Weft key (base64 of 32 bytes) is also a valid serf key (memberlist takes 16, 24 or 32 bytes
  # and uses AES-GCM with that key size): both fleets run AES-256-GCM.
  ctl=$(dirname "$agent")/agentctl
  if [ -x "$ctl" ]; then key=$("$ctl" keygen); else key=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'); fi
fi

{
  echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n): $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# agent: $agent ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+dirty'))"
  echo "# serf: $serf ($("$serf" version | head -1)); encryption: $([ -n "$key" ] && echo 'AES-256-GCM, one key for both' || echo off)"
  echo "# sizes $SIZES, window ${WINDOW}s, pauses $PAUSES s, kill -9 repeated $DETECT_REPS times per fleet"
} | tee "$OUT/run.txt" >&2

ip netns exec "$ns" python3 "$here/serf_bench.py" --agent "$agent" --serf "$serf" --key "$key" \
  --workdir "$work" --sizes "$SIZES" --systems "$SYSTEMS" --pauses "$PAUSES" --window "$WINDOW" \
  --detect-reps "$DETECT_REPS" --json "$OUT/results.json" "$@" | tee "$OUT/table.md" &
helper=$!
wait "$helper"
helper=""
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt" >&2
echo "serf_bench: results in $OUT" >&2
