#!/usr/bin/env bash
# Weft's DHCPv4 client core (boot/dhcp/) against a real server: Debian's dnsmasq in a network
# namespace made here, the client (tests/dhcp_drive, which runs the core over a UDP socket on
# port 68) in another, joined by a veth pair; no address outside those namespaces is touched.
# Proves: a lease from DISCOVER/OFFER/REQUEST/ACK with dnsmasq's options read as configured
# (mask, classless routes taking precedence over option 3, DNS, MTU, domain, T1 and T2); the
# address lands on the link; renewals at T1 go unicast to the server and are ACKed; RELEASE
# frees the lease in dnsmasq's lease file; INIT-REBOOT with the remembered address is ACKed
# without a DISCOVER; INIT-REBOOT with an address of another network is NAKed and the client
# starts over and gets a lease.
source "$(dirname "$0")/lib.sh"

DRIVE=$(dirname "$AGENT")/tests/dhcp_drive
if [ "$(id -u)" != 0 ] || ! command -v dnsmasq >/dev/null || ! command -v ip >/dev/null; then
  echo "skip: needs root, ip and dnsmasq (tools/deps installs dnsmasq-base)"
  exit 0
fi
[ -x "$DRIVE" ] || { fail "tests/dhcp_drive is built next to the agent (ninja dhcp_drive)"; finish; }

SRV=weft-dhs-$$
CLI=weft-dhc-$$
DNSMASQ_PID=
teardown() {
  [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null
  cleanup
  ip netns del "$CLI" 2>/dev/null
  ip netns del "$SRV" 2>/dev/null
}
trap teardown EXIT
ip netns add "$SRV" && ip netns add "$CLI" || { fail "network namespaces are made"; finish; }
ip -n "$SRV" link set lo up
ip -n "$CLI" link set lo up
ip link add "s$$" netns "$SRV" type veth peer name "c$$" netns "$CLI"
ip -n "$SRV" addr add 10.232.0.1/24 dev "s$$"
ip -n "$SRV" link set "s$$" up
ip -n "$CLI" link set "c$$" up

touch "$WORK/leases"
ip netns exec "$SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --user=root \
  --interface="s$$" --bind-interfaces --dhcp-authoritative --log-dhcp --log-facility="$WORK/dnsmasq.log" \
  --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" \
  --dhcp-range=10.232.0.50,10.232.0.60,255.255.255.0,2m \
  --dhcp-option=option:router,10.232.0.254 \
  --dhcp-option=option:classless-static-route,192.168.99.0/24,10.232.0.2,0.0.0.0/0,10.232.0.1 \
  --dhcp-option=option:dns-server,10.232.0.1,9.9.9.9 \
  --dhcp-option=option:mtu,1400 --dhcp-option=option:domain-name,fleet.weft \
  --dhcp-option=option:T1,4 --dhcp-option=option:T2,7 &
DNSMASQ_PID=$!
check "dnsmasq starts in the server namespace" wait_for 10 grep -q 'DHCP, IP range' "$WORK/dnsmasq.log"

drive() { ip netns exec "$CLI" "$DRIVE" --iface "c$$" --timeout-s 30 "$@"; }

# 1. A lease, two renewals, then RELEASE.
drive --acks 3 --release --dump "$WORK" >"$WORK/run1" 2>&1
rc=$?
cat "$WORK/run1" | sed 's/^/  run1: /'
check "the client gets a lease, renews twice and releases (exit $rc)" [ "$rc" -eq 0 ]
check "DISCOVER, OFFER, REQUEST, ACK in that order" \
  bash -c "grep -oE '^(send|recv) DHCP[A-Z]+' '$WORK/run1' | head -4 | tr '\n' ' ' | grep -q 'send DHCPDISCOVER recv DHCPOFFER send DHCPREQUEST recv DHCPACK'"
LINE=$(grep -m1 '^configure ' "$WORK/run1")
ADDR=$(echo "$LINE" | sed -E 's/^configure ([0-9.]+)\/.*/\1/')
check "the address is in dnsmasq's range ($ADDR)" bash -c "[[ '$ADDR' =~ ^10\.232\.0\.(5[0-9]|60)$ ]]"
check "the lease has the /24, the server id and the classless default route, not option 3" \
  bash -c "echo '$LINE' | grep -q '/24 server=10.232.0.1 router=10.232.0.1 '"
check "DNS servers, MTU, domain and the other classless route are read" \
  bash -c "echo '$LINE' | grep -q 'dns=10.232.0.1,9.9.9.9 mtu=1400 domain=fleet.weft routes=192.168.99.0/24via10.232.0.2 '"
check "the lease is dnsmasq's two minutes with T1 4 s and T2 7 s" bash -c "echo '$LINE' | grep -q 'lease=120 t1=4 t2=7'"
check "renewals went unicast to the server" \
  bash -c "[ \$(grep -c '^send DHCPREQUEST unicast 10.232.0.1' '$WORK/run1') -ge 2 ]"
check "and were acknowledged (three ACKs in all)" bash -c "[ \$(grep -c '^recv DHCPACK accepted' '$WORK/run1') -eq 3 ]"
check "the RELEASE went unicast to the server" grep -q '^send DHCPRELEASE unicast 10.232.0.1' "$WORK/run1"
check "the address was deconfigured" grep -q "^deconfigure $ADDR/24" "$WORK/run1"
check "dnsmasq logged the renewal from the leased address" grep -q "DHCPREQUEST(s$$) $ADDR" "$WORK/dnsmasq.log"
check "dnsmasq logged the release" wait_for 5 grep -q "DHCPRELEASE(s$$) $ADDR" "$WORK/dnsmasq.log"
check "the link has no address left" bash -c "! ip -n '$CLI' -4 addr show dev 'c$$' | grep -q inet"

# 2. INIT-REBOOT with the remembered address: REQUEST first, ACK, no DISCOVER.
drive --remember "$ADDR" >"$WORK/run2" 2>&1
rc=$?
cat "$WORK/run2" | sed 's/^/  run2: /'
check "INIT-REBOOT is acknowledged (exit $rc)" [ "$rc" -eq 0 ]
check "its first message is a broadcast REQUEST and no DISCOVER is sent" \
  bash -c "head -1 '$WORK/run2' | grep -q '^send DHCPREQUEST broadcast' && ! grep -q DHCPDISCOVER '$WORK/run2'"
check "the same address is configured on the link" bash -c "ip -n '$CLI' -4 addr show dev 'c$$' | grep -q 'inet $ADDR/24'"

# 3. INIT-REBOOT for an address of another network: NAK, then a fresh lease.
ip -n "$CLI" addr flush dev "c$$"
drive --remember 192.168.50.7 >"$WORK/run3" 2>&1
rc=$?
cat "$WORK/run3" | sed 's/^/  run3: /'
check "the client recovers from the NAK with a lease (exit $rc)" [ "$rc" -eq 0 ]
check "dnsmasq NAKed the foreign address and the client went back to DISCOVER" \
  bash -c "grep -q '^recv DHCPNAK accepted state=SELECTING' '$WORK/run3' && grep -q '^send DHCPDISCOVER' '$WORK/run3' && grep -q 'naks=1' '$WORK/run3'"

# Real dnsmasq replies decode (they are also the fuzz corpus's "real" seeds).
check "every packet received decoded" bash -c "! grep -q '^recv ?' '$WORK/run1' '$WORK/run2' '$WORK/run3'"
check "every send left (none without a source address)" bash -c "! grep -q 'sendto failed' '$WORK/run1' '$WORK/run2' '$WORK/run3'"
if [ -n "${WEFT_DHCP_DUMP:-}" ]; then cp "$WORK"/rx-* "$WEFT_DHCP_DUMP"/ 2>/dev/null; fi
finish
