#!/usr/bin/env bash
# HAProxy on a director node follows Weft's DNS across a fleet (issue 5), in the lab: n1 a
# foundation, n2 and n3 workers each running a web instance registered with a TCP check, n4 the
# director running Debian's HAProxy whose `server-template` slots come from its own agent's DNS
# (_web._tcp.service.weft SRV on 127.0.0.1:53 in n4's namespace, answered from n4's view of the
# catalog). Requests through HAProxy reach both workers; kill -9 of n3's agent takes its instance
# out of rotation (gossip declares n3 failed, the leader makes its serfHealth critical, n4's view
# drops the instance) within BOUND_S; restarting the agent brings its traffic back within BOUND_S.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; then
  echo "skipped: needs root and network namespaces"
  exit 0
fi
HAPROXY=$(command -v haproxy || true)
[ -n "$HAPROXY" ] || { fail "haproxy is installed (tools/deps installs it)"; finish; }
BOUND_S=45  # gossip failure detection (profile local: 9-22 s measured here under load), the leader's verdict, n4's view, HAProxy's 1 s re-resolve

LAB=$(cd "$(dirname "$0")/../.." && pwd)/tools/lab
export WEFT_LAB_NAME="ha$$"
export WEFT_LAB_DIR="$WORK/lab"
export WEFT_LAB_TIMEOUT=20
lab() { "$LAB" "$@"; }
trap 'lab down >/dev/null 2>&1; cleanup' EXIT
addr() { lab addr "$1"; }

if ! lab up 4 --servers 1 --agent "$AGENT" --profile local >"$WORK/up.log" 2>&1; then
  fail "the lab comes up (4 nodes)"
  cat "$WORK/up.log"
  finish
fi
ok "the lab is up: n1 foundation, n2 n3 workers, n4 director"

for n in n2 n3; do
  mkdir -p "$WORK/web-$n"
  echo "web-$n" >"$WORK/web-$n/index.html"
  lab exec "$n" -- python3 -m http.server 8080 --bind "$(addr "$n")" --directory "$WORK/web-$n" >"$WORK/web-$n.log" 2>&1 &
  PIDS+=("$!")
  code=$(lab exec "$n" -- curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X PUT --data-binary \
    "{\"ID\":\"web-$n\",\"Name\":\"web\",\"Address\":\"$(addr "$n")\",\"Port\":8080,\"Check\":{\"TCP\":\"$(addr "$n"):8080\",\"Interval\":\"1s\",\"Timeout\":\"1s\"}}" \
    http://127.0.0.1:7700/v1/agent/service/register)
  check "register web-$n on $n ($code)" test "$code" = 200
done

haproxy_config "$WORK/haproxy.cfg" 127.0.0.1:53 127.0.0.1:8081
lab exec n4 -- "$HAPROXY" -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=("$!")

seen() {  # seen N: the distinct instances that answered N requests through n4's HAProxy
  for _ in $(seq "$1"); do lab exec n4 -- curl -fsS --max-time 2 http://127.0.0.1:8081/ 2>/dev/null; done |
    sort -u | tr '\n' ' ' | sed 's/ $//'
}
both() { [ "$(seen 8)" = "web-n2 web-n3" ]; }
check "requests through the director's HAProxy reach both workers" wait_for 60 both

start=$(date +%s%N)
lab kill n3 >/dev/null
only_n2() { [ "$(seen 8)" = "web-n2" ]; }
if wait_for "$BOUND_S" only_n2; then
  ok "after kill -9 of n3's agent HAProxy stops sending to it within ${BOUND_S} s (took $(( ($(date +%s%N) - start) / 1000000 )) ms)"
else
  fail "after kill -9 of n3's agent HAProxy stops sending to it within ${BOUND_S} s (still: $(seen 8))"
fi
start=$(date +%s%N)
lab restart n3 >/dev/null 2>&1
if wait_for "$BOUND_S" both; then
  ok "n3's agent restarted: traffic returns within ${BOUND_S} s (took $(( ($(date +%s%N) - start) / 1000000 )) ms)"
else
  fail "n3's agent restarted: traffic returns within ${BOUND_S} s (still: $(seen 8))"
fi
finish
