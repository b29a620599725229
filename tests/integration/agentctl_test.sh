#!/usr/bin/env bash
# Proves agentctl talks to the agent over its owner-only Unix socket: status, version and logs
# (plain and -format json), logs -f follows new lines, exit codes are stable, and a clear
# one-line error with exit code 3 when no agent is running.
source "$(dirname "$0")/lib.sh"

out=$("$AGENTCTL" -socket "$WORK/none.sock" status 2>&1)
rc=$?
check "status with no agent exits 3 (got $rc)" test "$rc" -eq 3
check "status with no agent prints one clear line ($out)" test "$(wc -l <<<"$out")" -eq 1
check "the error names the socket" grep -q "none.sock" <<<"$out"

start_dev ctl || { fail "agent dev starts"; finish; }
mode=$(stat -c %a "$SOCK")
check "socket is owner-only (mode $mode)" test "$mode" = 600

out=$("$AGENTCTL" -socket "$SOCK" status)
check "status exits 0 and says healthy" grep -qi "healthy" <<<"$out"
json=$("$AGENTCTL" -socket "$SOCK" status -format json)
check "status -format json parses" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["healthy"] is True and d["node"]' "$json"
json=$("$AGENTCTL" -socket "$SOCK" version -format json)
check "version -format json shows client and agent versions" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["client"] and d["agent"]' "$json"
AGENT_SOCKET_PATH=$SOCK "$AGENTCTL" status >/dev/null
check "AGENT_SOCKET_PATH selects the socket" test $? -eq 0
out=$("$AGENT" ctl -socket "$SOCK" status)
check "agent ctl status works like agentctl status" grep -qi "healthy" <<<"$out"

out=$("$AGENTCTL" -socket "$SOCK" logs)
check "logs shows the agent's start-up lines" grep -q "http" <<<"$out"
json=$("$AGENTCTL" -socket "$SOCK" logs -format json)
check "logs -format json is a list of records" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert isinstance(d,list) and d and "message" in d[0] and "level" in d[0]' "$json"

# logs -f: start a follower, then cause a new log line (a request to a missing path is logged at
# debug in dev mode... use a config reload signal instead, which logs at info).
"$AGENTCTL" -socket "$SOCK" logs -f >"$WORK/follow.out" 2>&1 &
fpid=$!
PIDS+=("$fpid")
wait_for 5 grep -q "http" "$WORK/follow.out"
kill -HUP "$PID"
check "logs -f shows a line logged after it started" wait_for 10 grep -q "SIGHUP" "$WORK/follow.out"
kill "$fpid" 2>/dev/null

"$AGENTCTL" -socket "$SOCK" status -format yaml >/dev/null 2>&1
check "bad -format is a usage error (exit 2)" test $? -eq 2

kill "$PID"
wait "$PID" 2>/dev/null
check "agent removes its socket on a clean stop" test ! -e "$SOCK"
"$AGENTCTL" -socket "$SOCK" status >/dev/null 2>&1
check "status after the agent stopped exits 3" test $? -eq 3
finish
