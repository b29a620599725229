#!/usr/bin/env bash
# Proves the release binary is one static, stripped x86-64 executable, that agentctl is the same
# binary under another name, and that `agent ctl ...` does the same as `agentctl ...`.
source "$(dirname "$0")/lib.sh"

desc=$(file -L "$AGENT")
echo "$desc"
size=$(stat -L -c %s "$AGENT")
echo "agent binary: $size bytes"
if [ -n "${WEFT_EXPECT_STATIC:-}" ]; then
  check "binary is statically linked" grep -q "statically linked" <<<"$desc"
  check "binary is stripped" grep -q ", stripped" <<<"$desc"
  # A budget, not a target: a few MiB is expected; past 8 MiB something heavy crept in.
  check "binary under 8 MiB ($size bytes)" test "$size" -lt $((8 * 1024 * 1024))
fi
check "agentctl is a link to the agent" test "$(readlink -f "$AGENTCTL")" = "$AGENT"
v1=$("$AGENT" version)
v2=$("$AGENTCTL" version 2>/dev/null)
v3=$("$AGENT" ctl version 2>/dev/null)
check "agent version prints a version ($v1)" grep -qE '^weft [0-9]+\.[0-9]+\.[0-9]+' <<<"$v1"
check "agentctl version works without an agent running" grep -qE '^weft [0-9]+\.[0-9]+\.[0-9]+' <<<"$v2"
check "agent ctl version == agentctl version" test "$v2" = "$v3"
"$AGENTCTL" no-such-command >/dev/null 2>&1
check "an unknown agentctl command exits 2" test $? -eq 2
finish
