#!/usr/bin/env bash
# Proves the KV API and `agentctl kv` against a real one-server cluster (`agent dev`): Consul's wire
# shapes and headers over HTTP, put/get/recurse/keys/delete/cas through agentctl with Consul's
# wording and exit codes, a blocking query woken by a write, `kv watch`, and the Raft lines of
# `agentctl status` and `operator raft list-peers`. Every wait is bounded.
source "$(dirname "$0")/lib.sh"

start_dev kv || { fail "agent dev starts"; finish; }
URL=http://127.0.0.1:$PORT
ctl() { "$AGENTCTL" -socket "$SOCK" "$@"; }
leader() { curl -fsS "$URL/v1/status/raft" | python3 -c 'import json,sys; assert json.load(sys.stdin)["Role"]=="leader"'; }
check "the dev server elects itself" wait_for 15 leader

out=$(ctl kv put app/db/host 10.0.0.5)
check "kv put says Success ($out)" test "$out" = "Success! Data written to: app/db/host"
out=$(ctl kv get app/db/host)
check "kv get prints the value ($out)" test "$out" = "10.0.0.5"
ctl kv put -flags 7 app/db/port 5432 >/dev/null
out=$(ctl kv get -recurse app/)
check "kv get -recurse prints key:value lines" test "$out" = $'app/db/host:10.0.0.5\napp/db/port:5432'
out=$(ctl kv get -keys)
check "kv get -keys cuts at / ($out)" test "$out" = "app/"
out=$(ctl kv get -detailed app/db/port)
check "kv get -detailed shows the flags" grep -qE '^Flags +7$' <<<"$out"
printf 'from\nstdin' | ctl kv put app/file - >/dev/null
check "kv put - reads stdin" test "$(curl -fsS "$URL/v1/kv/app/file?raw")" = $'from\nstdin'

# The HTTP API as Consul answers it.
body=$(curl -fsS -D "$WORK/h" "$URL/v1/kv/app/db/host")
check "GET answers Consul's DirEntry JSON" python3 -c '
import json,sys
e=json.loads(sys.argv[1])[0]
assert e["Key"]=="app/db/host" and e["Value"]=="MTAuMC4wLjU=" and e["Flags"]==0 and e["LockIndex"]==0
assert e["CreateIndex"]==e["ModifyIndex"]>0' "$body"
check "GET carries X-Consul-Index" grep -qi '^x-consul-index: [1-9]' "$WORK/h"
check "GET carries X-Consul-KnownLeader: true" grep -qi '^x-consul-knownleader: true' "$WORK/h"
code=$(curl -s -o /dev/null -D "$WORK/h404" -w '%{http_code}' "$URL/v1/kv/missing")
check "a missing key is 404 ($code)" test "$code" = 404
check "the 404 carries X-Consul-Index" grep -qi '^x-consul-index: [1-9]' "$WORK/h404"
code=$(head -c 524289 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @- "$URL/v1/kv/big")
check "a value over 512 KiB is 413 ($code)" test "$code" = 413
check "PUT ?cas=0 on an existing key answers false" test "$(curl -fsS -X PUT -d x "$URL/v1/kv/app/db/host?cas=0")" = false

# CAS through agentctl: exit 1 on a stale index.
ctl kv put -cas -modify-index 1 app/db/host other >/dev/null 2>"$WORK/cas.err"
check "kv put -cas with a stale index exits 1" test $? -eq 1
check "... saying CAS failed" grep -q "CAS failed" "$WORK/cas.err"

# A blocking query returns when its key is written.
idx=$(curl -fsS -D - -o /dev/null "$URL/v1/kv/app/db/host" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-consul-index"{print $2}')
curl -fsS -o "$WORK/blocked" "$URL/v1/kv/app/db/host?index=$idx&wait=20s" &
bpid=$!
PIDS+=("$bpid")
sleep 0.3
check "the blocking query waits" kill -0 "$bpid"
ctl kv put app/db/host 10.0.0.6 >/dev/null
check "a write ends the blocking query" wait_for 10 bash -c "! kill -0 $bpid"
check "... with the new value" grep -q "MTAuMC4wLjY=" "$WORK/blocked"

# kv watch: the current value, then the change.
ctl kv watch -count 2 app/db/host >"$WORK/watch.out" 2>&1 &
wpid=$!
PIDS+=("$wpid")
wait_for 10 grep -q "10.0.0.6" "$WORK/watch.out"
ctl kv put app/db/host 10.0.0.7 >/dev/null
check "kv watch prints each change and stops after -count" wait_for 10 bash -c "! kill -0 $wpid"
check "... the two values in order" test "$(cat "$WORK/watch.out")" = $'10.0.0.6\n10.0.0.7'

out=$(ctl kv delete -recurse app/)
check "kv delete -recurse says Success" test "$out" = "Success! Deleted keys with prefix: app/"
ctl kv get app/db/host >/dev/null 2>"$WORK/get.err"
check "kv get of a deleted key exits 1" test $? -eq 1
check "... with Consul's message" grep -q "Error! No key exists at: app/db/host" "$WORK/get.err"

out=$(ctl status)
check "status shows the Raft role" grep -qE '^raft: +leader, term [1-9]' <<<"$out"
out=$(ctl operator raft list-peers)
check "operator raft list-peers shows the header and one leader" \
  bash -c 'head -1 <<<"$1" | grep -q "^Node  *ID  *Address  *State  *Voter  *RaftProtocol$" && test "$(grep -c " leader " <<<"$1")" -eq 1' _ "$out"
finish
