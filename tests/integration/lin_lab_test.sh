#!/usr/bin/env bash
# The CI-sized linearizability and durability run of issue 4 (the long matrix is
# tests/lin/lab_lin.sh, on demand): 3 foundations in the lab, 10 clients doing reads, writes and
# compare-and-sets from the hub for 20 s while a nemesis injects mixed faults (partitions, one-way,
# kill -9, pause), then acknowledged writes checked after repeated kill -9 of the leader and after
# all servers were killed at once. Proves: the history is linearizable (lincheck), a doctored copy
# of it is not (the checker is awake), and no acknowledged write is lost.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; then
  echo "skipped: needs root and network namespaces"
  exit 0
fi
BUILD=$(dirname "$AGENT")
for t in tests/kvclient tests/lincheck; do
  if [ ! -x "$BUILD/$t" ]; then
    fail "$BUILD/$t is built (ninja kvclient lincheck)"
    finish
  fi
done
T0=$(date +%s)
out=$(BUILD=$BUILD OUT=$WORK/lin WEFT_LAB_NAME="li$$" SYSTEM=weft SERVERS=3 SCENARIOS=mixed DURATION=20 \
  FAULT_S=4 DUR_S=12 UNKNOWN_PER_KEY=8 SEED=${SEED:-$((RANDOM * 32768 + RANDOM))} TIMEOUT_MS=2000 \
  timeout -s TERM 280 "$(dirname "$0")/../lin/lab_lin.sh" 2>&1)
rc=$?
echo "$out"
check "lab_lin exits 0 (rc $rc)" test "$rc" -eq 0
check "the history is linearizable" grep -qE '^\| 3 \| mixed \| 20 \| [0-9]+ \| .*\| ok \|' <<<"$out"
ops=$(grep -oE '^\| 3 \| mixed \| 20 \| [0-9]+' <<<"$out" | awk -F'|' '{print $5}' | tr -d ' ')
check "the clients got work done under faults (${ops:-0} operations)" test "${ops:-0}" -ge 1000
faults=$(grep -E '^\| 3 \| mixed ' <<<"$out" | awk -F'|' '{print $8}' | tr -d ' ')
check "the nemesis injected faults (${faults:-0})" test "${faults:-0}" -ge 2
check "the doctored copy of the history was flagged" grep -q 'control: the doctored copy' <<<"$out"
check "no acknowledged write was lost" grep -qE 'acknowledged writes lost: 0' <<<"$out"
check "writes were acknowledged in both durability runs" \
  test "$(grep -cE '^\| 3 \| durability: .* \| [1-9][0-9]* acked ' <<<"$out")" -eq 2
echo "lin_lab_test: $(( $(date +%s) - T0 )) s"
finish
