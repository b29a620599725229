#!/usr/bin/env bash
# The agent's own resident memory with 100 running exec tasks (issue 6's budget: under 16 MiB),
# and every task started, by running tests/bench/supervisor_bench.sh for one round; prints its
# start-latency figures too (not asserted: this machine is shared and noisy).
source "$(dirname "$0")/lib.sh"
out=$WORK/bench
if OUT=$out TASKS=100 ROUNDS=1 bash "$(dirname "$0")/../bench/supervisor_bench.sh" "$(dirname "$AGENT")" >"$WORK/bench.txt" 2>&1; then
  ok "100 exec tasks started and running"
else
  fail "the bench round failed: $(tail -3 "$WORK/bench.txt")"
  finish
fi
cat "$WORK/bench.txt"
rss=$(sort -n "$out/rss_busy_kib.txt" | tail -1)
if [ -n "${WEFT_EXPECT_STATIC:-}" ]; then
  check "agent resident memory with 100 tasks under 16 MiB (${rss} KiB)" test "$rss" -lt 16384
else
  check "agent resident memory with 100 tasks measured (${rss} KiB; budget checked on the static build)" test "$rss" -gt 0
fi
check "100 start latencies recorded" test "$(wc -l <"$out/latencies_ns.txt")" = 100
finish
