#!/usr/bin/env bash
# The oci driver (issue 6 item 6) end to end with Debian's runc: static jobs whose tasks run in
# containers of a busybox-static image made here (a `docker save` archive; Config.image is its
# path, so the supervisor loads it into the image store first). Proves: the container runs with
# the image's layers (a file from layer 2), its own hostname, /etc/resolv.conf naming the node's
# DNS, /alloc and NOMAD_* inside, and its output in the task's logs; its memory is accounted
# through the task's cgroup; its writable top layer survives a restart of the task; a batch
# container's exit code is known (exit 0 completes; exit 3 is a failure with "Exit Code: 3") --
# the agent is the subreaper that adopts the container's init; stopping the allocation kills the
# container, deletes it from runc and unmounts its root filesystem; a hostile image is refused at
# start with a message naming the entry.
source "$(dirname "$0")/lib.sh"

BUSYBOX=$(command -v busybox || true)
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
if [ "$(id -u)" != 0 ] || ! command -v runc >/dev/null || [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  echo "skip: needs root, runc and Debian's busybox-static (tools/deps installs them)"
  exit 0
fi
bash "$(dirname "$0")/tools/busybox_image.sh" "$BUSYBOX" "$WORK"
[ -f "$WORK/docker.tar" ] || { fail "the busybox image archive is built"; finish; }

JOBS=$WORK/jobs
mkdir -p "$JOBS"
cat >"$JOBS/box.json" <<JSON
{"ID": "box", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "c", "Driver": "oci", "Resources": {"MemoryMB": 64},
  "Env": {"GREETING": "hi \${NOMAD_TASK_NAME}"},
  "Config": {"image": "$WORK/docker.tar", "command": "/bin/sh", "args": ["-c",
    "echo host=\$(busybox hostname) file=\$(cat /etc/hostname) alloc=\$NOMAD_ALLOC_DIR greeting=\$GREETING; cat /etc/resolv.conf; test -e /data.txt && echo data-kept; echo x > /data.txt; while :; do busybox sleep 1; done"]}}]}]}
JSON
cat >"$JOBS/idle.json" <<JSON
{"ID": "idle", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "c", "Driver": "oci",
  "Config": {"image": "$WORK/docker.tar", "command": "/bin/sh", "args": ["-c", "while :; do busybox sleep 1; done"]}}]}]}
JSON
cat >"$JOBS/ok.json" <<JSON
{"ID": "ok", "Type": "batch", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "c", "Driver": "oci",
  "Config": {"image": "$WORK/docker.tar", "command": "/bin/sh", "args": ["-c", "echo batch-in-container"]}}]}]}
JSON
cat >"$JOBS/three.json" <<JSON
{"ID": "three", "Type": "batch", "TaskGroups": [{"Name": "g", "RestartPolicy": {"Attempts": 0, "Mode": "fail"},
  "Tasks": [{"Name": "c", "Driver": "oci", "Config": {"image": "$WORK/docker.tar", "command": "/bin/sh", "args": ["-c", "exit 3"]}}]}]}
JSON
cat >"$JOBS/evil.json" <<JSON
{"ID": "evil", "TaskGroups": [{"Name": "g", "RestartPolicy": {"Attempts": 0, "Mode": "fail"},
  "Tasks": [{"Name": "c", "Driver": "oci", "Config": {"image": "$WORK/evil.tar"}}]}]}
JSON

start_dev oci -node_name=ocitest -jobs_dir="$JOBS" || { fail "agent dev starts"; finish; }
URL=http://127.0.0.1:$PORT
ctl() { "$AGENTCTL" -socket "$SOCK" "$@"; }
is() { [ "$(alloc_field "$1" "$2" 2>/dev/null)" = "$3" ]; }
events() { alloc_field "$1" '" | ".join(e["Type"]+": "+e["DisplayMessage"] for e in a["TaskStates"]["c"]["Events"])'; }

check "the container task runs" wait_for 60 is box 'a["TaskStates"]["c"]["State"]' running
BOX=$(alloc_field box 'a["ID"]')
logs_have() { ctl alloc logs "$BOX" c 2>/dev/null | grep -q "$1"; }
check "its output: its hostname, layer 2's file, /alloc, the task's Env" \
  wait_for 15 logs_have "host=${BOX:0:12} file=weft-image alloc=/alloc greeting=hi c"
check "/etc/resolv.conf names the node's DNS" logs_have "nameserver 127.0.0.1"
check "Task Setup names the runtime and the cgroup ($(events box | grep -o 'Task Setup[^|]*' | head -1))" \
  bash -c 'grep -q "runc bundle .* cgroup /weft/" <<<"$1"' _ "$(events box)"
mem() { curl -fsS "$URL/v1/client/allocation/$BOX/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Tasks"]["c"]["ResourceUsage"]["MemoryStats"]["Usage"])'; }
check "its memory is accounted in the task's cgroup ($(mem) bytes)" test "$(mem)" -gt 0
check "runc lists the container" bash -c 'runc list | grep -q "weft-${1:0:8}-c-1 .*running"' _ "$BOX"
check "the rootfs is an overlay mount" grep -q "$DATA/allocs/$BOX/c/oci/rootfs" /proc/mounts

check "alloc restart of the container" ctl alloc restart "$BOX" c
check "it runs again (a second container)" wait_for 30 bash -c 'runc list | grep -q "weft-${1:0:8}-c-2 .*running"' _ "$BOX"
check "the first container was deleted from runc" bash -c '! runc list | grep -q "weft-${1:0:8}-c-1 "' _ "$BOX"
check "the writable top layer survived the restart" wait_for 15 logs_have data-kept

check "a batch container completes" wait_for 60 is ok 'a["ClientStatus"]' complete
check "its output is in the log" bash -c '"$1" -socket "$2" alloc logs "$3" c | grep -q batch-in-container' _ "$AGENTCTL" "$SOCK" "$(alloc_field ok 'a["ID"]')"
check "exit 3 in a container fails the task" wait_for 60 is three 'a["ClientStatus"]' failed
check "with its exit code known ($(events three | grep -o 'Terminated[^|]*'))" bash -c 'grep -q "Terminated: Exit Code: 3" <<<"$1"' _ "$(events three)"

check "the hostile image fails the task" wait_for 60 is evil 'a["ClientStatus"]' failed
check "naming the entry ($(events evil | grep -o 'Driver Failure[^|]*' | head -1))" bash -c 'grep -q "\.\./\.\./evil" <<<"$1"' _ "$(events evil)"
check "nothing escaped the store" test ! -e "$DATA/evil" -a ! -e "$DATA/images/evil" -a ! -e "$WORK/evil"

check "alloc stop of the container" ctl alloc stop "$BOX"
check "the task is dead" wait_for 30 is box 'a["TaskStates"]["c"]["State"]' dead
check "runc no longer lists it" wait_for 10 bash -c '! runc list | grep -q "weft-${1:0:8}-c-"' _ "$BOX"
check "its rootfs is unmounted" wait_for 10 bash -c '! grep -q "$1" /proc/mounts' _ "$DATA/allocs/$BOX/c/oci/rootfs"

# agent dev stops its tasks when it stops: a running container goes with it, deleted from runc,
# its rootfs unmounted.
IDLE=$(alloc_field idle 'a["ID"]')
check "the idle container runs" wait_for 30 is idle 'a["TaskStates"]["c"]["State"]' running
kill "$PID"
wait "$PID" 2>/dev/null
check "after the agent stops, runc no longer lists its container" wait_for 10 bash -c '! runc list | grep -q "weft-${1:0:8}-"' _ "$IDLE"
check "and no rootfs of this agent is mounted" wait_for 10 bash -c '! grep -q "$1" /proc/mounts' _ "$DATA/allocs/"
finish
