#!/usr/bin/env bash
# Membership changes with real processes on loopback (dissertation chapter 4, Consul's autopilot):
# three foundations form by bootstrap_expect=3; a fourth, started with the same bootstrap_expect,
# does not bootstrap a cluster of its own (the peers it asks already have one), is added as a
# non-voter and promoted once stable; kill -9 of a voter then remove-peer through a follower
# removes it at once; kill -9 of another voter makes autopilot remove it after the grace; a
# graceful leave is removed promptly; writes succeed after each step. Every wait is bounded.
. "$(dirname "$0")/lib.sh"

TLS=$WORK/tls
mkdir -p "$TLS"
(cd "$TLS" && "$AGENTCTL" tls ca create >/dev/null && "$AGENTCTL" tls cert create -server >/dev/null) ||
  { fail "agentctl tls makes a CA and a server certificate"; finish; }

declare -A HTTP RPC GOSSIP PID_OF
NODES=(s1 s2 s3 s4)
for n in "${NODES[@]}"; do
  HTTP[$n]=$(free_port)
  RPC[$n]=$(free_port)
  GOSSIP[$n]=$(free_port)
done

start_node() {
  local n=$1
  mkdir -p "$WORK/$n"
  "$AGENT" agent -server -bootstrap_expect=3 -node_name="$n" -data_dir="$WORK/$n" -socket_path="$WORK/$n/agent.sock" \
    -bind_addr=127.0.0.1 -advertise_addr=127.0.0.1 -client_addr=127.0.0.1 -gossip.profile=local \
    -ports.http="${HTTP[$n]}" -ports.rpc="${RPC[$n]}" -ports.gossip="${GOSSIP[$n]}" -ports.dns="$(free_port)" \
    -tls.ca_file="$TLS/weft-agent-ca.pem" -tls.cert_file="$TLS/dc1-server-weft-0.pem" \
    -tls.key_file="$TLS/dc1-server-weft-0-key.pem" \
    -retry_join=127.0.0.1:"${GOSSIP[s1]}" -retry_join=127.0.0.1:"${GOSSIP[s2]}" -gossip.rejoin_interval=1s \
    -autopilot.server_stabilization_time=3s -autopilot.dead_server_grace=2s >>"$WORK/$n.log" 2>&1 &
  PID_OF[$n]=$!
  PIDS+=("$!")
}

raft_field() {  # raft_field <node> <field>: one field of /v1/status/raft
  curl -fsS --max-time 2 "http://127.0.0.1:${HTTP[$1]}/v1/status/raft" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
agreed_leader() {  # every node given agrees on one leader among them; prints it
  local leader="" l
  for n in "$@"; do
    l=$(raft_field "$n" Leader) || return 1
    [ -n "$l" ] || return 1
    if [ -z "$leader" ]; then leader=$l; elif [ "$leader" != "$l" ]; then return 1; fi
  done
  printf '%s\n' " $* " | grep -q " $leader " || return 1
  echo "$leader"
}
# config <node>: the configuration that node shows, one "name voter" line per member, sorted.
config() {
  curl -fsS --max-time 2 "http://127.0.0.1:${HTTP[$1]}/v1/operator/raft/configuration" |
    python3 -c 'import json,sys
for s in json.load(sys.stdin)["Servers"]: print(s["Node"], "voter" if s["Voter"] else "nonvoter")' | sort
}
config_is() {  # config_is <node> <expected, lines joined by ";">
  [ "$(config "$1" | paste -sd';')" = "$2" ]
}
put() {  # put <node> <key> <value>: succeeds if the server answered true
  [ "$(curl -fsS --max-time 5 -X PUT --data-binary "$3" "http://127.0.0.1:${HTTP[$1]}/v1/kv/$2")" = "true" ]
}
get_raw() { curl -fsS --max-time 5 "http://127.0.0.1:${HTTP[$1]}/v1/kv/$2?raw&consistent"; }

for n in s1 s2 s3; do start_node "$n"; done
if wait_for 30 agreed_leader s1 s2 s3; then
  ok "three servers form a cluster with one leader ($(agreed_leader s1 s2 s3))"
else
  fail "three servers form a cluster with one leader"
  tail -n 20 "$WORK"/s*.log
  finish
fi
check "a write before the join" wait_for 10 put s1 before-join yes

# The fourth server sees four alive servers (>= bootstrap_expect) but must not bootstrap: the
# others already have a configuration. It joins as a non-voter, then is promoted.
t0=$(date +%s%N)
start_node s4
leader_now() { agreed_leader s1 s2 s3; }
LEADER=$(leader_now)
check "s4 is added as a non-voter" wait_for 15 config_is "$LEADER" "s1 voter;s2 voter;s3 voter;s4 nonvoter"
check "s4 is promoted to voter once stable (3 s)" wait_for 20 config_is "$LEADER" "s1 voter;s2 voter;s3 voter;s4 voter"
echo "s4 became a voter $(( ($(date +%s%N) - t0) / 1000000 )) ms after it started"
check "s4 wrote no voters file (it did not bootstrap)" [ ! -e "$WORK/s4/raft/voters" ]
check "s4 agrees on the leader" wait_for 10 agreed_leader s1 s2 s3 s4
check "a write through s4 is acknowledged" wait_for 10 put s4 after-join yes
check "s4 reads what was written before it joined" bash -c '[ "$(curl -fsS "http://127.0.0.1:$1/v1/kv/before-join?raw&consistent")" = yes ]' _ "${HTTP[s4]}"
check "agentctl operator raft list-peers shows four voters" bash -c \
  '[ "$("$1" -socket "$2" operator raft list-peers | grep -c " true ")" = 4 ]' _ "$AGENTCTL" "$WORK/s1/agent.sock"

# Pick two followers to kill and one to stay, all different from the leader.
LEADER=$(agreed_leader s1 s2 s3 s4)
OTHERS=()
for n in "${NODES[@]}"; do [ "$n" != "$LEADER" ] && OTHERS+=("$n"); done
A=${OTHERS[0]} B=${OTHERS[1]} C=${OTHERS[2]}
expect_without() {  # the configuration of the leader without the given members, all voters
  local out="" n
  for n in "${NODES[@]}"; do
    printf '%s\n' " $* " | grep -q " $n " && continue
    out="$out${out:+;}$n voter"
  done
  echo "$out"
}

# remove-peer of a dead voter through a follower, before autopilot's grace runs out.
kill -9 "${PID_OF[$A]}"
wait "${PID_OF[$A]}" 2>/dev/null
A_ID=$(cat "$WORK/$A/node-id")
check "remove-peer of $A through follower $C succeeds" \
  "$AGENTCTL" -socket "$WORK/$C/agent.sock" operator raft remove-peer -id="$A_ID"
check "$A is gone from the configuration" wait_for 5 config_is "$LEADER" "$(expect_without "$A")"
check "a write after remove-peer is acknowledged" wait_for 10 put "$C" after-remove yes
check "$A is not added back while gossip still shows it alive" bash -c '! grep -q "adding as a non-voter $1" "$2"' _ "$A_ID" "$WORK/$LEADER.log"
code=$(curl -sS -o "$WORK/remove-again" -w "%{http_code}" -X DELETE "http://127.0.0.1:${HTTP[$LEADER]}/v1/operator/raft/peer?id=$A_ID")
check "remove-peer of a non-member answers 404 (got $code: $(cat "$WORK/remove-again"))" [ "$code" = 404 ]

# kill -9 of another voter: autopilot removes it once gossip has reported it failed for 2 s
# (the live voters, two of three, are a majority).
t0=$(date +%s%N)
kill -9 "${PID_OF[$B]}"
wait "${PID_OF[$B]}" 2>/dev/null
check "autopilot removes the dead voter $B after the grace" wait_for 60 config_is "$LEADER" "$(expect_without "$A" "$B")"
echo "dead voter removed $(( ($(date +%s%N) - t0) / 1000000 )) ms after kill -9"
grep -h "autopilot\|failed\|suspect" "$WORK/$LEADER.log" | tail -n 8
check "writes succeed with the two voters left" wait_for 10 put "$LEADER" after-cleanup yes
check "$C reads it" bash -c '[ "$(curl -fsS "http://127.0.0.1:$1/v1/kv/after-cleanup?raw&consistent")" = yes ]' _ "${HTTP[$C]}"

# A graceful leave is removed promptly, without the grace.
t0=$(date +%s%N)
check "agentctl leave on $C" "$AGENTCTL" -socket "$WORK/$C/agent.sock" leave
check "autopilot removes $C, which left" wait_for 15 config_is "$LEADER" "$LEADER voter"
echo "left server removed $(( ($(date +%s%N) - t0) / 1000000 )) ms after agentctl leave"
check "the last voter alone still takes writes" wait_for 10 put "$LEADER" alone yes
check "remove-peer of the last voter is refused" bash -c \
  '[ "$(curl -sS -o /dev/null -w "%{http_code}" -X DELETE "http://127.0.0.1:$1/v1/operator/raft/peer?id=$2")" = 409 ]' _ "${HTTP[$LEADER]}" "$(cat "$WORK/$LEADER/node-id")"

finish
