#!/usr/bin/env bash
# Proves the catalog (issue 5 items 3 and 4) with real processes on loopback: a foundation and a
# client agent with mutual TLS. A service registered on the client's agent API reaches the
# foundation's catalog by anti-entropy (forwarded over RPC) and is read back in Consul's shapes
# through either agent; a failed check takes it out of ?passing and a passing one brings it
# back, waking a blocking query through the client; a service registered on the foundation
# itself is there too, and the client's DNS answers for it from its local catalog view (critical
# instances left out, answers going on while the foundation is paused); kill -9 of the client
# makes gossip declare it failed and the leader turns its serfHealth critical, so its instance
# leaves ?passing.
source "$(dirname "$0")/lib.sh"

TLS=$WORK/tls
mkdir -p "$TLS"
(cd "$TLS" && "$AGENTCTL" tls ca create >/dev/null && "$AGENTCTL" tls cert create -server >/dev/null &&
  "$AGENTCTL" tls cert create -client >/dev/null) || { fail "agentctl tls makes a CA and certificates"; finish; }

DNS_PORT=$(free_port)
declare -A HTTP GOSSIP
for n in s1 c1; do
  HTTP[$n]=$(free_port)
  GOSSIP[$n]=$(free_port)
done
common() {  # common <name>: the flags both agents share
  echo -node_name="$1" -data_dir="$WORK/$1" -socket_path="$WORK/$1/agent.sock" -bind_addr=127.0.0.1 \
    -advertise_addr=127.0.0.1 -client_addr=127.0.0.1 -gossip.profile=local -ports.http="${HTTP[$1]}" \
    -ports.rpc="$(free_port)" -ports.gossip="${GOSSIP[$1]}" -ports.dns="$(free_port)" -tls.ca_file="$TLS/weft-agent-ca.pem"
}
mkdir -p "$WORK/s1" "$WORK/c1"
# shellcheck disable=SC2046  # common's words are flags
"$AGENT" agent -server -bootstrap_expect=1 $(common s1) -tls.cert_file="$TLS/dc1-server-weft-0.pem" \
  -tls.key_file="$TLS/dc1-server-weft-0-key.pem" -gossip.reap_after=5s >"$WORK/s1.log" 2>&1 &
S1=$!
PIDS+=("$S1")
leader() { [ "$(curl -fsS --max-time 2 "http://127.0.0.1:${HTTP[s1]}/v1/status/leader")" != '""' ]; }
check "the foundation elects itself" wait_for 20 leader || finish
# shellcheck disable=SC2046
"$AGENT" agent $(common c1) -tls.cert_file="$TLS/dc1-client-weft-0.pem" -tls.key_file="$TLS/dc1-client-weft-0-key.pem" \
  -join=127.0.0.1:"${GOSSIP[s1]}" -dns.enabled -ports.dns="$DNS_PORT" >"$WORK/c1.log" 2>&1 &
C1=$!
PIDS+=("$C1")
check "the client agent comes up" wait_for 10 curl -fsS "http://127.0.0.1:${HTTP[c1]}/v1/agent/health" >/dev/null || finish

put() {  # put <node> <path> <body>: prints the status code
  curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X PUT --data-binary "$3" "http://127.0.0.1:${HTTP[$1]}$2"
}
get() { curl -fsS --max-time 5 "http://127.0.0.1:${HTTP[$1]}$2"; }
count() {  # count <node> <path>: the length of the JSON array answered
  get "$1" "$2" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
index_of() {  # index_of <node> <path>: X-Consul-Index
  curl -fsS -o /dev/null -D - --max-time 5 "http://127.0.0.1:${HTTP[$1]}$2" | tr -d '\r' |
    awk -F': ' 'tolower($1)=="x-consul-index" {print $2}'
}

code=$(put c1 /v1/agent/service/register '{"ID":"web-1","Name":"web","Tags":["v1"],"Port":8080,"Meta":{"version":"2"},"Check":{"TTL":"60s","Status":"passing"}}')
check "register web-1 on the client agent ($code)" test "$code" = 200
in_catalog() { [ "$(count s1 /v1/catalog/service/web)" = 1 ]; }
check "anti-entropy brings it to the foundation's catalog within 10 s" wait_for 10 in_catalog
check "catalog/service/web in Consul's shape, node c1 at its address" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); e=d[0]
assert e["Node"]=="c1" and e["Address"]=="127.0.0.1" and e["ServiceID"]=="web-1" and e["ServiceName"]=="web", e
assert e["ServicePort"]==8080 and e["ServiceTags"]==["v1"] and e["ServiceMeta"]=={"version":"2"} and e["Datacenter"]=="dc1", e' \
  "$(get s1 /v1/catalog/service/web)"
check "catalog/services through the client agent (forwarded) lists web with its tag" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert d.get("web")==["v1"], d' "$(get c1 /v1/catalog/services)"
check "agentctl catalog services (through the client) lists web with its tag" \
  bash -c 'ctl_out=$("$1" -socket "$2" catalog services) && grep -Eq "^web +v1$" <<<"$ctl_out"' _ "$AGENTCTL" "$WORK/c1/agent.sock"
check "agentctl catalog service web: c1, web-1 at 127.0.0.1:8080, passing" \
  bash -c 'ctl_out=$("$1" -socket "$2" catalog service web) && grep -Eq "^c1 +web-1 +127.0.0.1:8080 +passing +v1$" <<<"$ctl_out"' \
  _ "$AGENTCTL" "$WORK/c1/agent.sock"
# s1 registers itself by its own anti-entropy push, which a loaded machine can delay past the
# checks above: wait for it.
check "agentctl catalog nodes lists both" wait_for 15 bash -c '[ "$("$1" -socket "$2" catalog nodes | awk "NR>1 {print \$1}" | sort | tr "\n" " ")" = "c1 s1 " ]' \
  _ "$AGENTCTL" "$WORK/s1/agent.sock"
check "agentctl catalog with no subcommand is a usage error (exit 2)" bash -c '"$1" -socket "$2" catalog >/dev/null 2>&1; [ $? = 2 ]' \
  _ "$AGENTCTL" "$WORK/s1/agent.sock"
check "health/service/web?passing: one instance with serfHealth, the node's agentHealth and its TTL check passing" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert len(d)==1, d
ids=sorted(c["CheckID"]+"="+c["Status"] for c in d[0]["Checks"]); assert ids==["agentHealth=passing","serfHealth=passing","service:web-1=passing"], ids' \
  "$(get c1 '/v1/health/service/web?passing')"

code=$(put c1 /v1/agent/check/fail/service:web-1 '')
check "fail web-1's check on the client ($code)" test "$code" = 200
not_passing() { [ "$(count s1 '/v1/health/service/web?passing')" = 0 ]; }
check "within 5 s it leaves ?passing on the foundation" wait_for 5 not_passing
check "and health/state/critical lists its check" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert [c["CheckID"] for c in d]==["service:web-1"], d' \
  "$(get s1 /v1/health/state/critical)"

# A blocking query through the client, woken when the check passes again.
idx=$(index_of c1 /v1/health/service/web)
curl -fsS --max-time 30 -D "$WORK/blocked.headers" -o "$WORK/blocked.body" \
  "http://127.0.0.1:${HTTP[c1]}/v1/health/service/web?index=$idx&wait=25s" &
BLOCKED=$!
# It cannot answer before the change: its index is the current one. What it answers after the
# change (a larger index, the check passing) shows the change woke it.
start=$(date +%s%N)
code=$(put c1 /v1/agent/check/pass/service:web-1 '')
check "pass web-1's check ($code)" test "$code" = 200
wait "$BLOCKED"
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "the blocking query returned within 5 s of the change (${took_ms} ms), not at its 25 s wait" test "$took_ms" -lt 5000
new_idx=$(tr -d '\r' <"$WORK/blocked.headers" | awk -F': ' 'tolower($1)=="x-consul-index" {print $2}')
check "with a larger X-Consul-Index ($idx -> $new_idx)" test "${new_idx:-0}" -gt "$idx"
check "and the check passing in its body" grep -q '"service:web-1".*"passing"' "$WORK/blocked.body"

code=$(put s1 /v1/agent/service/register '{"ID":"api-1","Name":"api","Address":"10.9.8.7","Port":9000}')
check "register api-1 on the foundation itself ($code)" test "$code" = 200
code=$(put s1 /v1/agent/service/register '{"ID":"api-2","Name":"api","Address":"10.9.8.6","Port":9000,"Check":{"TTL":"60s"}}')
check "and api-2, its TTL check critical until it passes ($code)" test "$code" = 200
api_there() { [ "$(count c1 /v1/catalog/service/api)" = 2 ]; }
check "they reach the catalog too" wait_for 10 api_there
# ask NAME TYPE: "rcode ancount sorted-answers" from the client agent's DNS server.
ask() { python3 "$(dirname "$0")/tools/dns_ask.py" --sort "$DNS_PORT" "$@" | awk '{print $1, $2, $5}'; }
dns_one() { [ "$(ask api.service.weft 1)" = "0 1 10.9.8.7" ]; }
check "the client's DNS answers api.service.weft from the catalog, without the critical api-2" \
  wait_for 10 dns_one
code=$(put s1 /v1/agent/check/pass/service:api-2 '')
check "api-2's check passes on the foundation ($code)" test "$code" = 200
dns_both() { [ "$(ask api.service.weft 1)" = "0 2 10.9.8.6,10.9.8.7" ]; }
check "within 5 s the client's DNS answers both" wait_for 5 dns_both
ptr=$(dig @127.0.0.1 -p "$DNS_PORT" +short +time=2 +tries=1 -x 10.9.8.7 2>&1)
check "PTR of api-1's address (a service address from the catalog) names its node: $ptr" bash -c '[[ "$1" == s1.node.*weft. ]]' _ "$ptr"
kill -STOP "$S1"
check "with the foundation paused the client's DNS still answers from its view ($(ask api.service.weft 1))" dns_both
# A change on the client cannot reach the paused foundation: its own health check says so.
self_check() {  # self_check <status>: c1's agentHealth in its /v1/agent/checks
  get c1 /v1/agent/checks | python3 -c 'import json,sys; c=json.load(sys.stdin)["agentHealth"]; sys.exit(c["Status"]!=sys.argv[1])' "$1"
}
put c1 /v1/agent/service/register '{"ID":"paused-1","Name":"paused","Port":1}' >/dev/null
start=$(date +%s%N)
check "the client's agentHealth turns warning while its pushes fail" wait_for 40 self_check warning
echo "  (warning after $(( ($(date +%s%N) - start) / 1000000 )) ms: $(get c1 /v1/agent/checks | python3 -c 'import json,sys; print(json.load(sys.stdin)["agentHealth"]["Output"])'))"
kill -CONT "$S1"
check "and passing again once the foundation is back" wait_for 20 self_check passing
put c1 /v1/agent/service/deregister/paused-1 '' >/dev/null
check "catalog/nodes lists both agents" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert sorted(n["Node"] for n in d)==["c1","s1"], d' "$(get s1 /v1/catalog/nodes)"
code=$(put c1 /v1/agent/service/deregister/web-1 '')
check "deregister web-1 on the client ($code)" test "$code" = 200
web_gone() { [ "$(count s1 /v1/catalog/service/web)" = 0 ]; }
check "it leaves the catalog" wait_for 10 web_gone

code=$(put c1 /v1/agent/service/register '{"ID":"web-2","Name":"web","Port":8081}')
check "register web-2 on the client ($code)" test "$code" = 200
web2_passing() { [ "$(count s1 '/v1/health/service/web?passing')" = 1 ]; }
check "web-2 is passing in the catalog" wait_for 10 web2_passing
kill -9 "$C1"
serf_critical() {
  get s1 /v1/health/node/c1 | python3 -c '
import json,sys; d=json.load(sys.stdin); assert any(c["CheckID"]=="serfHealth" and c["Status"]=="critical" for c in d)'
}
check "after kill -9 of the client, gossip's verdict makes its serfHealth critical within 30 s" wait_for 30 serf_critical
check "and its instance leaves ?passing" not_passing
# s1's gossip forgets the dead client after 5 s (-gossip.reap_after=5s); 15 s later the leader
# removes it from the catalog, with its services.
c1_listed() { get s1 /v1/catalog/nodes | grep -q '"Node":"c1"'; }
check "the client is still in the catalog while gossip remembers it" c1_listed
start=$(date +%s)
c1_gone() { ! c1_listed; }
check "once gossip forgets it the leader removes it from the catalog" wait_for 60 c1_gone
echo "  (gone $(( $(date +%s) - start )) s after its serfHealth went critical)"
check "and its web-2 with it" test "$(count s1 /v1/catalog/service/web)" = 0
finish
