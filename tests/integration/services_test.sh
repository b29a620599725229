#!/usr/bin/env bash
# Proves services registered through Consul's agent API: PUT /v1/agent/service/register in
# Consul's JSON shape (member names in any case, as Consul's decoder takes them), the
# AgentService listing, the node's DNS answering <svc>.service, <tag>.<svc>.service and RFC 2782
# SRV for them at once, `agentctl services`, a TTL check (critical instances out of DNS, pass,
# update, expiry), TCP checks (a listening and a closed port), HTTP checks (200 and 404), bad
# registrations refused with the member named,
# deregistration (404 for an unknown ID), and registrations surviving a restart of the agent
# (services.json).
source "$(dirname "$0")/lib.sh"

DNS_PORT=$(free_port)
start_dev svc -node_name=svctest -dns.enabled -ports.dns="$DNS_PORT" || { fail "agent dev starts"; finish; }
URL=http://127.0.0.1:$PORT

# put PATH BODY: prints the HTTP status, then the body.
put() { curl -sS -o "$WORK/body" -w '%{http_code}' -X PUT --data-binary "$2" "$URL$1"; echo " $(cat "$WORK/body")"; }

out=$(put /v1/agent/service/register '{"ID":"web-1","Name":"web","Tags":["v2","http"],"Address":"10.1.2.3","Port":8080,"Meta":{"version":"2.1"}}')
check "register web-1 ($out)" test "${out%% *}" = 200
out=$(put /v1/agent/service/register '{"id":"web-2","name":"web","tags":["v1"],"port":8081}')
check "register web-2 with lower-case member names, no address ($out)" test "${out%% *}" = 200
out=$(put /v1/agent/service/register '{"Name":"db","Port":5432,"Weights":{"Passing":1,"Warning":1},"EnableTagOverride":false}')
check "register db with members Weft accepts and ignores ($out)" test "${out%% *}" = 200

# Refusals: each body, the word the 400's message must hold, what it is.
while IFS='|' read -r body word what; do
  out=$(put /v1/agent/service/register "$body")
  check "$what is refused, naming $word ($out)" grep -q "^400 .*$word" <<<"$out"
done <<'CASES'
{"Name":"x","Prot":1}|Prot|a misspelled member
{"Name":"a.b"}|Name|a name that is not one DNS label
{"Name":"x","Address":"web.example.com"}|Address|a host name as Address
{"Name":"x","Port":70000}|Port|a port over 65535
{"Name":"x","Check":{"Args":["/bin/true"],"Interval":"10s"}}|Args|an exec check (until exec checks exist)
not json|json: syntax error|a body that is not JSON
CASES

list=$(curl -fsS "$URL/v1/agent/services")
check "GET /v1/agent/services lists the three in Consul's AgentService shape" python3 -c '
import json,sys
d=json.loads(sys.argv[1])
assert sorted(d)==["db","web-1","web-2"], d
w=d["web-1"]
assert w["ID"]=="web-1" and w["Service"]=="web" and w["Tags"]==["v2","http"] and w["Port"]==8080, w
assert w["Address"]=="10.1.2.3" and w["Meta"]=={"version":"2.1"} and w["Datacenter"]=="dc1", w
assert d["web-2"]["Address"]=="" and d["web-2"]["Tags"]==["v1"], d["web-2"]' "$list"
one=$(curl -fsS "$URL/v1/agent/service/web-2")
check "GET /v1/agent/service/web-2" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ID"]=="web-2" and d["Port"]==8081, d' "$one"
table=$("$AGENTCTL" -socket "$SOCK" services)
check "agentctl services shows each with its address and tags" bash -c '
grep -Eq "^web-1 +web +10\.1\.2\.3:8080 +v2,http$" <<<"$1" && grep -Eq "^web-2 +web +\(node\):8081 +v1$" <<<"$1" &&
grep -Eq "^db +db +\(node\):5432 +$" <<<"$1" && [ "$(wc -l <<<"$1")" -eq 4 ]' _ "$table"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/v1/agent/service/nope")
check "an unknown service ID is 404 ($code)" test "$code" = 404

# ask NAME TYPE: "rcode ancount sorted-answers", an answer an IPv4 address or, for SRV,
# "priority/weight/port/target".
ask() { python3 "$(dirname "$0")/tools/dns_ask.py" --sort "$DNS_PORT" "$@" | awk '{print $1, $2, $5}'; }

out=$(ask web.service.weft 1)
check "web.service.weft A: both instances, web-2 at the node's address ($out)" test "$out" = "0 2 10.1.2.3,127.0.0.1"
out=$(ask v2.web.service.weft 1)
check "v2.web.service.weft A: the tagged one ($out)" test "$out" = "0 1 10.1.2.3"
out=$(ask _web._tcp.service.weft 33)
check "_web._tcp.service.weft SRV: web-1 (its own address) by a .addr target, web-2 by the node ($out)" \
  test "$out" = "0 2 1/1/8080/0a010203.addr.weft,1/1/8081/svctest.node.weft"
out=$(ask 0a010203.addr.weft 1)
check "the .addr target resolves to web-1's address ($out)" test "$out" = "0 1 10.1.2.3"
out=$(ask db.service.weft 1)
check "db.service.weft A ($out)" test "$out" = "0 1 127.0.0.1"

# A TTL check: critical at first (out of DNS), in once passed, out again when its TTL runs out.
out=$(put /v1/agent/service/register '{"ID":"api-1","Name":"api","Port":9000,"Check":{"TTL":"4s"}}')
check "register api-1 with a 4 s TTL check ($out)" test "${out%% *}" = 200
out=$(ask api.service.weft 1)
check "api.service.weft leaves out the critical instance ($out)" test "$out" = "3 0 -"
checks=$(curl -fsS "$URL/v1/agent/checks")
check "GET /v1/agent/checks shows service:api-1 critical, in Consul's shape" python3 -c '
import json,sys
c=json.loads(sys.argv[1])["service:api-1"]
assert c["Status"]=="critical" and c["ServiceID"]=="api-1" and c["ServiceName"]=="api" and c["Type"]=="ttl", c
assert c["Node"]=="svctest" and c["Name"]=="Service '"'"'api'"'"' check", c' "$checks"
out=$(put "/v1/agent/check/pass/service:api-1?note=all%20good" '')
check "PUT /v1/agent/check/pass/service:api-1 ($out)" test "${out%% *}" = 200
out=$(ask api.service.weft 1)
check "api.service.weft answers once the check passes ($out)" test "$out" = "0 1 127.0.0.1"
check "its output is the note" python3 -c 'import json,sys; c=json.loads(sys.argv[1])["service:api-1"]; assert c["Status"]=="passing" and c["Output"]=="all good", c' "$(curl -fsS "$URL/v1/agent/checks")"
# Passed again just before: under load the steps above can take longer than the TTL.
put "/v1/agent/check/pass/service:api-1?note=all%20good" '' >/dev/null
table=$("$AGENTCTL" -socket "$SOCK" checks)
check "agentctl checks shows it passing with its output ($(grep api-1 <<<"$table"))" grep -Eq '^service:api-1 +api-1 +ttl +passing +all good$' <<<"$table"
out=$(put /v1/agent/check/update/service:api-1 '{"Status":"warning","Output":"slow"}')
check "PUT /v1/agent/check/update: warning ($out)" test "${out%% *}" = 200
out=$(ask api.service.weft 1)
check "a warning instance still answers ($out)" test "$out" = "0 1 127.0.0.1"
out=$(put /v1/agent/check/pass/nosuchcheck '')
check "an unknown check is 404 ($out)" test "${out%% *}" = 404
api_gone() { [ "$(ask api.service.weft 1)" = "3 0 -" ]; }
check "after the 4 s TTL with no update it is critical and out of DNS" wait_for 10 api_gone
check "with the output TTL expired" python3 -c 'import json,sys; c=json.loads(sys.argv[1])["service:api-1"]; assert c["Status"]=="critical" and c["Output"]=="TTL expired", c' "$(curl -fsS "$URL/v1/agent/checks")"
out=$(put /v1/agent/service/deregister/api-1 '')
check "deregister api-1 ($out)" test "${out%% *}" = 200

# probe_pair KIND UP-CHECK DOWN-CHECK: registers <kind>svc instances <kind>-up (port 1) and
# <kind>-down (port 2) with those checks (JSON members), checks both ran within 5 s, that the
# up one passes and the down one is critical in /v1/agent/checks with Type KIND, and that DNS
# SRV answers only the up one; prints the down check's output.
probe_pair() {
  local kind=$1 up=$2 down=$3 out
  for side in up down; do
    local chk=$up
    [ "$side" = down ] && chk=$down
    out=$(put /v1/agent/service/register "{\"ID\":\"$kind-$side\",\"Name\":\"${kind}svc\",\"Port\":$([ "$side" = up ] && echo 1 || echo 2),\"Check\":{$chk,\"Interval\":\"1s\"}}")
    check "register $kind-$side with a $kind check ($out)" test "${out%% *}" = 200
  done
  settled() {
    python3 -c 'import json,sys; c=json.loads(sys.argv[1]); k=sys.argv[2]; assert c["service:%s-up" % k]["Status"]=="passing" and c["service:%s-down" % k]["Output"]!=""' \
      "$(curl -fsS "$URL/v1/agent/checks")" "$kind"
  }
  check "the $kind checks ran within 5 s" wait_for 5 settled
  local checks
  checks=$(curl -fsS "$URL/v1/agent/checks")
  check "$kind-up passing, $kind-down critical, both Type $kind" python3 -c '
import json,sys
c=json.loads(sys.argv[1]); k=sys.argv[2]
u,d=c["service:%s-up" % k],c["service:%s-down" % k]
assert u["Status"]=="passing" and u["Type"]==k and u["Interval"]=="1s" and u["Timeout"]=="10s", u
assert d["Status"]=="critical" and d["Type"]==k, d' "$checks" "$kind"
  out=$(ask _${kind}svc._tcp.service.weft 33)
  check "_${kind}svc._tcp.service.weft SRV: only the healthy instance's port ($out)" grep -Eq '^0 1 1/1/1/' <<<"$out"
  DOWN_OUTPUT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["service:%s-down" % sys.argv[2]]["Output"])' "$checks" "$kind")
}

# TCP checks: the agent's own HTTP port passes, a closed port is critical with the reason.
probe_pair tcp "\"TCP\":\"127.0.0.1:$PORT\"" "\"TCP\":\"127.0.0.1:$(free_port)\""
check "the closed port's output says why ($DOWN_OUTPUT)" grep -q '^TCP connect 127.0.0.1:' <<<"$DOWN_OUTPUT"
out=$(put /v1/agent/check/pass/service:tcp-down '')
check "a TCP check's status cannot be set through the TTL API ($out)" grep -q '^400 .*not a TTL check' <<<"$out"
# HTTP checks against the agent's own API: a 200 passes, a 404 is critical.
probe_pair http "\"HTTP\":\"http://127.0.0.1:$PORT/v1/agent/self\"" "\"HTTP\":\"http://127.0.0.1:$PORT/v1/nosuch\""
check "the 404's output has the status ($DOWN_OUTPUT)" grep -q '^HTTP GET http://127.0.0.1:[0-9]*/v1/nosuch: 404 Output: ' <<<"$DOWN_OUTPUT"
for id in tcp-up tcp-down http-up http-down; do put /v1/agent/service/deregister/$id '' >/dev/null; done

out=$(put /v1/agent/service/deregister/web-1 '')
check "deregister web-1 ($out)" test "${out%% *}" = 200
out=$(put /v1/agent/service/deregister/web-1 '')
check "deregistering it again is 404 ($out)" test "${out%% *}" = 404
out=$(ask v2.web.service.weft 1)
check "v2.web.service.weft is NXDOMAIN at once ($out)" test "$out" = "3 0 -"

# A restart keeps the registrations (services.json).
kill "$PID"
wait "$PID" 2>/dev/null
check "services.json holds the registrations" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert sorted(s["ID"] for s in d)==["db","web-2"], d' "$DATA/services.json"
"$AGENT" dev -node_name=svctest -dns.enabled -ports.dns="$DNS_PORT" -ports.http="$PORT" -ports.gossip="$GOSSIP_PORT" \
  -ports.rpc="$(free_port)" -data_dir="$DATA" -socket_path="$SOCK" >>"$LOG" 2>&1 &
PID=$!
PIDS+=("$PID")
wait_for 10 curl -fsS "$URL/v1/agent/health" >/dev/null || fail "the agent comes back"
list=$(curl -fsS "$URL/v1/agent/services")
check "after a restart web-2 and db are still registered" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert sorted(d)==["db","web-2"], d' "$list"
web_answers_once() { [ "$(ask web.service.weft 1)" = "0 1 127.0.0.1" ]; }
check "and web.service.weft answers with the one left ($(ask web.service.weft 1))" wait_for 5 web_answers_once
finish
