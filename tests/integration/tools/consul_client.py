"""Drives a Weft agent with python-consul (Debian's python3-consul, a real Consul API client):
service registration with a TTL check, the check's TTL endpoints, the catalog and health
endpoints with ?passing, a blocking health query woken by a change, and KV. Prints one "ok: ..."
line per step; any mismatch raises (the test fails on a non-zero exit).

Usage: /usr/bin/python3 consul_client.py HTTP_PORT NODE_NAME"""
import sys
import threading
import time

import consul

port, node = int(sys.argv[1]), sys.argv[2]
c = consul.Consul(host="127.0.0.1", port=port)
# python-consul 0.7 (2017) sends GET for the TTL updates and for deregistration, which Consul 0.x
# accepted and Consul 1.x refuses (PUT only), as Weft does; those calls go as PUT through the
# library's own HTTP client, the way newer clients send them.
put = lambda path, **params: c.http.put(consul.base.CB.bool(), path, params=params)


def ok(what):
    print("ok: " + what, flush=True)


def until(what, fn, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("not within %d s: %s" % (seconds, what))


assert c.status.leader(), "a leader"
ok("status.leader() names a leader")
assert c.agent.service.register("web", service_id="web-1", address="127.0.0.1", port=8080, tags=["v1"],
                                check=consul.Check.ttl("30s"))
ok("agent.service.register with Check.ttl")
services = c.agent.services()
assert services["web-1"]["Service"] == "web" and services["web-1"]["Port"] == 8080, services
ok("agent.services() has web-1")
assert put("/v1/agent/check/pass/service:web-1", note="fine")
ok("PUT /v1/agent/check/pass")
index, names = until("catalog.services() lists web", lambda: (lambda r: r if "web" in r[1] else None)(c.catalog.services()))
assert names["web"] == ["v1"], names
ok("catalog.services() lists web with its tag (index %s)" % index)
index, nodes = until("health.service passing", lambda: (lambda r: r if len(r[1]) == 1 else None)(c.health.service("web", passing=True)))
entry = nodes[0]
assert entry["Node"]["Node"] == node and entry["Service"]["ID"] == "web-1", entry
assert any(ch["CheckID"] == "service:web-1" and ch["Status"] == "passing" for ch in entry["Checks"]), entry["Checks"]
ok("health.service(passing=True): web-1 with its passing check")

# A blocking query on the health of web, woken when the check fails, not before.
result = {}


def blocked():
    result["r"] = c.health.service("web", index=index, wait="20s")
    result["at"] = time.monotonic()


t = threading.Thread(target=blocked)
t.start()
time.sleep(1.0)  # the query is parked: nothing changed yet
assert "r" not in result, "the blocking query returned before any change"
failed_at = time.monotonic()
assert put("/v1/agent/check/fail/service:web-1", note="down")
t.join(25)
result["took"] = result["at"] - failed_at
new_index, after = result["r"]
assert int(new_index) > int(index), (index, new_index)
assert result["took"] < 10, result["took"]
assert any(ch["CheckID"] == "service:web-1" and ch["Status"] == "critical" for ch in after[0]["Checks"]), after
ok("a blocking health.service(index=...) returned %.1f s after the check failed, with a larger index" % result["took"])
_, passing = c.health.service("web", passing=True)
assert passing == [], passing
ok("health.service(passing=True) is empty with the check critical")

assert c.kv.put("weft/test", "hello")
_, item = c.kv.get("weft/test")
assert item["Value"] == b"hello", item
ok("kv.put and kv.get")
assert put("/v1/agent/service/deregister/web-1")
until("catalog drops web", lambda: "web" not in c.catalog.services()[1])
ok("PUT /v1/agent/service/deregister: web leaves the catalog")
