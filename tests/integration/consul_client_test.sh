#!/usr/bin/env bash
# Consul's API as a real client uses it: Debian's python3-consul (python-consul 0.7) against an
# agent dev -- registration with a TTL check, the TTL endpoints, catalog.services(),
# health.service(passing=True), a blocking health query woken by a failing check and not before,
# KV put/get, deregistration (tests/integration/tools/consul_client.py).
source "$(dirname "$0")/lib.sh"

# Debian's interpreter: python3-consul is installed for it (tools/deps), not for any other python3.
PY=/usr/bin/python3
$PY -c 'import consul' 2>/dev/null || { fail "python3-consul is installed (tools/deps)"; finish; }
start_dev pyc -node_name=pyctest || { fail "agent dev starts"; finish; }
out=$($PY "$(dirname "$0")/tools/consul_client.py" "$PORT" pyctest 2>&1)
rc=$?
echo "$out"
check "python-consul drove registration, health, a blocking query and KV (exit $rc)" test "$rc" = 0
finish
