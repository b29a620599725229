#!/usr/bin/env bash
# Measures idle `agent dev`: resident memory and threads once it is serving, and checks them
# against the budget (README states the target: under 4 MiB resident). Prints the figures.
source "$(dirname "$0")/lib.sh"
start_dev footprint || { fail "agent dev starts"; finish; }
# Let it serve a few requests first so the figure includes a warmed-up HTTP path.
for _ in 1 2 3 4 5; do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v1/agent/self"; done
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$PID/status")
fds=$(ls "/proc/$PID/fd" | wc -l)
echo "idle agent dev: rss ${rss_kb} KiB, peak ${hwm_kb} KiB, threads ${threads}, fds ${fds}"
if [ -n "${WEFT_EXPECT_STATIC:-}" ]; then
  check "idle resident memory under 4 MiB (${rss_kb} KiB)" test "$rss_kb" -lt 4096
fi
check "threads bounded: the loop, plus workers only once blocking work came (${threads})" test "$threads" -le 3
finish
