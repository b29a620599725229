#!/usr/bin/env bash
# tests/lin/lab_lin.sh: issue 4's Jepsen-style linearizability and durability runs, on demand, in
# the lab (tools/lab: one network namespace per node, nftables faults). For each fleet size it
# brings up that many foundations, then for each scenario runs kvclient's `lin` clients (reads,
# writes and compare-and-sets on a handful of keys, values unique per write) from the lab's hub
# while a nemesis injects that scenario's fault again and again, and checks the history with
# lincheck. Then the durability checks: every acknowledged write must be readable after repeated
# kill -9 of the leader, and after all servers were killed at once.
#
# Scenarios (the nemesis; each fault lasts FAULT_S seconds, then FAULT_S/2 healed):
#   halves   the servers split in two random halves (a majority and a minority)
#   one      one random server cut off from the others
#   leader   the current leader cut off from the others
#   ring     5+ servers: each reaches only its two neighbours in a random ring (everyone still
#            sees a majority, each a different one); 3 servers: a bridge (a and c cannot talk,
#            b talks to both)
#   oneway   the leader's traffic to the others dropped, or theirs to it (alternately)
#   kill     kill -9 of a server (the leader every other time), restarted when the fault ends
#   pause    SIGSTOP of a server (the leader every other time), SIGCONT when the fault ends
#   mixed    each fault one of the above, picked at random
# Clients talk to the servers from the hub (tools/lab's <subnet>.254), outside every partition:
# client i is bound to server i mod N, as Jepsen's clients are bound to a node.
#
# SYSTEM=etcd runs the same scenarios against Debian's etcd 3.4 (installed if missing) in the same
# namespaces -- the validation of this harness: etcd must show no anomaly. READ_MODE=stale makes
# reads non-linearizable on purpose (Consul ?stale, etcd serializable): the negative control, which
# must show anomalies under partitions. Every run also checks a doctored copy of its first history
# (a stale read appended) and fails if lincheck does not flag it.
#
# Usage: sudo tests/lin/lab_lin.sh          (from a fresh clone: builds what is missing)
# Environment (defaults in brackets):
#   SYSTEM weft|etcd [weft]       SERVERS [3,5]           SCENARIOS [halves,one,leader,ring,oneway,kill,pause]
#   DURATION s per scenario [60]  FAULT_S [8]             CLIENTS [10]   KEYS [5]   OPS_PER_KEY [250]
#   UNKNOWN_PER_KEY [8]: writes of unknown outcome per key before the clients move to new keys
#   READ_MODE consistent|default|stale [consistent]       TIMEOUT_MS per request [2000]
#   DURABILITY 0|1 [1]            DUR_S [30]              SEED [random; printed]
#   BUILD dir with agent, tests/kvclient, tests/lincheck [build]        OUT dir kept [temporary]
#   WEFT_LAB_NAME [lin<pid>]      BUDGET_MS lincheck budget per history [120000]
# Exit status: 0 no anomaly and no lost write, 1 an anomaly, a lost write, a failed control or an
# error, 2 a history could not be decided (lincheck budget), 3 usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

SYSTEM=${SYSTEM:-weft}
SERVERS=${SERVERS:-3,5}
SCENARIOS=${SCENARIOS:-halves,one,leader,ring,oneway,kill,pause}
DURATION=${DURATION:-60}
FAULT_S=${FAULT_S:-8}
CLIENTS=${CLIENTS:-10}
KEYS=${KEYS:-5}
OPS_PER_KEY=${OPS_PER_KEY:-250}
UNKNOWN_PER_KEY=${UNKNOWN_PER_KEY:-8}
READ_MODE=${READ_MODE:-consistent}
TIMEOUT_MS=${TIMEOUT_MS:-2000}
DURABILITY=${DURABILITY:-1}
DUR_S=${DUR_S:-30}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
BUILD=${BUILD:-$root/build}
BUDGET_MS=${BUDGET_MS:-120000}
export WEFT_LAB_NAME=${WEFT_LAB_NAME:-lin$$}
export WEFT_LAB_TIMEOUT=${WEFT_LAB_TIMEOUT:-30}

die() { echo "lab_lin: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 3; }
[ "${1:-}" = -h ] || [ "${1:-}" = --help ] && usage
[ $# -eq 0 ] || usage
case $SYSTEM in weft|etcd) ;; *) die "SYSTEM must be weft or etcd" ;; esac
case $READ_MODE in consistent|default|stale) ;; *) die "READ_MODE must be consistent, default or stale" ;; esac
for v in DURATION FAULT_S CLIENTS KEYS OPS_PER_KEY UNKNOWN_PER_KEY TIMEOUT_MS DUR_S SEED BUDGET_MS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive whole number, got '${!v}'"
done
[ "$(id -u)" = 0 ] || die "needs root (tools/lab makes network namespaces)"
RANDOM=$SEED

# --- binaries --------------------------------------------------------------------------------
AGENT=$BUILD/agent
KVCLIENT=$BUILD/tests/kvclient
LINCHECK=$BUILD/tests/lincheck
if [ ! -x "$AGENT" ] || [ ! -x "$KVCLIENT" ] || [ ! -x "$LINCHECK" ]; then
  echo "lab_lin: building agent, kvclient and lincheck in $BUILD" >&2
  command -v cmake >/dev/null && command -v ninja >/dev/null || die "cmake and ninja are needed (tools/deps)"
  cmake -S "$root" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD" -j2 agent kvclient lincheck >/dev/null
fi
if [ "$SYSTEM" = etcd ] && ! command -v etcd >/dev/null; then
  echo "lab_lin: installing etcd-server (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq etcd-server >/dev/null ||
    die "apt-get install etcd-server failed"
fi

work=$(mktemp -d /tmp/weft-lin.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"
export WEFT_LAB_DIR=$work/lab
LAB=$root/tools/lab
lab() { "$LAB" "$@"; }
NEMLOG=$OUT/nemesis.log
T0=$(date +%s%N)
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
stamp() { awk -v t="$(date +%s%N)" -v t0="$T0" 'BEGIN { printf "%7.1fs", (t - t0) / 1e9 }'; }
note() { echo "$(stamp) $*" >>"$NEMLOG"; }

cleanup() {
  trap - EXIT INT TERM
  [ -n "${client_pid:-}" ] && kill "$client_pid" 2>/dev/null || true
  lab down >/dev/null 2>&1 || true
  [ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null || true
  if [ "$OUT" != "$work" ]; then rm -rf "$work"; else echo "lab_lin: histories and logs kept in $OUT" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'echo "lab_lin: over its time bound" >&2; exit 1' TERM

IFS=, read -r -a sizes <<<"$SERVERS"
IFS=, read -r -a scenarios <<<"$SCENARIOS"
for s in "${scenarios[@]}"; do
  case $s in halves|one|leader|ring|oneway|kill|pause|mixed) ;; *) die "unknown scenario '$s'" ;; esac
done
for n in "${sizes[@]}"; do [[ "$n" =~ ^[1-9]$ ]] || die "SERVERS: each size must be 1..9, got '$n'"; done
# Watchdog: every scenario is bounded by DURATION plus set-up and checking time.
bound_s=$(( ${#sizes[@]} * (${#scenarios[@]} * (DURATION + 150) + (DURABILITY ? 2 * DUR_S + 400 : 0)) + 300 ))
(trap 'kill "$s" 2>/dev/null; exit 0' TERM; sleep "$bound_s" & s=$!; wait "$s"; kill -TERM $$) >/dev/null 2>&1 &
watchdog=$!

{
  echo "# lab_lin $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n): $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# system $SYSTEM$([ "$SYSTEM" = etcd ] && echo " ($(etcd --version | head -1))"); weft $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "# servers $SERVERS; scenarios $SCENARIOS; $DURATION s each, faults of $FAULT_S s; $CLIENTS clients, $KEYS keys x $OPS_PER_KEY ops; reads $READ_MODE; timeout $TIMEOUT_MS ms; seed $SEED"
} | tee "$OUT/run.txt" >&2

# --- the system under test: start, stop, leader --------------------------------------------------

N=0            # servers in the current fleet
subnet=${WEFT_LAB_SUBNET:-10.77.0}
addr() { echo "$subnet.$1"; }
if [ "$SYSTEM" = weft ]; then PORT=7700; API=consul; else PORT=2379; API=etcd; fi
endpoints() { local k e=(); for k in $(seq 1 "$N"); do e+=("$(addr "$k"):$PORT"); done; local IFS=,; echo "${e[*]}"; }
hub_curl() { lab exec hub -- curl -sS --connect-timeout 1 --max-time 2 "$@" 2>/dev/null; }

etcd_pid() {  # etcd_pid K: the pid of node K's etcd if alive
  local p s
  p=$(cat "$work/etcd-n$1.pid" 2>/dev/null) || return 1
  s=$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null | awk '{print $1}') || return 1
  [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ] || return 1
  grep -qF "$work/etcd-n$1" "/proc/$p/cmdline" 2>/dev/null || return 1
  echo "$p"
}
etcd_start() {
  local k=$1 cluster="" i
  etcd_pid "$k" >/dev/null && return 0
  for i in $(seq 1 "$N"); do cluster+="${cluster:+,}n$i=http://$(addr "$i"):2380"; done
  # shellcheck disable=SC2016
  lab exec "n$k" -- setsid sh -c 'echo $$ >"$0"; exec "$@"' "$work/etcd-n$k.pid" \
    etcd --name "n$k" --data-dir "$work/etcd-n$k" \
    --listen-client-urls "http://$(addr "$k"):2379" --advertise-client-urls "http://$(addr "$k"):2379" \
    --listen-peer-urls "http://$(addr "$k"):2380" --initial-advertise-peer-urls "http://$(addr "$k"):2380" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "lin$$" \
    </dev/null >>"$OUT/etcd-n$k.log" 2>&1 &
  local deadline=$(( $(now_ms) + 5000 ))
  until etcd_pid "$k" >/dev/null; do
    [ "$(now_ms)" -lt "$deadline" ] || die "n$k: etcd did not start (log $OUT/etcd-n$k.log)"
    sleep 0.05
  done
}

server_pid() { if [ "$SYSTEM" = weft ]; then lab pid "n$1" 2>/dev/null; else etcd_pid "$1"; fi; }
kill9() {  # kill9 K...: SIGKILL all at once, then wait until gone
  local k p pids=()
  for k in "$@"; do p=$(server_pid "$k") && pids+=("$p"); done
  [ "${#pids[@]}" -gt 0 ] || return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do [ -d "/proc/$p" ] && [ "$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null | awk '{print $1}')" != Z ] || break; sleep 0.05; done
  done
}
start_server() {  # start_server K: (re)start a killed server; bounded by tools/lab / etcd_start
  if [ "$SYSTEM" = weft ]; then lab restart "n$1" >>"$NEMLOG" 2>&1; else etcd_start "$1"; fi
}
pause_server() { local p; p=$(server_pid "$1") && kill -STOP "$p"; }
resume_server() { local p; p=$(server_pid "$1") && kill -CONT "$p"; }

# leader: the index of the server some server names as leader (asked in order), or nothing.
leader() {
  local k out
  if [ "$SYSTEM" = weft ]; then
    for k in $(seq 1 "$N"); do
      out=$(hub_curl "http://$(addr "$k"):7700/v1/status/leader") || continue
      out=${out//\"/}
      if [[ "$out" =~ ^$subnet\.([0-9]+): ]]; then echo "${BASH_REMATCH[1]}"; return 0; fi
    done
    return 0
  fi
  local ids=() lead=""
  for k in $(seq 1 "$N"); do
    out=$(hub_curl -X POST -d '{}' "http://$(addr "$k"):2379/v3/maintenance/status") || { ids+=(""); continue; }
    ids+=("$(grep -oE '"member_id":"[0-9]+"' <<<"$out" | grep -oE '[0-9]+' || true)")
    [ -z "$lead" ] && lead=$(grep -oE '"leader":"[0-9]+"' <<<"$out" | grep -oE '[0-9]+' || true)
  done
  [ -n "$lead" ] || return 0
  for k in $(seq 1 "$N"); do [ "${ids[k-1]}" = "$lead" ] && { echo "$k"; return 0; }; done
  return 0
}

# wait_writable S: a write through each server succeeds (a leader exists and every server
# reaches it); at most S seconds.
wait_writable() {
  local deadline=$(( $(now_ms) + $1 * 1000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if lab exec hub -- "$KVCLIENT" latency --api="$API" --endpoints="$(endpoints)" --count=1 --warmup=0 \
         --timeout-ms=1000 --duration-s=2 --prefix=lablin/ready --value-bytes=8 2>/dev/null | grep -q 'writes=1 '; then
      local k ok=1
      for k in $(seq 2 "$N"); do
        lab exec hub -- "$KVCLIENT" latency --api="$API" --endpoints="$(addr "$k"):$PORT" --count=1 --warmup=0 \
          --timeout-ms=1000 --duration-s=2 --prefix=lablin/ready --value-bytes=8 2>/dev/null | grep -q 'writes=1 ' || ok=0
      done
      [ "$ok" = 1 ] && return 0
    fi
    sleep 0.2
  done
  return 1
}

fleet_up() {  # fleet_up N
  N=$1
  lab down >/dev/null 2>&1 || true
  if [ "$SYSTEM" = weft ]; then
    lab up "$N" --servers "$N" --agent "$AGENT" --profile fast >"$OUT/lab-up-$N.txt" 2>&1 ||
      { cat "$OUT/lab-up-$N.txt" >&2; die "tools/lab up $N --servers $N failed"; }
  else
    rm -rf "$work"/etcd-n*
    lab up "$N" --servers 0 --agent "$AGENT" >"$OUT/lab-up-$N.txt" 2>&1 ||
      { cat "$OUT/lab-up-$N.txt" >&2; die "tools/lab up $N failed"; }
    local k
    for k in $(seq 1 "$N"); do lab stop "n$k" >/dev/null; done   # the namespaces stay; etcd runs there
    for k in $(seq 1 "$N"); do etcd_start "$k"; done
  fi
  wait_writable 60 || die "$N servers up, but writes do not succeed through every server within 60 s"
  note "fleet of $N $SYSTEM servers up; leader n$(leader)"
}

# all_up: heal the network, continue paused servers, start dead ones, wait for writes.
all_up() {
  local k
  lab heal >>"$NEMLOG" 2>&1
  for k in $(seq 1 "$N"); do
    resume_server "$k" 2>/dev/null || true
    server_pid "$k" >/dev/null || start_server "$k"
  done
  wait_writable 60 || die "after healing, writes do not succeed through every server within 60 s"
}

# --- the nemesis -------------------------------------------------------------------------------

shuffled() { local k; for k in $(seq 1 "$N"); do echo "$RANDOM $k"; done | sort -n | awk '{print $2}' | paste -sd' '; }
csv() { local IFS=,; echo "n${*// /,n}"; }
others() { local k o=(); for k in $(seq 1 "$N"); do [ "$k" = "$1" ] || o+=("$k"); done; echo "${o[*]}"; }
target() {  # target ROUND: the leader every other round (if known), else a random server
  local l=""
  [ $(( $1 % 2 )) = 0 ] && l=$(leader)
  [ -n "$l" ] && { echo "$l"; return; }
  echo $(( RANDOM % N + 1 ))
}

fault_on() {  # fault_on SCENARIO ROUND: starts the fault, sets `healing` for fault_off
  local s=$1 round=$2 order k l rest
  read -r -a order <<<"$(shuffled)"
  if [ "$s" = mixed ]; then
    local kinds=(halves one leader ring oneway kill pause)
    s=${kinds[RANDOM % ${#kinds[@]}]}
  fi
  case $s in
    halves)
      local h=$(( N / 2 ))
      lab partition "$(csv "${order[*]:0:h}")" / "$(csv "${order[*]:h}")" >>"$NEMLOG" 2>&1
      note "halves: {$(csv "${order[*]:0:h}")} | {$(csv "${order[*]:h}")}"
      healing=heal ;;
    one|leader)
      if [ "$s" = leader ]; then l=$(leader); [ -n "$l" ] || l=${order[0]}; else l=${order[0]}; fi
      lab partition "n$l" / "$(csv "$(others "$l")")" >>"$NEMLOG" 2>&1
      note "$s: n$l cut off$([ "$s" = leader ] && echo ' (leader)')"
      healing=heal ;;
    ring)
      if [ "$N" -ge 4 ]; then
        lab ring "$(csv "${order[*]}")" >>"$NEMLOG" 2>&1
        note "ring: $(csv "${order[*]}")"
      else
        lab partition "n${order[0]}" / "n${order[2]}" >>"$NEMLOG" 2>&1
        note "ring (bridge): n${order[0]} | n${order[2]}, n${order[1]} reaches both"
      fi
      healing=heal ;;
    oneway)
      l=$(leader); [ -n "$l" ] || l=${order[0]}
      rest=$(csv "$(others "$l")")
      if [ $(( round % 2 )) = 0 ]; then
        lab partition --oneway "n$l" / "$rest" >>"$NEMLOG" 2>&1
        note "oneway: n$l (leader) -> {$rest} dropped"
      else
        lab partition --oneway "$rest" / "n$l" >>"$NEMLOG" 2>&1
        note "oneway: {$rest} -> n$l (leader) dropped"
      fi
      healing=heal ;;
    kill)
      k=$(target "$round")
      kill9 "$k"
      note "kill: n$k (kill -9)"
      healing="start $k" ;;
    pause)
      k=$(target "$round")
      pause_server "$k" || true
      note "pause: n$k (SIGSTOP)"
      healing="resume $k" ;;
  esac
}

fault_off() {
  case $healing in
    heal) lab heal >>"$NEMLOG" 2>&1 ;;
    start\ *) start_server "${healing#start }" || note "restart of n${healing#start } failed" ;;
    resume\ *) resume_server "${healing#resume }" || true ;;
  esac
  note "healed ($healing)"
  healing=""
}

# --- one scenario --------------------------------------------------------------------------------

results=()      # table rows
anomalies=0
undecided=0
lost_total=0
control_done=0
linearizable_seen=0
fail_run=0

# doctor HISTORY OUT: appends a read that is stale for certain -- of a value W1 whose write
# completed before another ok write W2 to the same key was invoked, issued after everything
# else -- so OUT must be flagged. Returns 1 if the history has no such pair.
doctor() {
  awk '
    $3 == "invoke" && $4 == "write" { inv[$2] = $1 }
    $3 == "ok" && $4 == "write" { n[$5]++; ci[$5, n[$5]] = inv[$2]; cc[$5, n[$5]] = $1; cv[$5, n[$5]] = $6 }
    $1 ~ /^[0-9]+$/ && $1 > max { max = $1 }
    { print }
    END {
      for (k in n) for (i = 1; i <= n[k]; i++) for (j = 1; j <= n[k]; j++)
        if (cc[k, i] < ci[k, j]) { printf "%.0f zdoctor invoke read %s\n%.0f zdoctor ok read %s %s\n", max + 1, k, max + 2, k, cv[k, i]; found = 1; exit }
    }
    END { if (!found) exit 1 }' "$1" >"$2"
}

check_history() {  # check_history FILE LABEL: runs lincheck; sets verdict
  local rc=0
  "$LINCHECK" --format=weft --budget-ms="$BUDGET_MS" "$1" >"$1.check" 2>&1 || rc=$?
  case $rc in
    0) verdict=ok; linearizable_seen=1 ;;
    1) verdict=ANOMALY; anomalies=$((anomalies + 1)); echo "lab_lin: $2: NOT LINEARIZABLE" >&2; sed 's/^/  /' "$1.check" | head -60 >&2 ;;
    *) verdict=unknown; undecided=$((undecided + 1)); echo "lab_lin: $2: undecided: $(head -3 "$1.check")" >&2 ;;
  esac
  check_ms=$(grep -oE '[0-9.]+ ms\)' "$1.check" | head -1 | tr -d ' ms)' || true)
  if [ "$control_done" = 0 ] && [ "$rc" = 0 ]; then
    if doctor "$1" "$1.doctored"; then
      if "$LINCHECK" --format=weft --budget-ms="$BUDGET_MS" "$1.doctored" >"$1.doctored.check" 2>&1; then
        echo "lab_lin: CONTROL FAILED: lincheck accepted $1.doctored (a stale read appended)" >&2
        fail_run=1
      else
        echo "lab_lin: control: the doctored copy of $2's history (one stale read appended) is flagged" >&2
      fi
      control_done=1
    fi
  fi
}

run_scenario() {  # run_scenario SCENARIO
  local s=$1 hist="$OUT/n$N-$1.history" round=0 faults=0 t_end summary
  note "scenario $s ($N servers) starts"
  lab exec hub -- "$KVCLIENT" lin --api="$API" --endpoints="$(endpoints)" --clients="$CLIENTS" \
    --keys="$KEYS" --ops-per-key="$OPS_PER_KEY" --unknown-per-key="$UNKNOWN_PER_KEY" --duration-s="$DURATION" --timeout-ms="$TIMEOUT_MS" \
    --read-mode="$READ_MODE" --seed="$((SEED + N * 100 + ${#results[@]}))" --prefix="lin/$N/$s" \
    --out="$hist" >"$hist.client" 2>"$hist.client.err" &
  client_pid=$!
  # Faults from 2 s in until FAULT_S + 3 s before the end: the run ends healed, so that operations
  # still in flight complete.
  t_end=$(( $(now_ms) + DURATION * 1000 - FAULT_S * 1000 - 3000 ))
  sleep 2
  healing=""
  while [ "$(now_ms)" -lt "$t_end" ] && kill -0 "$client_pid" 2>/dev/null; do
    fault_on "$s" "$round"
    faults=$((faults + 1))
    sleep "$FAULT_S"
    fault_off
    round=$((round + 1))
    sleep "$(( (FAULT_S + 1) / 2 ))"
  done
  wait "$client_pid" || die "kvclient failed: $(cat "$hist.client.err" | tail -5)"
  client_pid=""
  all_up
  summary=$(cat "$hist.client")
  local ops info rate
  ops=$(grep -oE ' ops=[0-9]+' <<<"$summary" | cut -d= -f2 || true)
  info=$(grep -oE ' info=[0-9]+' <<<"$summary" | cut -d= -f2 || true)
  rate=$(grep -oE ' rate=[0-9.]+' <<<"$summary" | cut -d= -f2 || true)
  check_history "$hist" "$N servers, $s"
  note "scenario $s: $ops ops, $info unknown, $faults faults, $verdict"
  results+=("| $N | $s | $DURATION | $ops | $rate | $info | $faults | $verdict | ${check_ms:-?} |")
  echo "lab_lin: $N servers, $s: $ops ops ($rate/s, $info unknown), $faults faults: $verdict" >&2
}

# --- durability --------------------------------------------------------------------------------

durable() {  # durable leader|all
  local what=$1 log="$OUT/n$N-durable-$1" kills=0 t_end rc=0 k
  note "durability ($what, $N servers) starts"
  local dur=$DUR_S
  [ "$what" = all ] && dur=12
  lab exec hub -- "$KVCLIENT" durable-write --api="$API" --endpoints="$(endpoints)" --clients=8 \
    --duration-s="$dur" --timeout-ms="$TIMEOUT_MS" --prefix="dur/$N/$what" --out="$log.acked" \
    >"$log.client" 2>"$log.client.err" &
  client_pid=$!
  if [ "$what" = leader ]; then
    t_end=$(( $(now_ms) + dur * 1000 - 5000 ))
    sleep 2
    while [ "$(now_ms)" -lt "$t_end" ]; do
      k=$(leader)
      [ -n "$k" ] || { sleep 0.5; continue; }
      kill9 "$k"
      kills=$((kills + 1))
      note "durability: kill -9 of the leader n$k"
      sleep 1
      start_server "$k" || note "restart of n$k failed"
      sleep 2
    done
  else
    sleep 4
    kill9 $(seq 1 "$N")
    kills=$N
    note "durability: kill -9 of all $N servers at once"
    sleep 1
    for k in $(seq 1 "$N"); do start_server "$k" || note "restart of n$k failed"; done
  fi
  wait "$client_pid" || die "kvclient durable-write failed: $(tail -5 "$log.client.err")"
  client_pid=""
  all_up
  lab exec hub -- "$KVCLIENT" durable-check --api="$API" --endpoints="$(endpoints)" --timeout-ms="$TIMEOUT_MS" \
    --in="$log.acked" >"$log.check" 2>"$log.check.err" || rc=$?
  local acked lost
  acked=$(grep -oE 'acknowledged=[0-9]+' "$log.check" | cut -d= -f2 || true)
  lost=$(grep -oE ' lost=[0-9]+' "$log.check" | cut -d= -f2 || true)
  [ "$rc" = 1 ] && { echo "lab_lin: $N servers, durability ($what): LOST WRITES" >&2; sed 's/^/  /' "$log.check.err" | head -30 >&2; }
  [ "$rc" -gt 1 ] && { echo "lab_lin: $N servers, durability ($what): check incomplete: $(cat "$log.check")" >&2; fail_run=1; }
  lost_total=$(( lost_total + ${lost:-0} ))
  note "durability ($what): $acked acknowledged, ${lost:-?} lost, $kills kills"
  local unknown
  unknown=$(grep -oE 'unknown=[0-9]+' "$log.client" | cut -d= -f2 || true)
  results+=("| $N | durability: kill -9 $([ "$what" = leader ] && echo 'the leader, repeatedly' || echo 'all servers at once') | $dur | $acked acked | | $unknown | $kills | ${lost:-?} lost | |")
  echo "lab_lin: $N servers, durability ($what): $acked acknowledged, ${lost:-?} lost after $kills kills" >&2
}

# --- main ----------------------------------------------------------------------------------------

for n in "${sizes[@]}"; do
  fleet_up "$n"
  for s in "${scenarios[@]}"; do run_scenario "$s"; done
  if [ "$DURABILITY" = 1 ]; then
    durable leader
    durable all
  fi
done

{
  echo
  echo "| servers | scenario | s | ops | ops/s | unknown | faults | verdict | check ms |"
  echo "|---:|---|---:|---:|---:|---:|---:|---|---:|"
  printf '%s\n' "${results[@]}"
  echo
  echo "anomalies: $anomalies; undecided: $undecided; acknowledged writes lost: $lost_total; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/table.md"
if [ "$control_done" = 0 ] && [ "$linearizable_seen" = 1 ]; then
  echo "lab_lin: no history could be doctored for the control (too few writes?)" >&2
  fail_run=1
fi
if [ "$anomalies" -gt 0 ] || [ "$lost_total" -gt 0 ] || [ "$fail_run" = 1 ]; then exit 1; fi
[ "$undecided" -eq 0 ] || exit 2
exit 0
