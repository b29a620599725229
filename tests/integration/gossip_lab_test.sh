#!/usr/bin/env bash
# Proves membership between real agents, each in its own network namespace (tools/lab), with
# encrypted gossip: 6 nodes converge; a SIGKILLed node is declared failed by every survivor within
# the local profile's bound; a SIGSTOP pause shorter than the minimum suspicion time causes no
# flap; a key rotation (install, use, remove) while events are being fired loses no member; and a
# hostile node sending garbage, truncated, oversized, plaintext, replayed and wrong-key packets at
# a member changes nothing -- no membership change, packets counted as dropped, memory bounded.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; then
  echo "skipped: needs root and network namespaces"
  echo "1 passed, 0 failed"
  exit 0
fi
export WEFT_LAB_NAME="g$$"
export WEFT_LAB_DIR="$WORK/lab"
lab() { "$repo/tools/lab" "$@"; }
trap 'lab down >/dev/null 2>&1; cleanup' EXIT
here=$(cd "$(dirname "$0")" && pwd)

KEY=$("$AGENTCTL" keygen)
KEY2=$("$AGENTCTL" keygen)
BAD=$("$AGENTCTL" keygen)
if ! lab up 6 --agent "$AGENT" --profile local -- -encrypt="$KEY" >"$WORK/up.log" 2>&1; then
  cat "$WORK/up.log"
  fail "lab up 6"
  finish
fi
ok "lab of 6 is up"

members_json() { lab exec "$1" -- agentctl members -format json 2>/dev/null; }
count() { members_json "$1" | python3 -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m["status"]==sys.argv[1]))' "$2"; }
sees() { [ "$(count "$1" "$2")" = "$3" ]; }
status_of() { members_json "$1" | python3 -c 'import json,sys; print(([m["status"] for m in json.load(sys.stdin) if m["name"]==sys.argv[1]] or ["absent"])[0])' "$2"; }
self_stat() { lab exec "$1" -- curl -fsS http://127.0.0.1:7700/v1/agent/self | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"; }
keyring_is() { [ "$(lab exec n1 -- curl -fsS http://127.0.0.1:7700/v1/operator/keyring | python3 -c 'import json,sys,os; k=json.load(sys.stdin)[0]; print(eval(sys.argv[1]))' "$1")" = "$2" ]; }

for n in n1 n2 n3 n4 n5 n6; do
  check "$n sees 6 alive" wait_for 30 sees "$n" alive 6
done

# SIGKILL: failed everywhere within the local profile's bound (suspicion at most 18 s, plus a
# probe round and dissemination).
t0=$(date +%s%N)
lab kill n6 >/dev/null
for n in n1 n2 n3 n4 n5; do
  check "$n marks the killed n6 failed within 25 s" wait_for 25 sees "$n" failed 1
done
echo "detection by all survivors: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# SIGSTOP shorter than the minimum suspicion time: no flap.
lab pause n5 >/dev/null
t_stop=$(date +%s%N)
flapped=0
while [ $(( ($(date +%s%N) - t_stop) / 1000000 )) -lt 1500 ]; do
  [ "$(status_of n1 n5)" = failed ] && flapped=1
  sleep 0.1
done
lab resume n5 >/dev/null
for _ in $(seq 30); do
  for n in n1 n2; do [ "$(status_of "$n" n5)" = failed ] && flapped=1; done
  sleep 0.1
done
check "a 1.5 s pause of n5 causes no flap" test "$flapped" -eq 0

# Key rotation under traffic: events fired from n2 all along; nobody lost at any point.
( for i in $(seq 100); do lab exec n2 -- agentctl event tick "$i" >/dev/null 2>&1; sleep 0.1; done ) &
traffic=$!
PIDS+=("$traffic")
lost=0
watch_all() { for n in n1 n3 n4; do sees "$n" alive 5 || lost=1; done; }
lab exec n1 -- agentctl keyring install "$KEY2" >/dev/null
check "new key installed on all 5" wait_for 45 keyring_is 'len(k["Keys"]) == 2 and min(k["Keys"].values()) == 5' True
watch_all
export K2ID
K2ID=$(lab exec n1 -- curl -fsS http://127.0.0.1:7700/v1/operator/keyring | python3 -c 'import json,sys; k=json.load(sys.stdin)[0]; print([i for i in k["Keys"] if i not in k["PrimaryKeys"]][0])')
lab exec n3 -- agentctl keyring use "$K2ID" >/dev/null
check "new key primary on all 5" wait_for 45 keyring_is 'k["PrimaryKeys"].get(os.environ["K2ID"], 0)' 5
watch_all
OLD=$(lab exec n1 -- curl -fsS http://127.0.0.1:7700/v1/operator/keyring | python3 -c 'import json,sys,os; k=json.load(sys.stdin)[0]; print([i for i in k["Keys"] if i!=os.environ["K2ID"]][0])')
lab exec n4 -- agentctl keyring remove "$OLD" >/dev/null
check "old key removed from all 5" wait_for 45 keyring_is 'len(k["Keys"])' 1
for _ in $(seq 20); do watch_all; sleep 0.1; done
check "rotation under traffic lost no member" test "$lost" -eq 0
if [ "$FAILS" -gt 0 ]; then  # what each node thinks, to tell a slow spread from a lost command
  for n in n1 n2 n3 n4 n5; do echo "--- $n"; lab exec "$n" -- agentctl keyring list; grep keyring "$WEFT_LAB_DIR/$n/agent.log" | tail -5; done
fi
wait "$traffic" 2>/dev/null

# Hostile node: capture real packets arriving at n1, then from n6's namespace (its agent is dead)
# replay them, and send garbage, truncated, oversized and plaintext datagrams; run a wrong-key
# agent there too.
n1_addr=$(lab addr n1)
n6_addr=$(lab addr n6)
captured=$(lab exec n1 -- python3 "$here/tools/udp_sniff.py" lab0 7702 200 5 "$WORK/captured.bin")
check "captured real gossip packets to replay ($captured)" test "${captured:-0}" -gt 10
rss_before=$(self_stat n1 'd["Stats"]["runtime"]["rss_bytes"]')
drops_before=$(self_stat n1 'd["Stats"]["gossip"]["dropped"]')
mkdir -p "$WORK/evil" "$WORK/evil-config"
lab exec n6 -- "$AGENT" -node_name=evil -config "$WORK/evil-config" -cmdline= -data_dir="$WORK/evil" -bind_addr="$n6_addr" \
  -client_addr=127.0.0.1 -ports.gossip=7712 -ports.http=7710 -ports.rpc=7711 -ports.dns=7713 -gossip.profile=local \
  -encrypt="$BAD" -join="$n1_addr:7702" >"$WORK/evil.log" 2>&1 &
PIDS+=("$!")
sent=$(lab exec n6 -- python3 "$here/tools/udp_hostile.py" "$n1_addr" 7702 "$WORK/captured.bin" 20)
echo "hostile traffic sent: $sent"
drops_after=$(self_stat n1 'd["Stats"]["gossip"]["dropped"]')
echo "n1 drops before: $drops_before"
echo "n1 drops after:  $drops_after"
check "replayed packets counted as replays" python3 -c 'import ast,sys; a,b=ast.literal_eval(sys.argv[1]),ast.literal_eval(sys.argv[2]); assert b["replay"]-a["replay"] >= 100, (a,b)' "$drops_before" "$drops_after"
check "garbage counted as dropped (version/truncated/oversized)" python3 -c 'import ast,sys; a,b=ast.literal_eval(sys.argv[1]),ast.literal_eval(sys.argv[2]); assert sum(b[k]-a[k] for k in ("version","truncated","oversized","auth")) >= 3000, (a,b)' "$drops_before" "$drops_after"
auth_above() { [ "$(self_stat n1 'd["Stats"]["gossip"]["dropped"]["auth"]')" -gt "$1" ]; }
auth_mark=$(python3 -c 'import ast,sys; print(ast.literal_eval(sys.argv[1])["auth"])' "$drops_before")
check "the wrong-key agent's join is counted as dropped (auth)" wait_for 10 auth_above "$auth_mark"
check "the wrong-key agent never becomes a member" bash -c '[ "$1" = absent ]' _ "$(status_of n1 evil)"
check "n1 still sees n1..n5 alive and n6 failed" bash -c '[ "$1" = 5 ] && [ "$2" = 1 ]' _ "$(count n1 alive)" "$(count n1 failed)"
rss_after=$(self_stat n1 'd["Stats"]["runtime"]["rss_bytes"]')
echo "n1 resident memory: $rss_before -> $rss_after bytes"
check "n1's memory stayed bounded (grew by $(( (rss_after - rss_before) / 1024 )) KiB, limit 2048)" test $(( rss_after - rss_before )) -lt $((2 * 1024 * 1024))
check "n1 is healthy" lab exec n1 -- curl -fsS -o /dev/null http://127.0.0.1:7700/v1/agent/health
finish
