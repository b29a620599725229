#!/usr/bin/env bash
# Workloads on a node (issue 6): static jobs from a jobs_dir run as real processes under the
# agent's supervisor, with Nomad's state names. Proves: a service task runs with its NOMAD_*
# environment, working directory and both output streams in rotated log files (agentctl alloc
# logs, also following); a batch task completes; a crashing task is restarted per its policy and
# then marked failed; a task ignoring its KillSignal is SIGKILLed after KillTimeout; a task over
# its memory limit is OOM-killed inside its cgroup; a signal reaches the task; the agent is
# kill -9'd and restarted and re-attaches to the running task without restarting it (same pid,
# output still collected); a "reboot" (agent and tasks killed, agent started as a plain client
# with no foundation anywhere) brings the static allocations back; a job removed from the
# config is stopped and collected; a bad job file stops the agent with every problem listed.
source "$(dirname "$0")/lib.sh"

JOBS=$WORK/jobs
mkdir -p "$JOBS"
cat >"$JOBS/web.json" <<'JSON'
{"Job": {"ID": "web", "Type": "service", "TaskGroups": [{"Name": "front", "Count": 1, "Tasks": [{
  "Name": "server", "Driver": "exec",
  "Config": {"command": "/bin/sh", "args": ["-c", "trap 'echo got-hup' HUP; echo \"started $NOMAD_ALLOC_NAME in $PWD greeting=$GREETING\"; echo oops >&2; while :; do sleep 0.1; done"]},
  "Env": {"GREETING": "hello ${NOMAD_TASK_NAME}"},
  "Resources": {"CPU": 200, "MemoryMB": 64}}]}]}}
JSON
cat >"$JOBS/batch.json" <<'JSON'
{"ID": "once", "Type": "batch", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec",
  "Config": {"command": "echo", "args": ["batch done"]}}]}]}
JSON
cat >"$JOBS/crash.json" <<'JSON'
{"ID": "crash", "TaskGroups": [{"Name": "g", "RestartPolicy": {"Attempts": 2, "Interval": "1m", "Delay": "500ms", "Mode": "fail"},
  "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "/bin/sh", "args": ["-c", "echo crashing; exit 3"]}}]}]}
JSON
cat >"$JOBS/stubborn.json" <<'JSON'
{"ID": "stubborn", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec", "KillTimeout": "1s",
  "Config": {"command": "/bin/sh", "args": ["-c", "trap '' INT; echo ready; exec sleep 1000"]}}]}]}
JSON
cat >"$JOBS/hog.json" <<'JSON'
{"ID": "hog", "TaskGroups": [{"Name": "g", "RestartPolicy": {"Attempts": 0, "Mode": "fail"},
  "Tasks": [{"Name": "t", "Driver": "exec", "Resources": {"MemoryMB": 32},
  "Config": {"command": "/bin/sh", "args": ["-c", "echo hogging; x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"]}}]}]}
JSON

SVC_PORT=$(free_port)
cat >"$JOBS/svc.json" <<JSON
{"ID": "svc", "TaskGroups": [{"Name": "g", "Networks": [{"ReservedPorts": [{"Label": "http", "Value": $SVC_PORT}]}],
  "Tasks": [{"Name": "listener", "Driver": "exec", "Config": {"command": "nc", "args": ["-lk", "127.0.0.1", "\${NOMAD_PORT_http}"]},
    "Services": [{"Name": "echo-\${NOMAD_TASK_NAME}", "PortLabel": "http", "Tags": ["v1"],
      "Checks": [{"Type": "tcp", "Interval": "1s", "Timeout": "1s"}]}]}]}]}
JSON

start_dev sup -node_name=suptest -jobs_dir="$JOBS" || { fail "agent dev starts with a jobs_dir"; finish; }
URL=http://127.0.0.1:$PORT
ctl() { "$AGENTCTL" -socket "$SOCK" "$@"; }

alloc_id() { alloc_field "$1" 'a["ID"]'; }
is() { [ "$(alloc_field "$1" "$2" 2>/dev/null)" = "$3" ]; }

check "six allocations, one per static job ($(alloc_field web 'len(allocs)'))" \
  bash -c '[ "$(curl -fsS "$1/v1/allocations" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 6 ]' _ "$URL"
check "web's task is running" wait_for 10 is web 'a["TaskStates"]["server"]["State"]' running
check "web's allocation is running" wait_for 10 is web 'a["ClientStatus"]' running
WEB=$(alloc_id web)
logs_have() { ctl alloc logs "$@" 2>/dev/null | grep -q "$LOOK"; }
LOOK="started web.front\[0\] in $DATA/allocs/$WEB/server greeting=hello server"
check "stdout in the log, with NOMAD_ALLOC_NAME, the task dir as cwd and Env interpolated" wait_for 10 logs_have "$WEB"
LOOK=oops
check "stderr in its own log (alloc logs -stderr)" wait_for 10 logs_have -stderr "${WEB:0:8}" server
check "the log files are Nomad's names, CRI lines with times" \
  grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z stdout F started' "$DATA/allocs/$WEB/alloc/logs/server.stdout.0"
ts=$(ctl alloc logs -timestamps "$WEB" | head -1)
check "alloc logs -timestamps prefixes the time ($ts)" grep -Eq '^[0-9]{4}-[0-9-]+T[0-9:.]+Z started' <<<"$ts"
check "the batch job completes" wait_for 10 is once 'a["ClientStatus"]' complete
check "its output is there" bash -c '"$1" -socket "$2" alloc logs "$3" | grep -qx "batch done"' _ "$AGENTCTL" "$SOCK" "$(alloc_id once)"

# Restart policy: 2 attempts in 1m, then fail.
check "the crashing task is failed after its attempts" wait_for 20 is crash 'a["ClientStatus"]' failed
check "with 2 restarts" is crash 'a["TaskStates"]["t"]["Restarts"]' 2
check "and Not Restarting saying why" is crash '[e["DisplayMessage"] for e in a["TaskStates"]["t"]["Events"] if e["Type"]=="Not Restarting"][0].startswith("Exceeded allowed attempts 2")' True
check "each run's output is kept (3 lines)" bash -c '[ "$("$1" -socket "$2" alloc logs "$3" | grep -c crashing)" = 3 ]' _ "$AGENTCTL" "$SOCK" "$(alloc_id crash)"

# Memory limit: the hog is OOM-killed in its cgroup.
check "the memory hog fails" wait_for 30 is hog 'a["ClientStatus"]' failed
check "killed by SIGKILL (exit 137), not finishing" is hog '[e["ExitCode"] for e in a["TaskStates"]["t"]["Events"] if e["Type"]=="Terminated"][0]' 137
setup=$(alloc_field hog '[e["DisplayMessage"] for e in a["TaskStates"]["t"]["Events"] if e["Type"]=="Task Setup"][0]')
check "Task Setup says the limit applied ($setup)" grep -Eq 'memory[._a-z]*=33554432' <<<"$setup"
check "it never printed survived" bash -c '! "$1" -socket "$2" alloc logs "$3" | grep -q survived' _ "$AGENTCTL" "$SOCK" "$(alloc_id hog)"

# Kill timeout: SIGINT is ignored, SIGKILL follows after 1 s.
check "stubborn runs" wait_for 10 is stubborn 'a["TaskStates"]["t"]["State"]' running
t0=$(date +%s%N)
check "alloc stop is accepted" ctl alloc stop "$(alloc_id stubborn)"
check "stubborn is dead" wait_for 10 is stubborn 'a["TaskStates"]["t"]["State"]' dead
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "after its 1 s KillTimeout, not before (${ms} ms)" test "$ms" -ge 900 -a "$ms" -lt 8000
check "an event says SIGKILL was sent" is stubborn 'any("SIGKILL" in e["DisplayMessage"] for e in a["TaskStates"]["t"]["Events"])' True
check "stubborn's allocation is complete, desired stop" is stubborn 'a["ClientStatus"]+"/"+a["DesiredStatus"]' complete/stop

# A task's service is registered while it runs, with its port, and checked.
svc_health() { curl -fsS "$URL/v1/agent/checks" | python3 -c '
import json,sys; c=[v for v in json.load(sys.stdin).values() if v["ServiceName"]=="echo-listener"]; print(c[0]["Status"] if c else "none")'; }
check "the task's service is registered, port $SVC_PORT, tag v1" wait_for 10 bash -c 'curl -fsS "$1/v1/agent/services" | python3 -c "
import json,sys; s=[v for v in json.load(sys.stdin).values() if v[\"Service\"]==\"echo-listener\"]; sys.exit(not (s and s[0][\"Port\"]==int(sys.argv[1]) and s[0][\"Tags\"]==[\"v1\"]))" "$2"' _ "$URL" "$SVC_PORT"
svc_is() { [ "$(svc_health)" = "$1" ]; }
check "its TCP check passes" wait_for 10 svc_is passing
a=$(ctl dns echo-listener.service.weft SRV 2>&1)
check "DNS answers its SRV with the port ($(echo "$a" | grep SRV | head -1))" grep -q " $SVC_PORT " <<<"$a"
check "alloc stop of svc" ctl alloc stop "$(alloc_id svc)"
check "its service is deregistered when the task stops" wait_for 10 svc_is none

# Signals reach the task.
check "alloc signal -s SIGHUP" ctl alloc signal -s SIGHUP "$WEB" server
LOOK=got-hup
check "the task saw it" wait_for 10 logs_have "$WEB"

# kill -9 of the agent: the task keeps running and is re-attached, not restarted.
PID1=$(alloc_field web 'a["TaskStates"]["server"]["Pid"]')
kill -9 "$PID"
wait "$PID" 2>/dev/null
check "the task outlives the agent (pid $PID1)" kill -0 "$PID1"
restart_agent() {  # restart_agent MODE [flags...]: same ports and data
  local mode=$1
  shift
  "$AGENT" "$mode" -node_name=suptest -ports.http="$PORT" -ports.gossip="$GOSSIP_PORT" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" \
    -data_dir="$DATA" -socket_path="$SOCK" -jobs_dir="$JOBS" "$@" >>"$LOG" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_for 15 curl -fsS "$URL/v1/allocations"
}
check "the agent comes back" restart_agent dev
check "web is running again in the agent's view" wait_for 10 is web 'a["TaskStates"]["server"]["State"]' running
check "with the same pid: re-attached, not restarted" is web 'a["TaskStates"]["server"]["Pid"]' "$PID1"
check "no restart counted" is web 'a["TaskStates"]["server"]["Restarts"]' 0
check "a Reattached event" is web 'a["TaskStates"]["server"]["Events"][-1]["Type"]' Reattached
check "the crash job stays failed (not re-run)" is crash 'a["ClientStatus"]' failed
check "alloc signal after re-attach" ctl alloc signal -s HUP "$WEB" server
LOOK=got-hup
check "output after re-attach is still collected" wait_for 10 bash -c '[ "$("$1" -socket "$2" alloc logs "$3" | grep -c got-hup)" -ge 2 ]' _ "$AGENTCTL" "$SOCK" "$WEB"

# "Reboot": the agent and every task gone; the agent comes back as a plain client (no server,
# nothing to join: no foundation reachable) and runs its static allocations again.
kill -9 "$PID"
wait "$PID" 2>/dev/null
kill -9 -- "-$PID1" 2>/dev/null
check "the task is gone" wait_for 5 bash -c '! kill -0 "$1" 2>/dev/null' _ "$PID1"
check "the agent starts as a client with no foundation" restart_agent agent -bind_addr=127.0.0.1 -log_level=debug
check "web runs again after the reboot" wait_for 15 is web 'a["TaskStates"]["server"]["State"]' running
PID2=$(alloc_field web 'a["TaskStates"]["server"]["Pid"]')
check "as a new process ($PID1 -> $PID2)" test "$PID2" != "$PID1"
check "the same allocation ID" test "$(alloc_id web)" = "$WEB"
check "the stopped one stays stopped" is stubborn 'a["ClientStatus"]+"/"+a["DesiredStatus"]' complete/stop

# A job removed from the config is stopped and collected at the next start.
rm "$JOBS/web.json"
kill "$PID"
wait "$PID" 2>/dev/null
check "after a graceful stop (a client keeps its tasks) the task still runs" kill -0 "$PID2"
check "the agent restarts without web.json" restart_agent agent -bind_addr=127.0.0.1
check "web's allocation is gone" wait_for 15 bash -c '[ "$(curl -fsS "$1/v1/allocations?prefix=$2")" = "[]" ]' _ "$URL" "$WEB"
check "its process was stopped" wait_for 10 bash -c '! kill -0 "$1" 2>/dev/null' _ "$PID2"
check "its directory was removed" test ! -e "$DATA/allocs/$WEB"
kill "$PID"
wait "$PID" 2>/dev/null

# A bad job file: the agent refuses to start and names every problem.
cat >"$JOBS/bad.json" <<'JSON'
{"ID": "bad", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"args": ["x"]}, "Kill_Timeot": "1s"}]}]}
JSON
out=$("$AGENT" agent -node_name=suptest -bind_addr=127.0.0.1 -ports.http="$(free_port)" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" \
  -ports.dns="$(free_port)" -data_dir="$WORK/bad" -socket_path="$WORK/bad.sock" -jobs_dir="$JOBS" 2>&1)
rc=$?
check "a bad job file stops the agent (exit $rc)" test "$rc" -ne 0
check "naming the file" grep -q "bad.json" <<<"$out"
check "and each problem: the missing command" grep -q "Config.command" <<<"$out"
check "and the misspelled field" grep -qi "Kill_Timeot" <<<"$out"
check "agentctl job validate lists the same problems, exit 1" bash -c '! "$1" job validate "$2" > "$3" 2>&1 && grep -q Config.command "$3"' _ "$AGENTCTL" "$JOBS/bad.json" "$WORK/validate.out"
check "and passes a good file" "$AGENTCTL" job validate "$JOBS/batch.json"
finish
