#!/usr/bin/env bash
# Proves run-time tag changes between real agents on loopback: `agentctl tags -set/-delete`
# changes one node's labels and another node's `agentctl members -tag` sees the change; the
# agent's own tags, bad names and values, bad bodies and a change past the 512-byte tag bound are
# refused with a 400 and change nothing; the change survives a restart (<data_dir>/tags.json);
# setting a label back to its configured value drops the override.
source "$(dirname "$0")/lib.sh"

declare -A HTTP GOSSIP DATA_OF PID_OF
start_node() {  # start_node NAME [flags...]; ports and data dir kept across restarts
  local n=$1
  shift
  HTTP[$n]=${HTTP[$n]:-$(free_port)}
  GOSSIP[$n]=${GOSSIP[$n]:-$(free_port)}
  DATA_OF[$n]=$WORK/$n
  mkdir -p "${DATA_OF[$n]}"
  "$AGENT" dev -node_name="$n" -ports.http="${HTTP[$n]}" -ports.gossip="${GOSSIP[$n]}" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" -data_dir="${DATA_OF[$n]}" \
    -socket_path="${DATA_OF[$n]}/agent.sock" "$@" >>"$WORK/$n.log" 2>&1 &
  PID_OF[$n]=$!
  PIDS+=("$!")
  wait_for 10 curl -fsS "http://127.0.0.1:${HTTP[$n]}/v1/agent/health"
}
ctl() { local n=$1; shift; "$AGENTCTL" -socket "${DATA_OF[$n]}/agent.sock" "$@"; }
sees_alive() { [ "$(ctl "$1" members -status alive -format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$2" ]; }
# n2_sees_n1 PYEXPR: PYEXPR over t (n1's tags as n2's `members -tag label.rack=r7` shows them) holds
n2_sees_n1() {
  ctl n2 members -tag label.rack=r7 -format json | python3 -c '
import json,sys
m=[m for m in json.load(sys.stdin) if m["name"]=="n1"]
assert m, "n1 not listed with label.rack=r7"
t=m[0]["tags"]
assert eval(sys.argv[1]), t' "$1"
}
tags_of() { curl -fsS "http://127.0.0.1:${HTTP[$1]}/v1/agent/tags"; }
put_tags() {  # put_tags NODE BODY: prints the HTTP status; the body goes to $WORK/put.json
  curl -sS -o "$WORK/put.json" -w '%{http_code}' -X PUT --data-binary "$2" "http://127.0.0.1:${HTTP[$1]}/v1/agent/tags"
}
incarnation_of_n1() { curl -fsS "http://127.0.0.1:${HTTP[n1]}/v1/agent/members" | python3 -c 'import json,sys; print([m["Incarnation"] for m in json.load(sys.stdin) if m["Name"]=="n1"][0])'; }

N1_FLAGS=(-labels.rack=r1 -labels.old=x)
start_node n1 "${N1_FLAGS[@]}" || fail "n1 starts"
start_node n2 -join="127.0.0.1:${GOSSIP[n1]}" || fail "n2 starts"
check "n1 and n2 form a fleet" wait_for 20 sees_alive n2 2

out=$(ctl n1 tags)
echo "$out"
check "agentctl tags lists the node's tags" bash -c 'grep -q "^label.rack  *r1$" <<<"$1" && grep -q "^role " <<<"$1"' _ "$out"

out=$(ctl n1 tags -set label.rack=r7 -set label.zone="z 1" -delete label.old)
rc=$?
echo "$out"
check "agentctl tags -set/-delete succeeds" test "$rc" -eq 0
check "... and prints the new tags, marking the run-time ones" bash -c 'grep -q "^label.rack  *r7  (set at run time)$" <<<"$1" && grep -q "deleted at run time: label.old" <<<"$1"' _ "$out"
check "n2 sees n1's new labels (members -tag label.rack=r7)" wait_for 20 n2_sees_n1 't.get("label.zone")=="z 1" and "label.old" not in t'

# Refusals: a 400 with a clear message, and nothing changes.
before=$(tags_of n1)
inc_before=$(incarnation_of_n1)
refused() {  # refused BODY SUBSTRING
  local code
  code=$(put_tags n1 "$1")
  [ "$code" = 400 ] && grep -q -- "$2" "$WORK/put.json" || { echo "got $code: $(cat "$WORK/put.json")"; return 1; }
}
check "role is refused (the agent's own tag)" refused '{"Set": {"role": "director"}}' 'belongs to the agent'
check "dc is refused" refused '{"Set": {"dc": "dc9"}}' 'belongs to the agent'
check "deleting kr is refused" refused '{"Delete": ["kr"]}' 'belongs to the agent'
check "a tag that is not a label is refused, with a hint" refused '{"Set": {"rack": "r9"}}' 'did you mean label.rack'
check "a label name with a space is refused" refused '{"Set": {"label.a b": "x"}}' 'label name'
check "a value with a newline is refused" refused '{"Set": {"label.a": "x\ny"}}' 'printable ASCII'
check "a label both set and deleted is refused" refused '{"Set": {"label.a": "1"}, "Delete": ["label.a"]}' 'both set and deleted'
check "a body that is not JSON is refused" refused 'rack=r9' 'want a JSON object'
check "an unknown field is refused" refused '{"Add": {"label.a": "1"}}' 'unexpected field'
check "an empty change is refused" refused '{}' 'nothing to change'
big=$(python3 -c 'import json; print(json.dumps({"Set": {"label.big%d" % i: "v" * 200 for i in range(3)}}))')
check "a change past the 512-byte tag bound is refused" refused "$big" 'at most 512 bytes'
check "agentctl tags -set role=... exits 1 saying why" bash -c '"$@" tags -set role=x 2>&1 >/dev/null | grep -q "belongs to the agent"; [ "${PIPESTATUS[0]}" = 1 ]' _ "$AGENTCTL" -socket "${DATA_OF[n1]}/agent.sock"
check "agentctl tags -set without KEY=VALUE is a usage error" test "$(ctl n1 tags -set novalue >/dev/null 2>&1; echo $?)" = 2
check "the refused changes changed nothing" test "$(tags_of n1)" = "$before"
check "... not even the incarnation" test "$(incarnation_of_n1)" = "$inc_before"

# Durable: a restart (same data dir and flags) keeps the run-time labels.
check "the overrides file is owner-only" test "$(stat -c %a "${DATA_OF[n1]}/tags.json")" = 600
kill "${PID_OF[n1]}"
wait "${PID_OF[n1]}" 2>/dev/null
start_node n1 "${N1_FLAGS[@]}" -join="127.0.0.1:${GOSSIP[n2]}" || fail "n1 restarts"
check "after a restart n1 still has its run-time labels" python3 -c '
import json,sys
t=json.loads(sys.argv[1])["Tags"]
assert t["label.rack"]=="r7" and t["label.zone"]=="z 1" and "label.old" not in t, t' "$(tags_of n1)"
check "n2 sees the restarted n1 with them" wait_for 30 n2_sees_n1 't.get("label.zone")=="z 1" and "label.old" not in t'

# Back to the configured value: the override is dropped, not kept.
ctl n1 tags -set label.rack=r1 >/dev/null
check "setting the configured value drops the override" python3 -c '
import json,sys
d=json.loads(sys.argv[1])
assert d["Tags"]["label.rack"]=="r1" and "label.rack" not in d["Overrides"]["Set"], d' "$(tags_of n1)"
check "agentctl tags -format json answers the API's shape" python3 -c '
import json,sys
d=json.loads(sys.argv[1]); assert d["Node"]=="n1" and d["Overrides"]["Delete"]==["label.old"], d' "$(ctl n1 tags -format json)"
finish
