#!/usr/bin/env bash
# Network Mode "bridge" (issue 6 item 6): an allocation in a network namespace of its own on the
# node's bridge, its ports mapped from the node's. The node is a network namespace made here
# (the agent runs in it through nsenter, so the bridge, the links and the nftables table are
# the test's own), with a "client" namespace on a veth link as another machine of the LAN.
# Proves: an exec task and an oci container (Debian's runc, a busybox image built here) each
# run in their allocation's namespace (the container joins it by path), with an address on the
# bridge and a dynamic port from Nomad's range; a mapped port answers from the client machine
# (prerouting), from the node itself on 127.0.0.1 (output) and inside the namespace at its own
# port, and the task's port is not open on the node; the service registers the node's port and
# its check passes; the agent is kill -9'd and restarted and the allocation keeps its address,
# port and mapping; stopping an allocation removes its mapping, its namespace and its host link.
source "$(dirname "$0")/lib.sh"

BUSYBOX=/bin/busybox
if [ "$(id -u)" != 0 ] || ! command -v runc >/dev/null || ! command -v nft >/dev/null || ! command -v nsenter >/dev/null ||
  ! [ -x "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  echo "skip: needs root, runc, nft, nsenter and Debian's busybox-static (tools/deps installs them)"
  exit 0
fi
NODE=weft-br-$$
CLIENT=weft-brc-$$
teardown() {
  cleanup
  ip netns del "$CLIENT" 2>/dev/null
  ip netns del "$NODE" 2>/dev/null
}
trap teardown EXIT
ip netns add "$NODE" && ip netns add "$CLIENT" || { fail "network namespaces are made"; finish; }
ip -n "$NODE" link set lo up
ip -n "$CLIENT" link set lo up
ip link add "n$$" netns "$NODE" type veth peer name "c$$" netns "$CLIENT"
ip -n "$NODE" addr add 10.231.0.1/24 dev "n$$"
ip -n "$CLIENT" addr add 10.231.0.2/24 dev "c$$"
ip -n "$NODE" link set "n$$" up
ip -n "$CLIENT" link set "c$$" up

# The agent, and every curl of this test, in the node's namespace.
cat >"$WORK/agent-in-node" <<SH
#!/bin/sh
exec nsenter --net=/run/netns/$NODE $AGENT "\$@"
SH
chmod +x "$WORK/agent-in-node"
REAL_AGENT=$AGENT
AGENT=$WORK/agent-in-node
curl() { nsenter --net="/run/netns/$NODE" curl "$@"; }
from_client() { nsenter --net="/run/netns/$CLIENT" curl -fsS -m 3 "$@"; }

bash "$(dirname "$0")/tools/busybox_image.sh" "$BUSYBOX" "$WORK"
[ -f "$WORK/docker.tar" ] || { fail "the busybox image archive is built"; finish; }
RPORT=$(free_port)
JOBS=$WORK/jobs
mkdir -p "$JOBS"
cat >"$JOBS/web.json" <<'JSON'
{"ID": "web", "TaskGroups": [{"Name": "g", "Networks": [{"Mode": "bridge", "DynamicPorts": [{"Label": "http", "To": 8080}]}],
  "Tasks": [{"Name": "srv", "Driver": "exec",
    "Config": {"command": "python3", "args": ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "0.0.0.0", "--directory", "${NOMAD_TASK_DIR}"]},
    "Services": [{"Name": "bweb", "PortLabel": "http", "Checks": [{"Type": "http", "Path": "/", "Interval": "1s", "Timeout": "1s"}]}]}]}]}
JSON
cat >"$JOBS/box.json" <<JSON
{"ID": "box", "TaskGroups": [{"Name": "g", "Networks": [{"Mode": "bridge", "ReservedPorts": [{"Label": "web", "Value": $RPORT, "To": 80}]}],
  "Tasks": [{"Name": "c", "Driver": "oci",
    "Config": {"image": "$WORK/docker.tar", "command": "/bin/sh", "args": ["-c",
      "echo hello-from-\$NOMAD_ALLOC_IP_web > /local/index.html; busybox ip -4 addr show eth0; cat /etc/resolv.conf; exec busybox httpd -f -p \$NOMAD_PORT_web -h /local"]}}]}]}
JSON

start_dev br -node_name=brtest -jobs_dir="$JOBS" || { fail "agent dev starts in the node's namespace"; finish; }
URL=http://127.0.0.1:$PORT
ctl() { "$AGENTCTL" -socket "$SOCK" "$@"; }
is() { [ "$(alloc_field "$1" "$2" 2>/dev/null)" = "$3" ]; }

check "the exec task runs" wait_for 20 is web 'a["TaskStates"]["srv"]["State"]' running
check "the container runs" wait_for 60 is box 'a["TaskStates"]["c"]["State"]' running
WEB=$(alloc_field web 'a["ID"]')
BOX=$(alloc_field box 'a["ID"]')
WEB_IP=$(alloc_field web 'a["AllocatedResources"]["Shared"]["Networks"][0]["IP"]')
BOX_IP=$(alloc_field box 'a["AllocatedResources"]["Shared"]["Networks"][0]["IP"]')
P=$(alloc_field web 'a["AllocatedResources"]["Shared"]["Ports"][0]["Value"]')
check "each allocation has its own address on the bridge ($WEB_IP, $BOX_IP)" \
  bash -c '[[ $1 == 172.26.64.* && $2 == 172.26.64.* && $1 != "$2" ]]' _ "$WEB_IP" "$BOX_IP"
check "the dynamic port is from Nomad's range ($P)" test "$P" -ge 20000 -a "$P" -le 32000
check "the node's bridge holds the gateway" bash -c 'ip -n "$1" -4 addr show weft0 | grep -q "inet 172.26.64.1/20"' _ "$NODE"
echo '<p>web</p>' >"$DATA/allocs/$WEB/srv/local/index.html"
check "the exec task answers from the client machine at the node's port" wait_for 10 from_client "http://10.231.0.1:$P/index.html"
check "... from the node itself on 127.0.0.1" curl -fsS -m 3 -o /dev/null "http://127.0.0.1:$P/"
check "... and in its namespace at its own port (8080)" curl -fsS -m 3 -o /dev/null "http://$WEB_IP:8080/"
check "its port 8080 is not open on the node (the task is in its own namespace)" bash -c '! curl -fsS -m 2 -o /dev/null http://127.0.0.1:8080/ 2>/dev/null'
svc() { curl -fsS "$URL/v1/health/service/bweb?passing" | python3 -c 'import json,sys; print([x["Service"]["Port"] for x in json.load(sys.stdin)])'; }
export -f svc curl
export NODE URL
check "the service registers the node's port and its check (to the namespace) passes" wait_for 15 bash -c '[ "$(svc)" = "[$1]" ]' _ "$P"
body() { from_client "http://10.231.0.1:$RPORT/" 2>/dev/null | grep -q "hello-from-$BOX_IP"; }
check "the container answers at its reserved port from the client machine" wait_for 20 body
logs_have() { ctl alloc logs "$BOX" c 2>/dev/null | grep -q "$1"; }
check "the container's eth0 holds the allocation's address" wait_for 10 logs_have "inet $BOX_IP/20"
check "its resolv.conf names the node's DNS" logs_have "nameserver "
check "the runtime was told to join the allocation's namespace" \
  grep -q "\"path\":\"/run/weft/netns/$BOX\"" "$DATA/allocs/$BOX/c/oci/config.json"
check "the exec task's Task Setup event names its network" \
  is web '[e["DisplayMessage"] for e in a["TaskStates"]["srv"]["Events"] if e["Type"]=="Task Setup"][0].endswith("network bridge '"$WEB_IP"'")' True
check "the nftables table maps both ports" bash -c 'ip netns exec "$1" nft list table ip weft | grep -q "tcp dport $2 dnat to $3:8080" &&
  ip netns exec "$1" nft list table ip weft | grep -q "tcp dport $4 dnat to $5:80"' _ "$NODE" "$P" "$WEB_IP" "$RPORT" "$BOX_IP"

# kill -9 and restart: the allocation keeps its address, port and mapping.
WEB_PID=$(alloc_field web 'a["TaskStates"]["srv"]["Pid"]')
kill -9 "$PID"
wait "$PID" 2>/dev/null
start_dev br -node_name=brtest -jobs_dir="$JOBS" || { fail "the agent restarts"; finish; }
URL=http://127.0.0.1:$PORT
check "after kill -9 the exec task is re-attached (same pid)" wait_for 15 is web 'a["TaskStates"]["srv"]["Pid"]' "$WEB_PID"
check "with the same address and port" is web 'a["AllocatedResources"]["Shared"]["Networks"][0]["IP"]+":"+str(a["AllocatedResources"]["Shared"]["Ports"][0]["Value"])' "$WEB_IP:$P"
check "and the mapped port still answers from the client machine" from_client -o /dev/null "http://10.231.0.1:$P/"

# Stopping an allocation takes its mapping, namespace and host link away.
LINK=wv$(tr -d - <<<"$WEB" | cut -c1-13)
check "the exec allocation's host link is on the bridge ($LINK)" bash -c 'ip -n "$1" link show "$2" | grep -q "master weft0"' _ "$NODE" "$LINK"
ctl alloc stop "$WEB" >/dev/null || fail "alloc stop"
check "the stopped allocation is complete" wait_for 15 is web 'a["ClientStatus"]' complete
check "its port is no longer mapped" wait_for 10 bash -c '! ip netns exec "$1" nft list table ip weft | grep -q "dport $2 "' _ "$NODE" "$P"
check "its host link is gone" bash -c '! ip -n "$1" link show "$2" >/dev/null 2>&1' _ "$NODE" "$LINK"
check "its namespace is unpinned" test ! -e "/run/weft/netns/$WEB"
check "the container's mapping stays" from_client -o /dev/null "http://10.231.0.1:$RPORT/"
finish
