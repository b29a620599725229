# Shared helpers for the integration tests. Source it; $1 of the test is the agent binary.
# Every wait is bounded; every test cleans up the processes and files it made.
set -uo pipefail

AGENT=${1:?usage: $0 path/to/agent}
AGENT=$(readlink -f "$AGENT")
AGENTCTL=$(dirname "$AGENT")/agentctl
WORK=$(mktemp -d /tmp/weft-it.XXXXXX)
chmod 700 "$WORK"
PIDS=()
FAILS=0
CHECKS=0

cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

ok() { CHECKS=$((CHECKS + 1)); echo "ok: $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
check() {  # check <description> <command...>: passes if the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
  echo "$((CHECKS - FAILS)) passed, $FAILS failed"
  [ "$FAILS" -eq 0 ] && [ "$CHECKS" -gt 0 ]
  exit $?
}

# free_port: a loopback port nothing listens on, never one this test was handed before (the
# kernel may hand the same ephemeral port out twice; CI once saw -ports.dns equal -ports.rpc).
free_port() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/../free_port.py" "$WORK/.ports"
}

# wait_for <seconds> <command...>: polls the command every 50 ms until it succeeds or time runs out.
wait_for() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  shift
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

# start_dev <name> [extra flags...]: starts `agent dev` with its own port, data dir and socket.
# Sets PORT, GOSSIP_PORT, DATA, SOCK, PID, LOG.
start_dev() {
  local name=$1
  shift
  PORT=$(free_port)
  GOSSIP_PORT=$(free_port)
  DATA=$WORK/$name
  mkdir -p "$DATA"
  SOCK=$DATA/agent.sock
  LOG=$WORK/$name.log
  "$AGENT" dev -ports.http="$PORT" -ports.gossip="$GOSSIP_PORT" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" -data_dir="$DATA" -socket_path="$SOCK" "$@" >"$LOG" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  if ! wait_for 10 curl -fsS "http://127.0.0.1:$PORT/v1/agent/health"; then
    echo "agent dev did not come up; log:"
    cat "$LOG"
    return 1
  fi
}

# alloc_field JOB EXPR: a Python expression over job JOB's first allocation (`a`; all of them in
# `allocs`) as the agent at $URL lists them (GET /v1/allocations).
alloc_field() {
  curl -fsS "$URL/v1/allocations" | python3 -c '
import json,sys
allocs=[x for x in json.load(sys.stdin) if x["JobID"]==sys.argv[1]]
a=allocs[0] if allocs else None
print(eval(sys.argv[2]))' "$1" "$2"
}

# haproxy_config FILE NAMESERVER BIND: an HAProxy configuration whose backend's four
# `server-template` slots are filled from _web._tcp.service.weft SRV answers of NAMESERVER
# (ip:port), re-resolved every second, behind a frontend on BIND (ip:port).
haproxy_config() {
  cat >"$1" <<CFG
global
  maxconn 100
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
resolvers weft
  nameserver weft $2
  accepted_payload_size 8192
  resolve_retries 3
  timeout resolve 1s
  timeout retry 1s
  hold valid 1s
  hold obsolete 0s
  hold nx 1s
frontend fe
  bind $3
  default_backend be
backend be
  balance roundrobin
  server-template web 4 _web._tcp.service.weft resolvers weft resolve-prefer ipv4 init-addr none
CFG
}
