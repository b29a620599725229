#!/usr/bin/env bash
# Issue 7's fleet: three VMs (the worker PXE set, under QEMU's software emulation) on a bridge
# inside a network namespace made here (tap devices; nothing touches the host's network), their
# addresses leased by Weft's own DHCP client from dnsmasq in the namespace, each node's config on
# a NoCloud CIDATA volume of its own: vm1 a foundation (server, bootstrap_expect 1) with the
# service "web", vm2 and vm3 workers; all with the same gossip key, RPC certificates from
# `agentctl tls`, and retry_join of vm1. Proves: every VM leases its address, all three see each
# other alive in `members`, and vm3's DNS server answers for vm1's service; each powers off.
# Then PXE from the fleet: a foundation serving boot.dir on its API port, dnsmasq naming its
# /boot.ipxe to iPXE; a diskless fourth VM boots the worker set from it and joins its fleet.
set -uo pipefail
AGENT=$(readlink -f "${1:?usage: $0 path/to/agent}")
AGENTCTL=$(dirname "$AGENT")/agentctl
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ] || ! command -v qemu-system-x86_64 >/dev/null || ! command -v dnsmasq >/dev/null ||
  ! command -v xorriso >/dev/null || ! file -L "$AGENT" | grep -q 'statically linked'; then
  echo "skip: needs root, qemu-system-x86_64, dnsmasq, xorriso (tools/deps installs them) and the static release agent"
  exit 0
fi
WORK=$(mktemp -d /tmp/weft-fleet.XXXXXX)
NS=weft-fleet-$$
DNSMASQ_PID=
teardown() {
  [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap teardown EXIT

ip netns add "$NS" || { echo "FAIL: the namespace"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add 10.88.0.1/24 dev br0
ip -n "$NS" link set br0 up
for n in 1 2 3 4; do
  ip -n "$NS" tuntap add "tap$n" mode tap
  ip -n "$NS" link set "tap$n" master br0 up
done
ip netns exec "$NS" dnsmasq --no-daemon --port=0 --interface=br0 --bind-interfaces --no-resolv --no-hosts --no-ping \
  --dhcp-range=10.88.0.100,10.88.0.199,1h --dhcp-host=52:54:00:88:00:01,10.88.0.11 --dhcp-host=52:54:00:88:00:02,10.88.0.12 \
  --dhcp-host=52:54:00:88:00:03,10.88.0.13 --dhcp-host=52:54:00:88:00:04,10.88.0.14 \
  --dhcp-match=set:ipxe,175 --dhcp-boot=tag:ipxe,http://10.88.0.1:8080/boot.ipxe --dhcp-leasefile="$WORK/leases" --log-dhcp >"$WORK/dnsmasq.log" 2>&1 &
DNSMASQ_PID=$!

KEY=$("$AGENTCTL" keygen)
mkdir -p "$WORK/tls"
(cd "$WORK/tls" && "$AGENTCTL" tls ca create >/dev/null && "$AGENTCTL" tls cert create -server >/dev/null &&
  "$AGENTCTL" tls cert create -client >/dev/null) || { echo "FAIL: agentctl tls"; exit 1; }
for n in 1 2 3; do
  d=$WORK/vm$n
  mkdir -p "$d"
  printf 'instance-id: vm%s\nlocal-hostname: vm%s\n' "$n" "$n" >"$d/meta-data"
  cp "$WORK/tls/weft-agent-ca.pem" "$d/ca.pem"
  role=client
  extra=
  if [ "$n" = 1 ]; then
    role=server
    extra=', "server": true, "bootstrap_expect": 1, "roles": ["foundation"], "service": {"name": "web", "id": "web-1", "port": 8080}'
  fi
  cp "$WORK/tls/dc1-$role-weft-0.pem" "$d/cert.pem"
  cp "$WORK/tls/dc1-$role-weft-0-key.pem" "$d/key.pem"
  cat >"$d/user-data" <<JSON
{"encrypt": "$KEY", "retry_join": ["10.88.0.11"],
 "tls": {"ca_file": "/run/weft/cidata/ca.pem", "cert_file": "/run/weft/cidata/cert.pem", "key_file": "/run/weft/cidata/key.pem"}$extra}
JSON
  xorriso -as mkisofs -quiet -V CIDATA -J -r -o "$WORK/vm$n.iso" "$d" 2>/dev/null || { echo "FAIL: the CIDATA volume of vm$n"; exit 1; }
done
"$ROOT/tools/mkimage" --profile worker --format pxe --agent "$AGENT" --out "$WORK/img" >/dev/null || { echo "FAIL: mkimage"; exit 1; }
FLEET_NETNS=$NS FLEET_DIR=$WORK python3 "$(dirname "$0")/console.py" "$WORK/img" fleet
rc=$?

# PXE from the fleet itself: a foundation (agent dev on the bridge's address, boot.dir holding the
# worker PXE set) serves /boot.ipxe; a diskless fourth VM boots from it and joins.
mkdir -p "$WORK/boot/worker"
cp "$WORK/img/vmlinuz" "$WORK/img/initramfs.gz" "$WORK/boot/worker/"
ip netns exec "$NS" "$AGENT" dev -node_name=found -bind_addr=10.88.0.1 -client_addr=0.0.0.0 -ports.http=8080 \
  -ports.gossip=7702 -boot.dir="$WORK/boot" -data_dir="$WORK/found" -socket_path="$WORK/found.sock" >"$WORK/found.log" 2>&1 &
FOUND_PID=$!
for _ in $(seq 100); do [ -S "$WORK/found.sock" ] && break; sleep 0.1; done
AGENT=$AGENT FLEET_NETNS=$NS FOUNDATION_SOCK=$WORK/found.sock python3 "$(dirname "$0")/console.py" "$WORK/img" pxe || rc=1
kill "$FOUND_PID" 2>/dev/null
wait "$FOUND_PID" 2>/dev/null
[ $rc -ne 0 ] && tail -n 20 "$WORK/found.log"
[ $rc -ne 0 ] && tail -n 20 "$WORK/dnsmasq.log"
exit $rc
