#!/usr/bin/env bash
# Proves tools/lab builds a fleet of agents in network namespaces of its own and injects faults
# there: 4 nodes come up healthy and reach each other over the lab subnet only; partitions (both
# ways and one way), loss, kill -9, pause/resume and restart do what they say and heal/0%/resume
# undo them; a second lab runs beside the first without clashing, and `down` removes every
# namespace, interface, nft table, agent and file even after the state dir was lost.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; then
  echo "skipped: needs root and network namespaces"
  exit 0
fi

LAB=$(cd "$(dirname "$0")/../.." && pwd)/tools/lab
# A lab of our own, so that other tests' labs (ctest -j) never meet this one.
export WEFT_LAB_NAME="it$$"
export WEFT_LAB_DIR="$WORK/lab"
export WEFT_LAB_TIMEOUT=15
LAB2_NAME="it$$b"
LAB2_DIR="$WORK/lab2"
T0=$(date +%s)

lab() { "$LAB" "$@"; }
lab2() { WEFT_LAB_NAME=$LAB2_NAME WEFT_LAB_DIR=$LAB2_DIR "$LAB" "$@"; }
on_exit() {
  lab down >/dev/null 2>&1
  lab2 down >/dev/null 2>&1
  cleanup
}
trap on_exit EXIT
trap 'echo "FAIL: lab_test: interrupted or over its time bound"; exit 1' TERM INT
# Watchdog: the whole test is bounded (each step is bounded too; this catches what slips).
(trap 'kill "$s" 2>/dev/null; exit 0' TERM; sleep 120 & s=$!; wait "$s"; kill -TERM $$) >/dev/null 2>&1 &
PIDS+=("$!")

addr() { echo "10.77.0.${1#n}"; }
# get FROM TO: FROM's namespace asks TO's API over the lab subnet (1 s bound).
get() {
  lab exec "$1" -- curl -fsS -o /dev/null --connect-timeout 1 --max-time 1 "http://$(addr "$2"):7700/v1/agent/health" 2>/dev/null
}
# expect_reach ok|blocked FROM>TO...: probes every pair in parallel and checks each. Where the
# pair should reach, a probe that times out is tried twice more (a loaded CI machine can hold an
# agent's answer past the 1 s bound once); where it should be blocked, one probe decides.
expect_reach() {
  local want=$1 pair jobs=() i=0 tries=1
  shift
  [ "$want" = ok ] && tries=3
  for pair in "$@"; do
    (r=blocked
     for _ in $(seq "$tries"); do if get "${pair%>*}" "${pair#*>}"; then r=ok; break; fi; done
     echo "$r") >"$WORK/reach.$i" &
    jobs+=("$!")
    i=$((i + 1))
  done
  wait "${jobs[@]}"
  i=0
  for pair in "$@"; do
    check "$pair: $want (got $(cat "$WORK/reach.$i"))" test "$(cat "$WORK/reach.$i")" = "$want"
    i=$((i + 1))
  done
}
pid_state() { cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | awk '{print $1}'; }
alive() { local s; s=$(pid_state "$1"); [ -n "$s" ] && [ "$s" != Z ]; }  # a zombie counts as gone
none_alive() { local p; for p in "$@"; do alive "$p" && return 1; done; return 0; }
lab_netns() { ip netns list | awk '{print $1}' | grep -E "^weft-$1-" || true; }
root_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
# agents_in DIR: pids of processes whose -data_dir is a lab node's under DIR (the bracket keeps
# the grep from matching its own command line).
agents_in() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' '\n' 2>/dev/null <"$f" | grep -qE "^-data_dir=$1/[n][0-9]+/data$" && echo "${f//[^0-9]/}"
  done
}
ALL_PIDS=()
remember_pids() { local k; for k in 1 2 3 4; do ALL_PIDS+=("$(lab pid "n$k" 2>/dev/null)"); done; }

# UDP helper for the one-way partition and the loss rate (TCP needs both directions).
cat >"$WORK/udp.py" <<'EOF'
import socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == "recv":  # counts datagrams until 1 s passes without one (at most 5 s in all)
    s.bind((host, port)); s.settimeout(1.0); n = 0; end = time.time() + 5
    while time.time() < end:
        try: s.recv(64); n += 1
        except socket.timeout: break
    print(n)
else:  # send COUNT datagrams, 2 ms apart
    for _ in range(int(sys.argv[4])):
        try: s.sendto(b"x", (host, port))
        except OSError: pass  # EPERM: an nft rule dropped it on the way out
        time.sleep(0.002)
EOF
# udp_count FROM TO COUNT: datagrams TO received of COUNT sent by FROM.
udp_count() {
  lab exec "$2" -- python3 "$WORK/udp.py" recv "$(addr "$2")" 7799 >"$WORK/udp.$2" 2>/dev/null &
  local r=$!
  sleep 0.3
  lab exec "$1" -- python3 "$WORK/udp.py" send "$(addr "$2")" 7799 "$3"
  wait "$r"
  cat "$WORK/udp.$2"
}

links_before=$(root_links)
tables_before=$(nft list tables 2>/dev/null)

# --- up ----------------------------------------------------------------------------------------
t=$(date +%s%N)
out=$(lab up 4 --servers 1 --agent "$AGENT" 2>&1)
rc=$?
echo "$out"
check "up 4 exits 0 (rc $rc) in $(( ($(date +%s%N) - t) / 1000000 )) ms" test "$rc" -eq 0
[ "$rc" -eq 0 ] || finish
check "up prints 4 running, passing nodes" test "$(grep -cE '^n[1-4] .* running +passing' <<<"$out")" -eq 4
check "n1 is the server, n2..n4 workers" grep -qE '^n1 +server .*10\.77\.0\.1 ' <<<"$out"
remember_pids
check "the host's own namespace got no interface" test "$(root_links)" = "$links_before"
check "the host's own namespace got no lab address" test -z "$(ip -o addr show | grep '10\.77\.0\.')"
check "the host's own namespace got no nft table" test "$(nft list tables 2>/dev/null)" = "$tables_before"
check "one hub and four node namespaces" test "$(lab_netns "$WEFT_LAB_NAME" | wc -l)" -eq 5

for k in 1 2 3 4; do
  h=$(lab exec "n$k" -- curl -fsS --max-time 2 http://127.0.0.1:7700/v1/agent/health 2>&1)
  check "n$k answers health on loopback inside its namespace, as n$k" grep -q "\"Node\":\"n$k\"" <<<"$h"
  h=$(lab exec "n$k" -- curl -fsS --max-time 2 "http://$(addr "n$k"):7700/v1/agent/health" 2>&1)
  check "n$k answers health on its lab address" grep -q '"Healthy":true' <<<"$h"
done
out=$(lab exec n3 -- agentctl status 2>&1)
check "agentctl in n3 finds n3's socket through AGENT_SOCKET_PATH" grep -qE 'node: +n3' <<<"$out"
self=$(lab exec n2 -- curl -fsS --max-time 2 "http://$(addr n1):7700/v1/agent/self" 2>&1)
check "n2 reaches n1's API over the lab subnet" grep -q '"NodeName":"n1"' <<<"$self"
check "n2 was told to join n1" grep -qF -- "-join=10.77.0.1" "$WEFT_LAB_DIR/n2/cmdline"
expect_reach ok "n1>n2" "n1>n3" "n1>n4" "n2>n1" "n2>n3" "n2>n4" "n3>n1" "n3>n2" "n3>n4" "n4>n1" "n4>n2" "n4>n3"

pids_before="${ALL_PIDS[*]}"
lab up 4 --servers 1 --agent "$AGENT" >/dev/null 2>&1
check "up again on a lab that is up exits 0" test $? -eq 0
ALL_PIDS=()
remember_pids
check "up again keeps the same agents ($pids_before)" test "${ALL_PIDS[*]}" = "$pids_before"
out=$(lab up 5 --agent "$AGENT" 2>&1)
rc=$?
check "up with other settings on a lab that is up fails clearly (rc $rc)" test "$rc" -eq 1
check "... and says the lab is up with other settings" grep -q "already up with other settings" <<<"$out"

# --- partitions --------------------------------------------------------------------------------
lab partition n1,n2 / n3,n4 >/dev/null
expect_reach blocked "n1>n3" "n3>n1" "n2>n4" "n4>n2" "n1>n4" "n3>n2"
expect_reach ok "n1>n2" "n2>n1" "n3>n4" "n4>n3"
check "status shows the partition" grep -qE '^n1 .*drops-to:n3,n4' <<<"$(lab status)"
lab heal >/dev/null
expect_reach ok "n1>n3" "n3>n1" "n2>n4" "n4>n2"
check "status shows no fault after heal" test "$(lab status | grep -cE '^n[1-4] .* -$')" -eq 4

lab partition --oneway n1 / n4 >/dev/null
got=$(udp_count n1 n4 20)
check "one-way partition: n4 receives nothing from n1 (got $got of 20)" test "$got" = 0
got=$(udp_count n4 n1 20)
check "one-way partition: n1 still receives from n4 (got $got of 20)" test "$got" -ge 18
expect_reach ok "n1>n2" "n4>n3"
lab heal >/dev/null
got=$(udp_count n1 n4 20)
check "after heal n4 receives from n1 again (got $got of 20)" test "$got" -ge 18

# Ring: each node keeps only its two neighbours in the order given.
lab ring n1,n3,n2,n4 >/dev/null
expect_reach blocked "n1>n2" "n2>n1" "n3>n4" "n4>n3"
expect_reach ok "n1>n3" "n3>n2" "n2>n4" "n4>n1" "n3>n1" "n1>n4"
out=$(lab ring n1,n2,n3 2>&1)
check "a ring of 3 is a usage error (rc $?)" grep -q "at least 4" <<<"$out"
# The hub (test clients run there) reaches every node, and a partition never cuts it off.
lab partition n1 / n2,n3,n4 >/dev/null
h=$(lab exec hub -- curl -fsS --max-time 2 "http://$(addr n1):7700/v1/agent/health" 2>&1)
check "the hub ($(lab addr hub)) reaches n1 while n1 is partitioned from the other nodes" grep -q '"Healthy":true' <<<"$h"
lab heal >/dev/null
expect_reach ok "n1>n2" "n3>n4"

# --- loss --------------------------------------------------------------------------------------
lab loss n3 100 >/dev/null
expect_reach blocked "n1>n3" "n3>n4"
expect_reach ok "n1>n2" "n4>n1"
check "status shows n3's loss" grep -qE '^n3 .*loss-in:100% loss-out:100%' <<<"$(lab status)"
lab loss n3 0 >/dev/null
expect_reach ok "n1>n3" "n3>n4"
lab loss n3 50 in >/dev/null
got=$(udp_count n1 n3 400)
check "loss 50% in drops about half (received $got of 400)" test "$got" -ge 120 -a "$got" -le 280
got=$(udp_count n3 n1 50)
check "loss in leaves n3's sending alone (received $got of 50)" test "$got" -ge 45
lab loss n3 0 >/dev/null
check "loss 0 removes the rule" grep -qE '^n3 .* -$' <<<"$(lab status)"
out=$(lab loss n1 150 2>&1)
check "loss 150 is a usage error (rc $?)" grep -q "0..100" <<<"$out"

# --- kill, pause, resume, restart ---------------------------------------------------------------
p4=$(lab pid n4)
lab kill n4 >/dev/null
check "kill n4: its agent (pid $p4) is gone" bash -c "! test -d /proc/$p4 || grep -q ') Z' /proc/$p4/stat"
expect_reach blocked "n1>n4" "n2>n4"
expect_reach ok "n1>n2" "n2>n1" "n3>n1" "n1>n3"
check "status shows n4 dead" grep -qE '^n4 .* dead ' <<<"$(lab status)"
check "kill on a dead node is fine" lab kill n4

p3=$(lab pid n3)
lab pause n3 >/dev/null
check "pause n3: pid $p3 is stopped (state $(pid_state "$p3"))" test "$(pid_state "$p3")" = T
expect_reach blocked "n1>n3"
check "status shows n3 paused" grep -qE '^n3 .* paused ' <<<"$(lab status)"
lab resume n3 >/dev/null
check "resume n3: pid $p3 runs again (state $(pid_state "$p3"))" test "$(pid_state "$p3")" != T
expect_reach ok "n1>n3" "n3>n2"

lab restart n4 >/dev/null
p4b=$(lab pid n4)
check "restart brings the killed n4 back (pid $p4b)" test -n "$p4b" -a "$p4b" != "$p4"
expect_reach ok "n1>n4" "n4>n1"
p2=$(lab pid n2)
lab restart n2 >/dev/null
p2b=$(lab pid n2)
check "restart replaces a running n2 ($p2 -> $p2b)" test -n "$p2b" -a "$p2b" != "$p2"
check "... and the old n2 is gone" bash -c "! test -d /proc/$p2 || grep -q ') Z' /proc/$p2/stat"
expect_reach ok "n2>n1" "n3>n2"
ALL_PIDS+=("$p4b" "$p2b")
check "logs n1 shows its start" grep -q "started: node n1" <<<"$(lab logs n1)"

out=$(lab exec n9 -- true 2>&1)
check "exec on a node that does not exist fails clearly (rc $?)" grep -q "no node n9" <<<"$out"
out=$(lab partition n1 / n1 2>&1)
check "a node on both sides of a partition is refused" grep -q "on both sides" <<<"$out"

# --- a second lab beside the first; down after its state dir is lost ----------------------------
out=$(lab2 up 2 --agent "$AGENT" 2>&1)
check "a second lab comes up beside the first (same subnet, own namespaces; rc $?)" grep -qE '^n2 .* running +passing' <<<"$out"
l2p1=$(lab2 pid n1)
l2p2=$(lab2 pid n2)
h=$(WEFT_LAB_NAME=$LAB2_NAME WEFT_LAB_DIR=$LAB2_DIR "$LAB" exec n2 -- curl -fsS --max-time 2 http://10.77.0.1:7700/v1/agent/self 2>&1)
check "the second lab's n2 reaches its own n1" grep -qF "$LAB2_DIR/n1" <<<"$h"
expect_reach ok "n2>n1" "n1>n3"
rm -rf "$LAB2_DIR"
ip netns add "weft-$LAB2_NAME-n7"   # a namespace a crashed lab might have left
lab2 status >/dev/null 2>&1
check "status of a lab whose state is gone exits 3" test $? -eq 3
lab2 down >/dev/null
check "down without its state dir exits 0" test $? -eq 0
check "... and leaves no namespace of that lab" test -z "$(lab_netns "$LAB2_NAME")"
check "... and no agent of that lab ($l2p1 $l2p2)" none_alive "$l2p1" "$l2p2"
expect_reach ok "n1>n2" "n4>n3"

# --- down --------------------------------------------------------------------------------------
lab down >/dev/null
check "down exits 0" test $? -eq 0
check "no namespace of the lab is left" test -z "$(lab_netns "$WEFT_LAB_NAME")"
check "no interface was left in the host's namespace" test "$(root_links)" = "$links_before"
check "no nft table was left" test "$(nft list tables 2>/dev/null)" = "$tables_before"
check "no agent process is left (checked: ${ALL_PIDS[*]})" none_alive "${ALL_PIDS[@]}"
check "no process runs from the lab's state dir" test -z "$(agents_in "$WEFT_LAB_DIR")"
check "the state dir is gone" test ! -e "$WEFT_LAB_DIR"
lab down >/dev/null
check "down twice is fine" test $? -eq 0
lab status >/dev/null 2>&1
check "status after down exits 3" test $? -eq 3
echo "lab_test: $(( $(date +%s) - T0 )) s"
finish
