#!/usr/bin/env bash
# Proves the agent's DNS server (dns.enabled) over real UDP and TCP: the dev agent's own node name
# answers A with its gossip address (and keeps the client's case), an unknown node is NXDOMAIN
# with SOA, a name outside the domain is REFUSED, garbage and a response packet are dropped, the
# agent keeps answering after them, and TCP on the same port answers framed queries. Queries are
# raw bytes from python3 (no resolver tools needed).
source "$(dirname "$0")/lib.sh"

DNS_PORT=$(free_port)
start_dev dns -node_name=dnstest -dns.enabled -ports.dns="$DNS_PORT" || { fail "agent dev starts with dns.enabled"; finish; }
URL=http://127.0.0.1:$PORT
NODE=$(curl -fsS "$URL/v1/agent/self" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Config"]["NodeName"])')
check "the agent has a node name ($NODE)" test -n "$NODE"

# ask NAME TYPE [raw-hex]: "rcode ancount nscount qname-as-echoed answer-ips", or "timeout";
# DNS_TCP=1 asks over TCP.
ask() { python3 "$(dirname "$0")/tools/dns_ask.py" ${DNS_TCP:+--tcp} "$DNS_PORT" "$@"; }

upper=$(tr '[:lower:]' '[:upper:]' <<<"$NODE")
out=$(ask "$upper.node.weft" 1)
check "$upper.node.weft A answers 127.0.0.1 with the case echoed ($out)" test "$out" = "0 1 0 $upper.node.weft 127.0.0.1"
out=$(ask "$NODE.node.dc1.weft" 1)
check "the datacenter label is accepted ($out)" test "$out" = "0 1 0 $NODE.node.dc1.weft 127.0.0.1"
out=$(ask "nosuchnode.node.weft" 1)
check "an unknown node is NXDOMAIN with SOA ($out)" test "$out" = "3 0 1 nosuchnode.node.weft -"
out=$(ask "$NODE.node.weft" 28)
check "AAAA of an IPv4 node is NODATA ($out)" test "$out" = "0 0 1 $NODE.node.weft -"
out=$(ask "example.org" 1)
check "a name outside the domain is REFUSED ($out)" test "$out" = "5 0 0 example.org -"
out=$(ask x 1 0102)
check "a 2-byte datagram is dropped ($out)" test "$out" = "timeout"
out=$(ask x 1 "51518100000100000000000001780000010001")
check "a response packet is dropped ($out)" test "$out" = "timeout"
out=$(ask x 1 "5151010000010000000000004178000001000100")
check "a label type 0x40 gets FORMERR ($out)" test "${out%% *}" = "1"
out=$(ask "$NODE.node.weft" 1)
check "still answering after them ($out)" test "$out" = "0 1 0 $NODE.node.weft 127.0.0.1"
out=$(DNS_TCP=1 ask "$upper.node.weft" 1)
check "over TCP on the same port too ($out)" test "$out" = "0 1 0 $upper.node.weft 127.0.0.1"
out=$(DNS_TCP=1 ask "nosuchnode.node.weft" 1)
check "TCP: an unknown node is NXDOMAIN ($out)" test "$out" = "3 0 1 nosuchnode.node.weft -"
check "the agent is still running" kill -0 "$PID"
stats=$(curl -fsS "$URL/v1/agent/self")
check "Stats.dns counts what it dropped and answered" python3 -c '
import json,sys
d=json.loads(sys.argv[1])["Stats"]["dns"]
assert d["dropped_short"]==1 and d["dropped_response"]==1 and d["formerr"]==1 and d["refused"]==1, d
assert d["answered"]==7 and d["received"]==11 and d["tcp_accepted"]==2, d' "$stats"

# DNS is on by default; -dns.enabled=false turns it off: nothing listens, and agentctl's resolver
# route says why.
OFF_DNS=$(free_port)
start_dev nodns -node_name=nodns -dns.enabled=false -ports.dns="$OFF_DNS" || { fail "agent dev starts with -dns.enabled=false"; finish; }
code=$(curl -s -o "$WORK/nodns.body" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/agent/dns?name=nodns.node.weft")
check "with dns.enabled=false /v1/agent/dns is 503 ($code: $(cat "$WORK/nodns.body"))" test "$code" = 503
check "and nothing answers on its DNS port" bash -c '! python3 "$1" --tcp "$2" nodns.node.weft 1 >/dev/null 2>&1' _ "$(dirname "$0")/tools/dns_ask.py" "$OFF_DNS"
finish
