#!/usr/bin/env bash
# Proves DNS forwarding (dns.recursors, dns.recursion_networks, dns.recursor_timeout) with real
# peers from Debian: dnsmasq on loopback is the upstream, dig the client. A name outside the domain
# is answered through the agent over UDP and TCP (RA set), a 60-record answer is truncated with TC
# for a UDP client without EDNS and whole over TCP, local names are still answered locally, an
# agent whose recursion networks exclude the client answers REFUSED and sends nothing upstream,
# and with the upstream killed the client gets SERVFAIL after the two attempts (2 x 500 ms), not a
# timeout. Traffic goes only to 127.0.0.1. tools/deps installs dnsmasq-base and bind9-dnsutils.
source "$(dirname "$0")/lib.sh"

DIG=$(command -v dig || true)
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -n "$DIG" ] || { fail "dig is installed (tools/deps installs bind9-dnsutils)"; finish; }
[ -x "$DNSMASQ" ] || { fail "dnsmasq is installed (tools/deps installs dnsmasq-base)"; finish; }

# The upstream: www.example.test and 60 addresses of big.example.test, nothing else (no
# /etc/resolv.conf, no /etc/hosts, so no query leaves the machine).
UP_PORT=$(free_port)
hosts=$WORK/upstream.hosts
for i in $(seq 60); do echo "198.51.100.$i big.example.test"; done >"$hosts"
"$DNSMASQ" --keep-in-foreground --port="$UP_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
  --no-hosts --addn-hosts="$hosts" --address=/www.example.test/192.0.2.7 --cache-size=0 \
  --pid-file="$WORK/dnsmasq.pid" --user="$(id -un)" >"$WORK/dnsmasq.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
up() { "$DIG" @127.0.0.1 -p "$UP_PORT" +time=1 +tries=1 +short www.example.test A | grep -qx 192.0.2.7; }
check "dnsmasq answers on 127.0.0.1:$UP_PORT" wait_for 10 up || { cat "$WORK/dnsmasq.log"; finish; }

DNS_PORT=$(free_port)
start_dev fwd -node_name=fwdtest -dns.enabled -ports.dns="$DNS_PORT" -dns.recursors="127.0.0.1:$UP_PORT" \
  -dns.recursor_timeout=500ms || { fail "agent dev starts with dns.recursors"; finish; }
URL=http://127.0.0.1:$PORT
AGENT_PID=$PID
d() { "$DIG" @127.0.0.1 -p "$DNS_PORT" +time=3 +tries=1 "$@"; }
short() { d +short "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

for transport in +notcp +tcp; do
  out=$(short $transport www.example.test A)
  check "dig $transport www.example.test through the agent: dnsmasq's answer ($out)" test "$out" = "192.0.2.7"
  out=$(d $transport www.example.test A | grep -Eo 'flags: [a-z ]*;')
  check "dig $transport: recursion available (RA) for this client ($out)" bash -c '[[ "$1" == *" ra"* ]]' _ "$out"
  out=$(short $transport fwdtest.node.weft A)
  check "dig $transport fwdtest.node.weft: local names are still answered locally ($out)" test "$out" = "127.0.0.1"
done
out=$(d +noedns +ignore big.example.test A | grep -Eo 'flags: [a-z ]*;')
check "60 forwarded records over UDP without EDNS0: truncated, TC set ($out)" bash -c '[[ "$1" == *" tc"* ]]' _ "$out"
out=$(short +tcp big.example.test A | wc -w)
check "and all 60 over TCP ($out)" test "$out" = 60
out=$(d www.EXAMPLE.test A | grep -Eo 'status: [A-Z]+|ANSWER: [0-9]+' | tr '\n' ' ')
check "the client's case is kept and the answer matched ($out)" test "$out" = "status: NOERROR ANSWER: 1 "

stats() { curl -fsS "$URL/v1/agent/self"; }
check "Stats.dns counts the forwards and their replies" python3 -c '
import json,sys
d=json.loads(sys.argv[1])["Stats"]["dns"]
assert d["forwarded"]==7 and d["forward_replies"]==7 and d["forward_dropped"]==0, d
assert d["forward_timeouts"]==0 and d["recursion_refused"]==0 and d["forwards_pending"]==0, d' "$(stats)"

# A second agent whose recursion networks do not hold 127.0.0.1: REFUSED, nothing forwarded.
DNS_PORT2=$(free_port)
start_dev closed -node_name=closedtest -dns.enabled -ports.dns="$DNS_PORT2" -dns.recursors="127.0.0.1:$UP_PORT" \
  -dns.recursion_networks=10.0.0.0/8 || { fail "agent dev starts with -dns.recursion_networks=10.0.0.0/8"; finish; }
for transport in +notcp +tcp; do
  out=$("$DIG" @127.0.0.1 -p "$DNS_PORT2" +time=3 +tries=1 $transport www.example.test A | grep -Eo 'status: [A-Z]+|flags: [a-z ]*;' | tr '\n' ' ')
  check "outside 10.0.0.0/8, dig $transport www.example.test: REFUSED, no RA ($out)" \
    bash -c '[[ "$1" == *"status: REFUSED"* && "$1" != *" ra"* ]]' _ "$out"
done
check "that agent counts recursion_refused and forwarded nothing" python3 -c '
import json,sys
d=json.loads(sys.argv[1])["Stats"]["dns"]
assert d["recursion_refused"]==2 and d["forwarded"]==0, d' "$(curl -fsS "http://127.0.0.1:$PORT/v1/agent/self")"

# The upstream dies: SERVFAIL after the two attempts (about 1 s), well before dig's 3 s.
kill "$UP_PID"
wait "$UP_PID" 2>/dev/null
check "dnsmasq is gone" bash -c '! kill -0 "$1" 2>/dev/null' _ "$UP_PID"
t0=$(date +%s%N)
out=$(d www.example.test A | grep -Eo 'status: [A-Z]+')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "with the upstream killed: SERVFAIL ($out) in $ms ms (two attempts of 500 ms, under 2.5 s)" \
  bash -c '[ "$1" = "status: SERVFAIL" ] && [ "$2" -ge 900 ] && [ "$2" -lt 2500 ]' _ "$out" "$ms"
out=$(short fwdtest.node.weft A)
check "local names still answered with the upstream gone ($out)" test "$out" = "127.0.0.1"
check "Stats.dns counts both timeouts and the SERVFAIL" python3 -c '
import json,sys
d=json.loads(sys.argv[1])["Stats"]["dns"]
assert d["forward_timeouts"]==2 and d["forward_servfail"]==1 and d["forwards_pending"]==0, d' "$(stats)"
check "the agent is still running" kill -0 "$AGENT_PID"
finish
