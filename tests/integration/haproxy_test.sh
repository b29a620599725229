#!/usr/bin/env bash
# Proves HAProxy from Debian follows Weft's DNS unchanged: a backend of `server-template` slots
# filled from the SRV records of _web._tcp.service.weft through a `resolvers` section pointing at
# the agent's DNS server. Two instances of a test web service (each answering its own name) are
# registered with TTL checks; requests through HAProxy reach both; failing one instance's check
# takes it out of HAProxy's rotation within a bound (stated below and measured), and passing it
# again brings its traffic back. tools/deps installs haproxy.
source "$(dirname "$0")/lib.sh"

HAPROXY=$(command -v haproxy || true)
[ -n "$HAPROXY" ] || { fail "haproxy is installed (tools/deps installs it)"; finish; }
BOUND_S=10  # the stated bound: DNS drops a critical instance at once; HAProxy re-resolves every 1 s

DNS_PORT=$(free_port)
start_dev ha -node_name=hatest -dns.enabled -ports.dns="$DNS_PORT" || { fail "agent dev starts"; finish; }
put() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X PUT --data-binary "$2" "http://127.0.0.1:$PORT$1"; }

# Two web instances on their own loopback addresses, each serving its name.
declare -A WEB_PORT
for i in 1 2; do
  WEB_PORT[$i]=$(free_port)
  mkdir -p "$WORK/web-$i"
  echo "web-$i" >"$WORK/web-$i/index.html"
  python3 -m http.server "${WEB_PORT[$i]}" --bind "127.0.0.$((i + 1))" --directory "$WORK/web-$i" >"$WORK/web-$i.log" 2>&1 &
  PIDS+=("$!")
  code=$(put /v1/agent/service/register "{\"ID\":\"web-$i\",\"Name\":\"web\",\"Address\":\"127.0.0.$((i + 1))\",\"Port\":${WEB_PORT[$i]},\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}")
  check "register web-$i at 127.0.0.$((i + 1)):${WEB_PORT[$i]} ($code)" test "$code" = 200
done
up() { curl -fsS --max-time 2 "http://127.0.0.$(($1 + 1)):${WEB_PORT[$1]}/" | grep -q "web-$1"; }
check "both web instances answer directly" wait_for 10 bash -c "$(declare -f up); $(declare -p WEB_PORT); up 1 && up 2"

HA_PORT=$(free_port)
haproxy_config "$WORK/haproxy.cfg" "127.0.0.1:$DNS_PORT" "127.0.0.1:$HA_PORT"
"$HAPROXY" -c -f "$WORK/haproxy.cfg" >"$WORK/haproxy-check.log" 2>&1
check "haproxy accepts the configuration" test $? = 0
"$HAPROXY" -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=("$!")

# seen N: the distinct instances that answered N requests through HAProxy, e.g. "web-1 web-2".
seen() {
  for _ in $(seq "$1"); do curl -fsS --max-time 2 "http://127.0.0.1:$HA_PORT/" 2>/dev/null; done | sort -u | tr '\n' ' ' | sed 's/ $//'
}
both() { [ "$(seen 8)" = "web-1 web-2" ]; }
check "requests through HAProxy reach both instances" wait_for 20 both

start=$(date +%s%N)
code=$(put /v1/agent/check/fail/service:web-2 '')
check "fail web-2's check ($code)" test "$code" = 200
only_one() { [ "$(seen 8)" = "web-1" ]; }
if wait_for "$BOUND_S" only_one; then
  ok "HAProxy stops sending to web-2 within ${BOUND_S} s (took $(( ($(date +%s%N) - start) / 1000000 )) ms)"
else
  fail "HAProxy stops sending to web-2 within ${BOUND_S} s (still: $(seen 8))"
fi
start=$(date +%s%N)
code=$(put /v1/agent/check/pass/service:web-2 '')
check "pass web-2's check again ($code)" test "$code" = 200
if wait_for "$BOUND_S" both; then
  ok "traffic returns to web-2 within ${BOUND_S} s (took $(( ($(date +%s%N) - start) / 1000000 )) ms)"
else
  fail "traffic returns to web-2 within ${BOUND_S} s (still: $(seen 8))"
fi
finish
