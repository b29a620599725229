#!/usr/bin/env bash
# Proves the DNS server with Debian's dig (bind9-dnsutils), a resolver tool operators use as is:
# every name form -- <svc>.service, <tag>.<svc>.service, RFC 2782 _<svc>._tcp and _<svc>._<tag>
# SRV (with the targets' A records in the additional section), <node>.node, PTR of the node's
# address, SOA and NS of the domain -- over UDP and TCP; NXDOMAIN against NODATA; and an answer
# too large for 512 bytes: truncated (TC) over UDP without EDNS0, whole with EDNS0's larger
# buffer and over TCP. Then `agentctl dns`, the console's resolver, for the same names.
# tools/deps installs bind9-dnsutils.
source "$(dirname "$0")/lib.sh"

DIG=$(command -v dig || true)
[ -n "$DIG" ] || { fail "dig is installed (tools/deps installs bind9-dnsutils)"; finish; }

DNS_PORT=$(free_port)
start_dev dig -node_name=digtest -dns.enabled -ports.dns="$DNS_PORT" -dns.service_ttl=30s -dns.node_ttl=15s -dns.soa_min_ttl=5s || { fail "agent dev starts"; finish; }
put() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X PUT --data-binary "$2" "http://127.0.0.1:$PORT$1"; }
put /v1/agent/service/register '{"ID":"web-1","Name":"web","Tags":["v1"],"Address":"10.1.0.1","Port":8080}' >/dev/null
put /v1/agent/service/register '{"ID":"web-2","Name":"web","Tags":["v2"],"Port":8081}' >/dev/null
# 40 instances of "big": 40 A records are 16 + 40 * 16 = 656 bytes, over a plain UDP answer.
for i in $(seq 40); do
  put /v1/agent/service/register "{\"ID\":\"big-$i\",\"Name\":\"big\",\"Address\":\"10.2.0.$i\",\"Port\":80}" >/dev/null
done
check "42 services registered" bash -c '[ "$(curl -fsS "http://127.0.0.1:$1/v1/agent/services" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 42 ]' _ "$PORT"

d() { "$DIG" @127.0.0.1 -p "$DNS_PORT" +time=2 +tries=1 "$@"; }
short() { d +short "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }
for transport in "" "+tcp"; do
  t=${transport:-+notcp}
  out=$(short $t web.service.weft A)
  check "dig $t web.service.weft A: both instances ($out)" test "$out" = "10.1.0.1 127.0.0.1"
  out=$(short $t v1.web.service.weft A)
  check "dig $t v1.web.service.weft A: the tagged one ($out)" test "$out" = "10.1.0.1"
  out=$(d $t +noall +answer +additional _web._tcp.service.weft SRV | awk '$4=="SRV" {print $7, $8} $4=="A" {print "A", $5}' | LC_ALL=C sort | tr '\n' ' ')
  check "dig $t _web._tcp.service.weft SRV: both ports, targets' A records in the additional section ($out)" \
    bash -c '[[ "$1" =~ ^8080\ [0-9a-f]+\.addr\.weft\.\ 8081\ digtest\.node\.(dc1\.)?weft\.\ A\ 10\.1\.0\.1\ A\ 127\.0\.0\.1\ $ ]]' _ "$out"
  out=$(d $t +noall +answer _web._v2.service.weft SRV | awk '$4=="SRV" {print $7}')
  check "dig $t _web._v2.service.weft SRV: the tag form ($out)" test "$out" = 8081
  out=$(short $t digtest.node.weft A)
  check "dig $t digtest.node.weft A ($out)" test "$out" = "127.0.0.1"
  out=$(short $t -x 127.0.0.1)
  check "dig $t -x 127.0.0.1: PTR to the node ($out)" bash -c '[[ "$1" == digtest.node.*weft. ]]' _ "$out"
  out=$(d $t +noall +answer weft SOA | awk '{print $4}')
  check "dig $t weft SOA ($out)" test "$out" = SOA
  out=$(d $t +noall +answer weft NS | awk '{print $4}' | sort -u)
  check "dig $t weft NS ($out)" test "$out" = NS
  out=$(d $t +noall +answer web.service.weft A | awk '{print $2}' | sort -u | tr '\n' ' ')
  check "dig $t web.service.weft A: TTL from -dns.service_ttl=30s ($out)" test "$out" = "30 "
  out=$(d $t +noall +answer digtest.node.weft A | awk '{print $2}')
  check "dig $t digtest.node.weft A: TTL from -dns.node_ttl=15s ($out)" test "$out" = 15
  out=$(d $t +noall +answer weft SOA | awk '{print $NF}')
  check "dig $t weft SOA: minimum from -dns.soa_min_ttl=5s ($out)" test "$out" = 5
  out=$(d $t nosuch.service.weft A | grep -o 'status: [A-Z]*')
  check "dig $t nosuch.service.weft: NXDOMAIN ($out)" test "$out" = "status: NXDOMAIN"
  out=$(d $t web.service.weft AAAA | grep -Eo 'status: [A-Z]*|ANSWER: [0-9]+' | tr '\n' ' ')
  check "dig $t web.service.weft AAAA: NODATA, NOERROR with no answer ($out)" test "$out" = "status: NOERROR ANSWER: 0 "
done

out=$(d +noedns +ignore big.service.weft A | grep -Eo 'flags: [a-z ]*;' )
check "40 answers over UDP without EDNS0: truncated, TC set ($out)" bash -c '[[ "$1" == *" tc"* ]]' _ "$out"
out=$(d +noedns +ignore big.service.weft A | grep -Eo 'MSG SIZE  rcvd: [0-9]+' | grep -Eo '[0-9]+$')
check "and within 512 bytes ($out)" test "${out:-9999}" -le 512
out=$(d +bufsize=4096 big.service.weft A | grep -Eo 'flags: [a-z ]*;|ANSWER: [0-9]+' | tr '\n' ' ')
check "with EDNS0 and a 4096-byte buffer: whole, no TC ($out)" bash -c '[[ "$1" != *" tc"* && "$1" == *"ANSWER: 40"* ]]' _ "$out"
out=$(short +tcp big.service.weft A | wc -w)
check "over TCP: all 40 ($out)" test "$out" = 40
out=$(short +noedns big.service.weft A | wc -w)
check "dig's own retry over TCP after TC gets all 40 ($out)" test "$out" = 40

ctl() { "$AGENTCTL" -socket "$SOCK" "$@"; }
out=$(ctl dns web.service.weft | awk '$4=="A" {print $5}' | LC_ALL=C sort | tr '\n' ' ')
check "agentctl dns web.service.weft: both addresses, as dig shows them ($out)" test "$out" = "10.1.0.1 127.0.0.1 "
out=$(ctl dns _web._tcp.service.weft SRV)
check "agentctl dns _web._tcp.service.weft SRV: the ports and the additional A records" \
  bash -c 'grep -Eq "IN +SRV +1 1 8080 " <<<"$1" && grep -Eq "IN +SRV +1 1 8081 " <<<"$1" && grep -q "^;; Additional" <<<"$1"' _ "$out"
ctl dns nosuch.service.weft >"$WORK/nx.out"
rc=$?
check "agentctl dns for an unknown name says NXDOMAIN and exits 1 (rc $rc)" bash -c '[ "$1" = 1 ] && grep -q "^;; NXDOMAIN" "$2"' _ "$rc" "$WORK/nx.out"
ctl dns >/dev/null 2>&1
rc=$?
check "agentctl dns with no name is a usage error (rc $rc)" test "$rc" = 2
ctl dns web.service.weft MX >/dev/null 2>&1
rc=$?
check "an unknown type is refused (rc $rc)" test "$rc" = 1
finish
