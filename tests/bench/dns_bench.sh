#!/usr/bin/env bash
# Benchmarks Weft's DNS server beside Debian's dnsmasq and NSD in one run (issue 5): the same
# records in each -- S services of I instances, each service as A records (<svc>.service.weft)
# and RFC 2782 SRV records (_<svc>._tcp.service.weft) whose targets have A records -- queried by
# Debian's dnsperf on loopback, an even mix of A and SRV questions, every server pinned to one core
# (taskset -c 1) and dnsperf to the other (taskset -c 0), each server alone in turn, ROUNDS rounds
# interleaved. Reports queries per second and mean latency per server and Weft's ratios.
#
# Usage: tests/bench/dns_bench.sh [BUILD_DIR]   (default build/; needs BUILD_DIR/agent)
#   SERVICES=20 INSTANCES=3 SECONDS_EACH=10 ROUNDS=3 OUT=DIR
# Needs root only to install dnsperf, dnsmasq, nsd and dig with apt-get when they are missing.
set -euo pipefail

BENCH=dns_bench
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-}"
SERVICES=${SERVICES:-20}
INSTANCES=${INSTANCES:-3}
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-3}
bench_positive SERVICES INSTANCES SECONDS_EACH ROUNDS
[ "$INSTANCES" -le 250 ] && [ "$SERVICES" -le 250 ] || die "at most 250 services of 250 instances"
bench_install dnsperf:dnsperf dnsmasq:dnsmasq nsd:nsd dig:bind9-dnsutils
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
NSD=$(command -v nsd || echo /usr/sbin/nsd)

bench_work dnsbench

# The records: instance j of service i at 10.<i>.<j>.1, port 8000+j, SRV target t<i>-<j>.weft.
addr() { echo "10.$1.$2.1"; }
queries=$work/queries.txt
: >"$queries"
for i in $(seq "$SERVICES"); do
  echo "svc$i.service.weft A" >>"$queries"
  echo "_svc$i._tcp.service.weft SRV" >>"$queries"
done

# Weft: agent dev with DNS on, the instances registered through the agent API (each instance's
# own address, so its SRV target is <hex>.addr.weft with an A record in the additional section).
wport=$(free_port)
whttp=$(free_port)
mkdir -p "$work/weft"
taskset -c 1 "$agent" dev -ports.http="$whttp" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" -ports.dns="$wport" \
  -dns.enabled -data_dir="$work/weft/data" -socket_path="$work/weft/agent.sock" -node_name=bench -log_level=warn \
  >"$OUT/weft.log" 2>&1 &
WEFT=$!
PIDS+=("$WEFT")
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$whttp/v1/agent/health" >/dev/null 2>&1 && break; sleep 0.1; done
for i in $(seq "$SERVICES"); do
  for j in $(seq "$INSTANCES"); do
    curl -fsS -o /dev/null -X PUT --data-binary \
      "{\"ID\":\"svc$i-$j\",\"Name\":\"svc$i\",\"Address\":\"$(addr "$i" "$j")\",\"Port\":$((8000 + j))}" \
      "http://127.0.0.1:$whttp/v1/agent/service/register" || die "registering svc$i-$j failed"
  done
done

# dnsmasq: the A records from a hosts file, the SRV records by --srv-host, no upstreams.
dport=$(free_port)
hosts=$work/dnsmasq.hosts
: >"$hosts"
srv_args=()
for i in $(seq "$SERVICES"); do
  for j in $(seq "$INSTANCES"); do
    echo "$(addr "$i" "$j") svc$i.service.weft t$i-$j.weft" >>"$hosts"
    srv_args+=("--srv-host=_svc$i._tcp.service.weft,t$i-$j.weft,$((8000 + j)),1,1")
  done
done

# NSD: the same records in a zone file.
nport=$(free_port)
mkdir -p "$work/nsd"
zone=$work/nsd/weft.zone
{
  echo '$ORIGIN weft.'
  echo '$TTL 0'
  echo '@ IN SOA ns.weft. hostmaster.weft. 1 3600 600 86400 0'
  echo '@ IN NS ns.weft.'
  echo 'ns IN A 127.0.0.1'
  for i in $(seq "$SERVICES"); do
    for j in $(seq "$INSTANCES"); do
      echo "svc$i.service IN A $(addr "$i" "$j")"
      echo "t$i-$j IN A $(addr "$i" "$j")"
      echo "_svc$i._tcp.service IN SRV 1 1 $((8000 + j)) t$i-$j.weft."
    done
  done
} >"$zone"
cat >"$work/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$nport
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "$work/nsd/zone.list"
  xfrdfile: "$work/nsd/xfrd.state"
  xfrdir: "$work/nsd"
  pidfile: "$work/nsd/nsd.pid"
  logfile: "$OUT/nsd.log"
  hide-version: yes
  rrl-ratelimit: 0            # response rate limiting off: every query here is the benchmark's
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: weft
  zonefile: "$zone"
CONF

start_server() {  # start_server weft|dnsmasq|nsd: the server runs alone, pinned to core 1
  case $1 in
    weft) kill -CONT "$WEFT" ;;
    dnsmasq)
      taskset -c 1 "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts --no-poll --port="$dport" \
        --listen-address=127.0.0.1 --bind-interfaces --local=/weft/ --addn-hosts="$hosts" --cache-size=0 \
        --pid-file="$work/dnsmasq.pid" --user=root "${srv_args[@]}" >"$OUT/dnsmasq.log" 2>&1 &
      SERVER=$! ;;
    nsd) taskset -c 1 "$NSD" -d -c "$work/nsd/nsd.conf" >>"$OUT/nsd.log" 2>&1 & SERVER=$! ;;
  esac
}
stop_server() {
  case $1 in
    weft) kill -STOP "$WEFT" ;;  # paused, so it takes no CPU while the others run
    *) kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true ;;
  esac
}
port_of() { case $1 in weft) echo "$wport" ;; dnsmasq) echo "$dport" ;; nsd) echo "$nport" ;; esac; }
ready() {  # the server answers an SRV question with INSTANCES records
  local n
  n=$(dig @127.0.0.1 -p "$(port_of "$1")" +short +time=1 +tries=1 _svc1._tcp.service.weft SRV 2>/dev/null | wc -l) || true
  [ "$n" = "$INSTANCES" ]
}
kill -STOP "$WEFT"

run=$OUT/run.txt
echo "# $(date -u +%FT%TZ) services=$SERVICES instances=$INSTANCES seconds=$SECONDS_EACH rounds=$ROUNDS $(nproc) cores" >"$run"
for r in $(seq "$ROUNDS"); do
  for s in weft dnsmasq nsd; do
    start_server "$s"
    for _ in $(seq 50); do ready "$s" && break; sleep 0.1; done
    ready "$s" || die "$s does not answer _svc1._tcp.service.weft SRV with $INSTANCES records (see $OUT)"
    out=$(taskset -c 0 dnsperf -s 127.0.0.1 -p "$(port_of "$s")" -d "$queries" -l "$SECONDS_EACH" -c 1 -q 100 2>&1)
    qps=$(awk '/Queries per second:/ {print $4}' <<<"$out")
    lat=$(awk '/Average Latency/ {print $4}' <<<"$out")
    lost=$(awk '/Queries lost:/ {print $3}' <<<"$out")
    echo "round=$r server=$s qps=$qps mean_latency_s=$lat lost=$lost" | tee -a "$run"
    stop_server "$s"
  done
done

python3 - "$run" <<'PY'
import re, statistics, sys
rows = [dict(kv.split("=") for kv in l.split()) for l in open(sys.argv[1]) if l.startswith("round=")]
med = lambda s, k: statistics.median(float(r[k]) for r in rows if r["server"] == s)
w, d, n = (med(s, "qps") for s in ("weft", "dnsmasq", "nsd"))
print("| server | queries/s (median) | mean latency, ms (median) |")
print("|---|---:|---:|")
for s in ("weft", "dnsmasq", "nsd"):
    print(f"| {s} | {med(s, 'qps'):.0f} | {med(s, 'mean_latency_s') * 1000:.3f} |")
print(f"\nWeft/dnsmasq throughput {w / d:.2f}x (target 1.5x); Weft/NSD {w / n:.2f}x (target 1x)")
PY
echo "dns_bench: results in $OUT" >&2
