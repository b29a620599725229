#!/usr/bin/env python3
"""free_port.py LEDGER: prints a loopback TCP port nothing listens on that is not in LEDGER, and
appends it there. The kernel may hand one ephemeral port out twice; without the ledger a test that
asks for several ports can get a duplicate (CI once saw -ports.dns equal -ports.rpc)."""
import socket
import sys

path = sys.argv[1]
try:
    with open(path) as f:
        used = set(f.read().split())
except FileNotFoundError:
    used = set()
for _ in range(64):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = str(s.getsockname()[1])
    s.close()
    if port not in used:
        break
else:
    sys.exit("free_port: no fresh port in 64 tries")
with open(path, "a") as f:
    f.write(port + "\n")
print(port)
