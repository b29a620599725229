#!/usr/bin/env bash
# Proves a malformed configuration -- from a file, the kernel command line, the environment or a
# flag -- makes the agent exit with status 2, print an error naming the key and where it came
# from, and start nothing (no socket, no listening port). Then proves a good config starts.
source "$(dirname "$0")/lib.sh"

# expect_exit2 <description> <expected text> <command...>
expect_exit2() {
  local what=$1 want=$2
  shift 2
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq 2 ] && grep -qF -- "$want" <<<"$out"; then
    ok "$what (exit 2, says: $(grep -F -- "$want" <<<"$out" | head -n 1))"
  else
    fail "$what: exit $rc, output: $out"
  fi
}

port=$(free_port)
data=$WORK/data
mkdir -p "$data" "$WORK/etc" "$WORK/empty"
common=(-data_dir="$data" -socket_path="$data/agent.sock" -ports.http="$port" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" -bind_addr=127.0.0.1)

echo '{"ports": {"htp": 7700}}' >"$WORK/etc/10-typo.json"
expect_exit2 "unknown key in a JSON file names key and file" "$WORK/etc/10-typo.json" \
  "$AGENT" -config "$WORK/etc/10-typo.json" "${common[@]}"
expect_exit2 "unknown key suggests the right one" "ports.http" \
  "$AGENT" -config "$WORK/etc/10-typo.json" "${common[@]}"

# (A key no flag below sets: a later source setting the key replaces a refused value.)
echo '{"datacenter": 80}' >"$WORK/etc/20-type.json"
expect_exit2 "wrong type in a JSON file names key and file" "datacenter" \
  "$AGENT" -config "$WORK/etc/20-type.json" "${common[@]}"

echo '{"ports": {"http": 80' >"$WORK/etc/30-broken.json"
expect_exit2 "broken JSON names the file" "30-broken.json" \
  "$AGENT" -config "$WORK/etc/30-broken.json" "${common[@]}"

expect_exit2 "bad flag value names the flag" "log_level" \
  "$AGENT" -config "$WORK/empty" -log_level=loud "${common[@]}"
expect_exit2 "unknown flag names the flag" "-no_such_key" \
  "$AGENT" -config "$WORK/empty" -no_such_key=1 "${common[@]}"
expect_exit2 "bad environment variable names the variable" "AGENT_PORTS_HTTP" \
  env AGENT_PORTS_HTTP=notaport "$AGENT" dev -config "$WORK/empty" "${common[@]:0:2}"
expect_exit2 "bad kernel command line key names the source" "kernel command line" \
  "$AGENT" dev -config "$WORK/empty" -cmdline="quiet agent.ports.http=99999" "${common[@]:0:2}"

check "nothing was started: no socket file" test ! -e "$data/agent.sock"
if curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/agent/health" 2>/dev/null; then
  fail "nothing was started: port $port answers"
else
  ok "nothing was started: port $port is closed"
fi

# Precedence: file < kernel command line < environment < flags.
echo '{"node_name": "from-file", "datacenter": "dc-file", "log_level": "warn", "labels": {"rack": "r1"}}' >"$WORK/etc/40-good.json"
AGENT_DATACENTER=dc-env "$AGENT" -config "$WORK/etc/40-good.json" -cmdline="agent.node_name=from-cmdline agent.datacenter=dc-cmdline" \
  -node_name=from-flag "${common[@]}" >"$WORK/good.log" 2>&1 &
PIDS+=("$!")
if wait_for 10 curl -fsS "http://127.0.0.1:$port/v1/agent/self"; then
  self=$(curl -fsS "http://127.0.0.1:$port/v1/agent/self")
  check "flag beats kernel command line and file (node_name)" grep -q '"from-flag"' <<<"$self"
  check "environment beats kernel command line (datacenter)" grep -q '"dc-env"' <<<"$self"
  check "file value kept where nothing overrides it (labels.rack)" grep -q '"r1"' <<<"$self"
else
  fail "a good config starts the agent"
  cat "$WORK/good.log"
fi
finish
