#!/usr/bin/env bash
# Proves, between real agents on loopback, that a join does not deliver the user events the fleet
# fired before it (Serf's default), that `agentctl join -replay` does, and that an event fired
# after the join reaches the late joiners.
source "$(dirname "$0")/lib.sh"

declare -A HTTP GOSSIP DATA_OF
start_node() {  # start_node NAME [flags...]
  local n=$1
  shift
  HTTP[$n]=$(free_port)
  GOSSIP[$n]=$(free_port)
  DATA_OF[$n]=$WORK/$n
  mkdir -p "${DATA_OF[$n]}"
  "$AGENT" dev -node_name="$n" -ports.http="${HTTP[$n]}" -ports.gossip="${GOSSIP[$n]}" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" -data_dir="${DATA_OF[$n]}" \
    -socket_path="${DATA_OF[$n]}/agent.sock" "$@" >>"$WORK/$n.log" 2>&1 &
  PIDS+=("$!")
  wait_for 10 curl -fsS "http://127.0.0.1:${HTTP[$n]}/v1/agent/health"
}
ctl() { local n=$1; shift; "$AGENTCTL" -socket "${DATA_OF[$n]}/agent.sock" "$@"; }
alive_count() { ctl "$1" members -status alive -format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
sees_alive() { [ "$(alive_count "$1")" = "$2" ]; }
# events NODE: the names of the user events NODE lists, sorted, comma-separated
events() { curl -fsS "http://127.0.0.1:${HTTP[$1]}/v1/event/list" | python3 -c 'import json,sys; print(",".join(sorted(e["Name"] for e in json.load(sys.stdin))))'; }
has_events() { [ "$(events "$1")" = "$2" ]; }

start_node n1 || fail "n1 starts"
start_node n2 -join="127.0.0.1:${GOSSIP[n1]}" || fail "n2 starts"
check "n1 and n2 form a fleet" wait_for 20 sees_alive n1 2
ctl n1 event early one >/dev/null
check "the early event reaches n2" wait_for 10 has_events n2 early

start_node late || fail "late starts"
start_node replay || fail "replay starts"
check "agentctl join -replay with a stray flag is a usage error" test "$(ctl replay join -bogus "127.0.0.1:${GOSSIP[n1]}" >/dev/null 2>&1; echo $?)" = 2
ctl late join "127.0.0.1:${GOSSIP[n1]}" >/dev/null || fail "late joins"
ctl replay join -replay "127.0.0.1:${GOSSIP[n1]}" >/dev/null || fail "replay joins"
check "all four see each other" wait_for 20 sees_alive n1 4
check "the replaying joiner is handed the early event" wait_for 10 has_events replay early
ctl n2 event later two >/dev/null
check "an event after the join reaches the plain joiner" wait_for 10 has_events late later
# A broadcast that a loaded machine delays or loses reaches it by the next push-pull (every 15 s
# in the local profile): wait past one.
check "... and the replaying one, besides the early one" wait_for 25 has_events replay early,later

# The local profile's push-pull runs every 15 s and carries recent events: wait past one round.
sleep_until=$(( $(date +%s) + 17 ))
while [ "$(date +%s)" -lt "$sleep_until" ]; do
  [ "$(events late)" = "later" ] || break
  sleep 0.5
done
check "the plain joiner never lists the early event, even after a push-pull round" has_events late later
before=$(curl -fsS "http://127.0.0.1:${HTTP[late]}/v1/agent/self" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Stats"]["gossip"]["user_events_before_join"])')
check "the plain joiner counted the early event as before its join ($before)" test "$before" -gt 0
for n in n1 n2 late replay; do  # for the log: each node's event counters
  echo "$n: $(curl -fsS "http://127.0.0.1:${HTTP[$n]}/v1/agent/self" | python3 -c 'import json,sys; g=json.load(sys.stdin)["Stats"]["gossip"]; print({k: v for k, v in g.items() if "event" in k or "ltime" in k})') events=$(events "$n")"
done
finish
