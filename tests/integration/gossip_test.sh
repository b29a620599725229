#!/usr/bin/env bash
# Proves membership between real agent processes on loopback, with encrypted gossip: three agents
# form one fleet; agentctl members lists and filters it; a user event reaches everyone; a member
# killed with SIGKILL is declared failed by the others within the bound the local profile
# implies; a live key rotation (install, use, remove) under traffic loses nobody; a restarted
# member comes back with a higher incarnation; an agent with the wrong key never gets in and
# its packets are counted as dropped; a graceful leave is seen as "left".
source "$(dirname "$0")/lib.sh"

KEY1=$("$AGENTCTL" keygen)
KEY2=$("$AGENTCTL" keygen)
check "keygen prints base64 of 32 bytes" python3 -c 'import base64,sys; assert len(base64.b64decode(sys.argv[1], validate=True)) == 32' "$KEY1"

declare -A HTTP GOSSIP DATA_OF PID_OF
start_node() {  # start_node NAME KEY JOIN_PORT
  local n=$1 key=$2 join=$3
  HTTP[$n]=${HTTP[$n]:-$(free_port)}
  GOSSIP[$n]=${GOSSIP[$n]:-$(free_port)}
  DATA_OF[$n]=$WORK/$n
  mkdir -p "${DATA_OF[$n]}"
  "$AGENT" dev -node_name="$n" -ports.http="${HTTP[$n]}" -ports.gossip="${GOSSIP[$n]}" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" -data_dir="${DATA_OF[$n]}" \
    -socket_path="${DATA_OF[$n]}/agent.sock" -encrypt="$key" -join="127.0.0.1:$join" -labels.rack="r-$n" \
    >>"$WORK/$n.log" 2>&1 &
  PID_OF[$n]=$!
  PIDS+=("$!")
  wait_for 10 curl -fsS "http://127.0.0.1:${HTTP[$n]}/v1/agent/health"
}
ctl() { local n=$1; shift; "$AGENTCTL" -socket "${DATA_OF[$n]}/agent.sock" "$@"; }
# count NODE STATE: how many members NODE sees in STATE
count() { ctl "$1" members -format json | python3 -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m["status"]==sys.argv[1]))' "$2"; }
sees() { [ "$(count "$1" "$2")" = "$3" ]; }
has_event() { curl -fsS "http://127.0.0.1:$1/v1/event/list?name=deploy" | grep -q '"Payload":"djQy"'; }
# keyring_is PORT EXPR WANT: EXPR over k (the keyring pool of /v1/operator/keyring) equals WANT
keyring_is() {
  [ "$(curl -fsS "http://127.0.0.1:$1/v1/operator/keyring" | python3 -c 'import json,sys,os; k=json.load(sys.stdin)[0]; print(eval(sys.argv[1]))' "$2")" = "$3" ]
}
status_of_is() {  # status_of_is OBSERVER MEMBER STATUS
  [ "$(ctl "$1" members -format json | python3 -c 'import json,sys; print([m["status"] for m in json.load(sys.stdin) if m["name"]==sys.argv[1]][0])' "$2")" = "$3" ]
}
not_member() { ! ctl "$1" members | grep -q "^$2 "; }
gone() { ! kill -0 "$1" 2>/dev/null; }

GOSSIP[n1]=$(free_port)
for n in n1 n2 n3; do start_node "$n" "$KEY1" "${GOSSIP[n1]}" || fail "$n starts"; done

for n in n1 n2 n3; do
  check "$n sees 3 alive members" wait_for 20 sees "$n" alive 3
done
out=$(ctl n2 members)
echo "$out"
check "members lists every node with its address and role" bash -c 'grep -q "^n1 .*127.0.0.1:'"${GOSSIP[n1]}"' .*alive .*foundation" <<<"$1"' _ "$out"
check "members -tag filters by tag" test "$(ctl n1 members -tag label.rack=r-n2 -format json | python3 -c 'import json,sys; print([m["name"] for m in json.load(sys.stdin)])')" = "['n2']"
code=$(curl -sS -o "$WORK/m.json" -w '%{http_code}' "http://127.0.0.1:${HTTP[n3]}/v1/agent/members")
check "/v1/agent/members answers in Consul's shape" python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); assert sys.argv[2]=="200"
assert sorted(m["Name"] for m in d)==["n1","n2","n3"], d
for m in d: assert m["Status"]==1 and isinstance(m["Port"],int) and m["Tags"]["dc"]=="dc1", m' "$WORK/m.json" "$code"

ctl n1 event deploy v42 >/dev/null
for n in n1 n2 n3; do
  check "user event reaches $n" wait_for 10 has_event "${HTTP[$n]}"
done

# Key rotation under traffic: install, use, remove; nobody lost at any step.
ctl n1 keyring install "$KEY2" >/dev/null
check "installed key spreads to all 3" wait_for 45 keyring_is "${HTTP[n1]}" 'len(k["Keys"]) == 2 and min(k["Keys"].values()) == 3' True
KEY2_ID=$(ctl n1 keyring list -format json | python3 -c 'import json,sys; k=json.load(sys.stdin)[0]; print([i for i,n in k["Keys"].items() if i not in k["PrimaryKeys"]][0])')
export K=$KEY2_ID
ctl n2 keyring use "$KEY2_ID" >/dev/null
check "new key becomes primary on all 3" wait_for 45 keyring_is "${HTTP[n1]}" 'k["PrimaryKeys"].get(os.environ["K"], 0)' 3
export K=$KEY2_ID
OLD_ID=$(ctl n1 keyring list -format json | python3 -c 'import json,sys,os; k=json.load(sys.stdin)[0]; print([i for i in k["Keys"] if i!=os.environ["K"]][0])')
ctl n3 keyring remove "$OLD_ID" >/dev/null
check "old key removed everywhere" wait_for 45 keyring_is "${HTTP[n1]}" 'len(k["Keys"])' 1
lost=0
for _ in $(seq 20); do  # 2 s of observation, every 100 ms: every node keeps seeing all three alive
  for n in n1 n2 n3; do sees "$n" alive 3 || lost=1; done
  sleep 0.1
done
check "key rotation lost no member" test "$lost" -eq 0

# A member paused (SIGSTOP) for less than the minimum suspicion time (3 s in the local profile)
# may be suspected, but refutes once it runs again and is never declared failed: no flap.
kill -STOP "${PID_OF[n2]}"
t_stop=$(date +%s%N)
while [ $(( ($(date +%s%N) - t_stop) / 1000000 )) -lt 1500 ]; do
  sees n1 failed 0 || break
  sleep 0.1
done
kill -CONT "${PID_OF[n2]}"
flapped=0
for _ in $(seq 50); do  # 5 s after the pause, every 100 ms
  sees n1 failed 0 || flapped=1
  sleep 0.1
done
check "a 1.5 s SIGSTOP pause causes no flap (never failed)" test "$flapped" -eq 0
check "the paused member is alive again" wait_for 10 sees n1 alive 3

# A restarted member (SIGKILL, same data dir) comes back with a higher incarnation.
inc_before=$(ctl n1 members -format json | python3 -c 'import json,sys; print([m["incarnation"] for m in json.load(sys.stdin) if m["name"]=="n2"][0])')
kill -9 "${PID_OF[n2]}"
wait "${PID_OF[n2]}" 2>/dev/null
start_node n2 "$KEY1" "${GOSSIP[n1]}" || fail "n2 restarts"
check "restarted n2 is alive again to n1" wait_for 30 status_of_is n1 n2 alive
inc_after=$(ctl n1 members -format json | python3 -c 'import json,sys; print([m["incarnation"] for m in json.load(sys.stdin) if m["name"]=="n2"][0])')
check "restarted n2's incarnation went up ($inc_before -> $inc_after)" test "$inc_after" -gt "$inc_before"
check "restarted n2 kept the rotated keyring (it opens the fleet's packets)" wait_for 20 sees n2 alive 3

# SIGKILL without restart: failed everywhere within the local profile's bound. Suspicion:
# min 3*max(1,log10(3))*1s = 3 s, max 6x = 18 s; plus a probe round. 25 s is the bound.
t0=$(date +%s%N)
kill -9 "${PID_OF[n3]}"
check "n3 declared failed by n1 within 25 s" wait_for 25 sees n1 failed 1
check "n3 declared failed by n2 within 25 s" wait_for 25 sees n2 failed 1
echo "failure detection took $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# A node with the wrong key never gets in; its packets are dropped and counted.
drops_above() { [ "$(auth_drops "$1")" -gt "$2" ]; }
auth_drops() {
  python3 -c '
import json,sys,urllib.request
d=json.load(urllib.request.urlopen("http://127.0.0.1:%s/v1/agent/self" % sys.argv[1]))
print(d["Stats"]["gossip"]["dropped"]["auth"])' "$1"
}
drops_before=$(auth_drops "${HTTP[n1]}")
start_node bad "$(ctl n1 keygen)" "${GOSSIP[n1]}" || fail "bad starts"
check "wrong-key packets reach n1 and are counted as dropped" \
  wait_for 10 drops_above "${HTTP[n1]}" "$drops_before"
check "wrong-key node is not a member" not_member n1 bad
check "the fleet is undisturbed: n1 still sees n1 alive and n3 failed" sees n1 failed 1

# Boot order does not matter: a node whose join address is not up yet retries with backoff (1 s,
# doubling) and is in within seconds once it is, not after a 30 s rejoin interval.
KEY3=$("$AGENTCTL" keygen)
GOSSIP[j1]=$(free_port)
start_node j2 "$KEY3" "${GOSSIP[j1]}" || fail "j2 starts"
sleep 1  # j1 comes up later on purpose
start_node j1 "$KEY3" "${GOSSIP[j1]}" || fail "j1 starts"
check "j2, started before its join address was up, joins j1 within 10 s" wait_for 10 sees j2 alive 2

# Graceful leave.
ctl n2 leave >/dev/null
check "n2 seen as left by n1" wait_for 15 sees n1 left 1
check "n2's agent stopped after leaving" wait_for 10 gone "${PID_OF[n2]}"
finish
