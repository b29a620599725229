#!/usr/bin/env bash
# Benchmarks the supervisor's exec driver (issue 6): task start latency -- from the supervisor's
# decision to start a task to the program running (the agent measures it around
# hal::Processes::start_task, which returns once execve has succeeded, and reports it as
# TaskStates.<task>.StartLatencyNs) -- p50 and p99 over TASKS starts per round; and the agent's
# own resident memory with TASKS exec tasks running, beside the same agent idle with no task, in
# the same run. As the reference, in the same run: the same program started TASKS times by
# Python's subprocess.Popen (fork + exec, waiting for exec like start_task does), p50 and p99.
#
# Each round starts a fresh `agent dev` with a jobs_dir holding one service job of Count TASKS
# whose task is `sleep 600` (exec driver, 16 MiB memory limit each), waits until every task
# runs, reads the latencies and VmRSS, and stops the agent (which kills its tasks: dev mode).
#
# Usage: tests/bench/supervisor_bench.sh [BUILD_DIR]   (default build/; needs BUILD_DIR/agent)
#   TASKS=100 ROUNDS=3 OUT=DIR
# Prints one summary line per round and the pooled figures; exit 1 if a round fails.
set -euo pipefail

BENCH=supervisor_bench
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-}"
TASKS=${TASKS:-100}
ROUNDS=${ROUNDS:-3}
bench_positive TASKS ROUNDS
[ "$TASKS" -le 1000 ] || die "at most 1000 tasks (a group's Count)"

bench_work supbench
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

: >"$OUT/latencies_ns.txt"
: >"$OUT/rounds.txt"
for round in $(seq "$ROUNDS"); do
  jobs=$work/jobs-$round
  data=$work/data-$round
  mkdir -p "$jobs" "$data"
  port=$(free_port)
  "$agent" dev -ports.http="$port" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" \
    -data_dir="$data" -socket_path="$data/agent.sock" -node_name=bench -log_level=warn >"$OUT/agent-$round.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 200); do curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/agent/health" 2>/dev/null && break; sleep 0.1; done
  # Idle first: the same agent with no allocations, settled for a second.
  sleep 1
  idle=$(rss_kib "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  cat >"$jobs/many.json" <<JSON
{"ID": "many", "TaskGroups": [{"Name": "g", "Count": $TASKS, "Tasks": [{"Name": "sleeper", "Driver": "exec",
  "Resources": {"CPU": 10, "MemoryMB": 16}, "Config": {"command": "sleep", "args": ["600"]}}]}]}
JSON
  "$agent" dev -ports.http="$port" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" \
    -data_dir="$data" -socket_path="$data/agent.sock" -node_name=bench -log_level=warn -jobs_dir="$jobs" >>"$OUT/agent-$round.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  running=0
  for _ in $(seq 600); do
    running=$(curl -fsS "http://127.0.0.1:$port/v1/allocations" 2>/dev/null |
      python3 -c 'import json,sys; print(sum(a["TaskStates"]["sleeper"]["State"]=="running" for a in json.load(sys.stdin)))' 2>/dev/null || echo 0)
    [ "$running" = "$TASKS" ] && break
    sleep 0.1
  done
  [ "$running" = "$TASKS" ] || die "round $round: only $running of $TASKS tasks running after 60 s"
  sleep 1
  busy=$(rss_kib "$pid")
  curl -fsS "http://127.0.0.1:$port/v1/allocations" |
    python3 -c 'import json,sys; [print(a["TaskStates"]["sleeper"]["StartLatencyNs"]) for a in json.load(sys.stdin)]' >"$work/lat-$round.txt"
  cat "$work/lat-$round.txt" >>"$OUT/latencies_ns.txt"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  # The reference: Popen of the same program, waiting for exec (Popen returns after exec, as
  # Python's _posixsubprocess reports exec failures through a pipe, like start_task).
  python3 - "$TASKS" >"$work/ref-$round.txt" <<'PY'
import subprocess, sys, time
procs = []
for _ in range(int(sys.argv[1])):
    t0 = time.monotonic_ns()
    p = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    print(time.monotonic_ns() - t0)
    procs.append(p)
for p in procs:
    p.kill()
    p.wait()
PY
  cat "$work/ref-$round.txt" >>"$OUT/reference_ns.txt"
  python3 - "$round" "$idle" "$busy" "$work/lat-$round.txt" "$work/ref-$round.txt" <<'PY' | tee -a "$OUT/rounds.txt"
import sys
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * p))]
r, idle, busy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lat = [int(x) for x in open(sys.argv[4]) if x.strip()]
ref = [int(x) for x in open(sys.argv[5]) if x.strip()]
print(f"round {r}: start latency p50 {pct(lat,.5)/1e6:.3f} ms p99 {pct(lat,.99)/1e6:.3f} ms | Popen p50 {pct(ref,.5)/1e6:.3f} ms p99 {pct(ref,.99)/1e6:.3f} ms"
      f" | agent RSS idle {idle} KiB, with {len(lat)} tasks {busy} KiB")
PY
  echo "$busy" >>"$OUT/rss_busy_kib.txt"
done
python3 - "$OUT" "$TASKS" <<'PY'
import sys
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * p))]
out = sys.argv[1]
lat = [int(x) for x in open(out + "/latencies_ns.txt") if x.strip()]
ref = [int(x) for x in open(out + "/reference_ns.txt") if x.strip()]
rss = [int(x) for x in open(out + "/rss_busy_kib.txt") if x.strip()]
print(f"pooled over {len(lat)} starts: Weft start latency p50 {pct(lat,.5)/1e6:.3f} ms, p99 {pct(lat,.99)/1e6:.3f} ms;"
      f" Popen p50 {pct(ref,.5)/1e6:.3f} ms, p99 {pct(ref,.99)/1e6:.3f} ms; ratio p50 {pct(lat,.5)/pct(ref,.5):.2f}, p99 {pct(lat,.99)/pct(ref,.99):.2f}")
print(f"agent RSS with {sys.argv[2]} running tasks: max {max(rss)} KiB ({max(rss)/1024:.1f} MiB; target under 16 MiB)")
PY
