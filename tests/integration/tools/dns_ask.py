#!/usr/bin/env python3
"""One DNS query to 127.0.0.1, raw bytes (no resolver tools needed), for the integration tests.

    dns_ask.py [--tcp] [--sort] PORT NAME TYPE [RAW-HEX]

Prints "rcode ancount nscount qname-as-echoed answers", where answers are the answer section's
A records (dotted quads) and SRV records ("priority/weight/port/target"), comma-separated (in
the order given, or sorted with --sort; "-" for none), or "timeout" when nothing came within 2 s.
RAW-HEX sends those bytes instead of a query for NAME. --tcp asks over TCP (RFC 1035 4.2.2).
"""
import socket
import struct
import sys

args = sys.argv[1:]
tcp = "--tcp" in args
sort = "--sort" in args
args = [a for a in args if a not in ("--tcp", "--sort")]
port, name, qtype = int(args[0]), args[1], int(args[2])
raw = bytes.fromhex(args[3]) if len(args) > 3 else None
q = raw or struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) + b"".join(
    bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0" + struct.pack(">HH", qtype, 1)
try:
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(struct.pack(">H", len(q)) + q)

        def need(n):
            b = b""
            while len(b) < n:
                c = s.recv(n - len(b))
                if not c:
                    raise socket.timeout()
                b += c
            return b

        m = need(struct.unpack(">H", need(2))[0])
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(q, ("127.0.0.1", port))
        m, _ = s.recvfrom(4096)
except socket.timeout:
    print("timeout")
    sys.exit(0)
ident, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", m[:12])
assert ident == struct.unpack(">H", q[:2])[0] and flags & 0x8000


def read_name(m, p):
    labels, end = [], None
    while True:
        n = m[p]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = p + 2
            p = ((n & 0x3F) << 8) | m[p + 1]
            continue
        if n == 0:
            return ".".join(labels), (end if end is not None else p + 1)
        labels.append(m[p + 1:p + 1 + n].decode("latin-1"))
        p += 1 + n


p, qname = 12, ""
for _ in range(qd):
    qname, p = read_name(m, p)
    p += 4
answers = []
for _ in range(an):
    _, p = read_name(m, p)
    t, c, ttl, rdlen = struct.unpack(">HHIH", m[p:p + 10])
    p += 10
    if t == 1:
        answers.append(socket.inet_ntoa(m[p:p + 4]))
    elif t == 33:
        pri, w, prt = struct.unpack(">HHH", m[p:p + 6])
        answers.append("%d/%d/%d/%s" % (pri, w, prt, read_name(m, p + 6)[0]))
    p += rdlen
if sort:
    answers.sort()
print(flags & 0xF, an, ns, qname or "-", ",".join(answers) or "-")
