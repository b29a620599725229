#!/usr/bin/env bash
# Benchmarks the oci driver's task start (issue 6) beside the bare runtime in the same run:
#   Weft: a service task in a busybox-static container (tests/integration/tools/busybox_image.sh,
#         a `docker save` archive), restarted STARTS times with `agentctl alloc restart`; each
#         start's TaskStates.c.StartLatencyNs is the supervisor's decision to the container's
#         init running (the worker-pool hand-off and image lookup, config.json, `runc run
#         --detach` with the task's FIFOs, the pid file read and the init adopted). The root
#         filesystem stays mounted across restarts, as it does for any restart.
#   runc by hand: the same bundle's config.json beside a copy of the same root filesystem (a
#         plain directory), `runc run --detach` timed from exec to its exit, STARTS times (each
#         container killed and deleted between runs, outside the timing).
# Reports p50 and p99 of both and Weft's ratio (target: within 20% of the bare runtime).
#
# Usage: tests/bench/oci_bench.sh [BUILD_DIR]   (default build/; needs BUILD_DIR/agent, root)
#   STARTS=30 OUT=DIR
set -euo pipefail

BENCH=oci_bench
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-}"
STARTS=${STARTS:-30}
bench_positive STARTS
[ "$(id -u)" = 0 ] || die "needs root (runc, cgroups, overlay mounts)"
bench_install runc:runc busybox:busybox-static
bench_work ocibench
BUSYBOX=/bin/busybox
bash "$here/../integration/tools/busybox_image.sh" "$BUSYBOX" "$work" >/dev/null

mkdir -p "$work/jobs"
cat >"$work/jobs/box.json" <<JSON
{"ID": "box", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "c", "Driver": "oci", "KillSignal": "SIGKILL",
  "Resources": {"MemoryMB": 64}, "Config": {"image": "$work/docker.tar", "command": "/bin/sh", "args": ["-c", "while :; do busybox sleep 1; done"]}}]}]}
JSON
port=$(free_port)
data=$work/data
"$agent" dev -ports.http="$port" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" \
  -data_dir="$data" -socket_path="$data/agent.sock" -node_name=bench -log_level=warn -jobs_dir="$work/jobs" >"$OUT/agent.log" 2>&1 &
PIDS+=("$!")
ctl() { "$build/agentctl" -socket "$data/agent.sock" "$@"; }
state() {  # state: "<State> <container run count> <StartLatencyNs>"
  curl -fsS "http://127.0.0.1:$port/v1/allocations" 2>/dev/null | python3 -c '
import json,sys
a=json.load(sys.stdin)[0]; t=a["TaskStates"]["c"]
started=[e for e in t["Events"] if e["Type"]=="Started"]
print(t["State"], len(started) and started[-1]["DisplayMessage"].split("container ")[-1].split(",")[0], t.get("StartLatencyNs",0))' 2>/dev/null || echo "none 0 0"
}
wait_running_other_than() {  # wait_running_other_than CONTAINER: up to 60 s
  for _ in $(seq 600); do
    read -r st c lat < <(state)
    if [ "$st" = running ] && [ "$c" != "$1" ]; then echo "$c $lat"; return 0; fi
    sleep 0.1
  done
  die "the container did not run again within 60 s (last: $(state))"
}
read -r c0 lat0 < <(wait_running_other_than none)
alloc=$(curl -fsS "http://127.0.0.1:$port/v1/allocations" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ID"])')
echo "first start (image load, layers unpacked, overlay mounted): $((lat0 / 1000000)) ms" | tee "$OUT/first.txt"
: >"$OUT/weft_ns.txt"
prev=$c0
for _ in $(seq "$STARTS"); do
  ctl alloc restart "$alloc" c >/dev/null
  read -r prev lat < <(wait_running_other_than "$prev")
  echo "$lat" >>"$OUT/weft_ns.txt"
done

# runc by hand: the task's own config.json beside a plain copy of its root filesystem.
bundle=$data/allocs/$alloc/c/oci
hand=$work/hand
mkdir -p "$hand"
cp -a "$bundle/rootfs" "$hand/rootfs"
sed "s#/weft/$alloc.c#/weft-bench-hand#" "$bundle/config.json" >"$hand/config.json"
: >"$OUT/runc_ns.txt"
for i in $(seq "$STARTS"); do
  python3 - "$hand" "hand-$$-$i" >>"$OUT/runc_ns.txt" <<'PY'
import subprocess, sys, time
bundle, cid = sys.argv[1], sys.argv[2]
t0 = time.monotonic_ns()
subprocess.run(["runc", "run", "--detach", "--pid-file", bundle + "/pid", "--bundle", bundle, cid],
               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(time.monotonic_ns() - t0)
PY
  runc kill "hand-$$-$i" KILL >/dev/null 2>&1 || true
  runc delete --force "hand-$$-$i" >/dev/null 2>&1 || true
done
python3 - "$OUT" <<'PY'
import sys
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * p))]
out = sys.argv[1]
w = [int(x) for x in open(out + "/weft_ns.txt") if x.strip()]
r = [int(x) for x in open(out + "/runc_ns.txt") if x.strip()]
print(f"oci task start over {len(w)} restarts: Weft p50 {pct(w,.5)/1e6:.1f} ms, p99 {pct(w,.99)/1e6:.1f} ms;"
      f" runc run --detach by hand p50 {pct(r,.5)/1e6:.1f} ms, p99 {pct(r,.99)/1e6:.1f} ms;"
      f" ratio p50 {pct(w,.5)/pct(r,.5):.2f}, p99 {pct(w,.99)/pct(r,.99):.2f} (target: within 1.20)")
PY
