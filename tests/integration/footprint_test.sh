#!/usr/bin/env bash
# Measures an idle agent: resident memory and threads once it is serving, and checks them against
# the budgets (README states them): a client agent -- what most nodes run -- under 4 MiB resident,
# and a server (`agent dev`: a one-node foundation with SQLite open) under 8 MiB. Prints the figures.
source "$(dirname "$0")/lib.sh"
measure() {  # measure <what> <budget KiB> [agent dev flags...]
local what=$1 budget_kb=$2
shift 2
start_dev "footprint-$what" "$@" || { fail "agent dev ($what) starts"; return; }
# Let it serve a few requests first so the figure includes a warmed-up HTTP path.
for _ in 1 2 3 4 5; do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v1/agent/self"; done
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$PID/status")
fds=$(ls "/proc/$PID/fd" | wc -l)
echo "idle agent dev ($what): rss ${rss_kb} KiB, peak ${hwm_kb} KiB, threads ${threads}, fds ${fds}"
if [ -n "${WEFT_EXPECT_STATIC:-}" ]; then
  check "idle $what resident memory under $budget_kb KiB (${rss_kb} KiB)" test "$rss_kb" -lt "$budget_kb"
fi
check "$what threads bounded: the loop, plus workers only once blocking work came (${threads})" test "$threads" -le 3
kill "$PID"
}
measure client 4096 -server=false -bootstrap_expect=0 -roles=worker
measure server 8192
finish
