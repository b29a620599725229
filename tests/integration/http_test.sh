#!/usr/bin/env bash
# Proves the agent's HTTP API over real loopback sockets: the first endpoints answer in shape,
# keep-alive and pipelining work, and malformed or oversized requests get the right 4xx while
# the agent keeps serving other clients.
source "$(dirname "$0")/lib.sh"
start_dev http || { fail "agent dev starts"; finish; }

self=$(curl -fsS "http://127.0.0.1:$PORT/v1/agent/self")
check "/v1/agent/self is JSON with the node's config and version" python3 -c '
import json,sys
d=json.loads(sys.argv[1])
assert d["Member"]["Name"] and d["Config"]["Version"], d
assert "Uptime" in d["Stats"]["agent"] or "uptime_seconds" in d["Stats"]["agent"], d
assert isinstance(d["Config"]["Roles"], list), d
assert "EffectiveConfig" in d, d' "$self"
code=$(curl -sS -o "$WORK/h.json" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/agent/health")
check "/v1/agent/health is 200 while healthy" test "$code" = 200
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/no/such/thing")
check "unknown path is 404" test "$code" = 404
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$PORT/v1/agent/health")
check "wrong method is 405" test "$code" = 405

python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
fails = 0

def exchange(raw, read_all=True, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(raw)
    data = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if not read_all and b"\r\n\r\n" in data:
            break
    s.close()
    return data

def status_codes(data):
    # Walks the responses by their Content-Length, as a client must: bodies need not end in CRLF.
    codes = []
    while data.startswith(b"HTTP/1."):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].split(b"\r\n")
        codes.append(int(head[0].split(b" ")[1]))
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        data = data[end + 4 + length:]
    return codes

def expect(name, raw, want):
    global fails
    got = status_codes(exchange(raw))
    if got[:1] == [want]:
        print(f"ok: {name} -> {want}")
    else:
        print(f"FAIL: {name}: want {want}, got {got}")
        fails += 1

expect("garbage request line", b"HELLO\r\n\r\n", 400)
expect("bad version", b"GET / HTTP/2.7\r\nHost: x\r\n\r\n", 505)
expect("header section too large", b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431)
expect("body too large", b"PUT /v1/agent/health HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n", 413)
expect("URI too long", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)
expect("smuggling: Content-Length and chunked", b"POST /v1/agent/health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
expect("control character in header", b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400)

# Pipelining: three requests in one write, answered in order on one connection.
raw = b"".join(b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(2)) + \
      b"GET /v1/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
got = status_codes(exchange(raw))
if got == [200, 200, 404]:
    print("ok: three pipelined requests answered in order")
else:
    print(f"FAIL: pipelined requests: got {got}")
    fails += 1

# Still serving after all that.
got = status_codes(exchange(b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
if got == [200]:
    print("ok: agent still serves after malformed input")
else:
    print(f"FAIL: agent after malformed input: {got}")
    fails += 1
sys.exit(1 if fails else 0)
PY
check "malformed input gets the right 4xx and the agent keeps serving" test $? -eq 0
check "agent process still alive" kill -0 "$PID"
finish
