#!/usr/bin/env python3
# Sends hostile UDP traffic at HOST:PORT, bounded in count: random garbage, truncated and oversized
# datagrams, plaintext bytes shaped like a SWIM header, and replays of captured packets (from
# udp_sniff.py's file, each sent REPEAT times). Prints how many of each it sent. Runs inside a lab
# namespace only, at lab addresses only.
import os, random, socket, struct, sys

host, port, replay_file, repeat = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rng = random.Random(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = {"garbage": 0, "truncated": 0, "oversized": 0, "plaintext": 0, "replayed": 0}

def send(kind, data):
    try:
        s.sendto(data, (host, port))
        sent[kind] += 1
    except OSError:
        pass

for _ in range(3000):
    send("garbage", os.urandom(rng.randint(1, 1400)))
for n in range(0, 46):
    for _ in range(20):
        send("truncated", bytes([0xE1, 1]) + os.urandom(max(0, n - 2)))
for _ in range(200):
    send("oversized", os.urandom(rng.randint(1500, 65000)))
for _ in range(1000):
    send("plaintext", bytes([rng.randint(0, 12)]) + os.urandom(rng.randint(0, 200)))
packets = []
with open(replay_file, "rb") as f:
    data = f.read()
i = 0
while i + 4 <= len(data):
    (n,) = struct.unpack("<I", data[i:i + 4])
    packets.append(data[i + 4:i + 4 + n])
    i += 4 + n
for _ in range(repeat):
    for p in packets:
        send("replayed", p)
print(" ".join(f"{k}={v}" for k, v in sent.items()))
