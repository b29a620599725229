#!/usr/bin/env python3
# Captures the payloads of UDP datagrams to PORT seen on IFACE (AF_PACKET), up to COUNT of them
# or SECONDS, and writes them to OUT as length-prefixed records. Used by gossip_lab_test.sh to
# replay real, validly sealed gossip packets at an agent. Runs inside a lab namespace only.
import socket, struct, sys, time

iface, port, count, seconds, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.bind((iface, 0))
s.settimeout(0.2)
got = []
deadline = time.time() + seconds
while len(got) < count and time.time() < deadline:
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 17:
        continue
    udp = ip[ihl:]
    dport = struct.unpack("!H", udp[2:4])[0]
    if dport != port:
        continue
    got.append(bytes(udp[8:]))
with open(out, "wb") as f:
    for p in got:
        f.write(struct.pack("<I", len(p)) + p)
print(len(got))
