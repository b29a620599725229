#!/usr/bin/env bash
# Services from the node's config files (issue 5 item 1): a Consul-shaped "service" object and a
# "services" array in a -config file, snake_case members as Consul's files spell them, are
# registered at start with their checks and answered by DNS; they are not written to
# services.json (the file holds them), so one removed from the file is gone after a restart while
# an API registration stays; an API registration of a config service's ID takes it over; a bad
# definition or two definitions of one ID stop the agent with an error naming the file and the
# definition.
source "$(dirname "$0")/lib.sh"

CONF=$WORK/conf
mkdir -p "$CONF"
cat >"$CONF/web.json" <<'JSON'
{"service": {"name": "web", "id": "web-1", "port": 8080, "tags": ["v1"], "meta": {"my_key": "x"},
             "check": {"check_id": "web-ttl", "ttl": "30s", "status": "passing"}}}
JSON
cat >"$CONF/more.json" <<'JSON'
{"services": [{"name": "db", "port": 5432, "enable_tag_override": false,
               "checks": [{"tcp": "127.0.0.1:9", "interval": "10s", "failures_before_critical": 0}]},
              {"name": "cache", "id": "cache-1", "port": 6379}]}
JSON
DNS_PORT=$(free_port)
start_dev cfg -node_name=cfgtest -config="$CONF" -dns.enabled -ports.dns="$DNS_PORT" || { fail "agent dev starts with service files"; finish; }
URL=http://127.0.0.1:$PORT

ids() { curl -fsS "$URL/v1/agent/services" | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin))))'; }
check "the three config services are registered ($(ids))" test "$(ids)" = "cache-1 db web-1"
svc=$(curl -fsS "$URL/v1/agent/service/web-1")
check "web-1 has its tags, port and meta ($svc)" python3 -c '
import json,sys; s=json.loads(sys.argv[1]); assert s["Tags"]==["v1"] and s["Port"]==8080 and s["Meta"]=={"my_key":"x"}, s' "$svc"
checks=$(curl -fsS "$URL/v1/agent/checks")
check "check_id and status from snake_case members: web-ttl passing" python3 -c '
import json,sys; c=json.loads(sys.argv[1]); assert c["web-ttl"]["Status"]=="passing" and c["web-ttl"]["ServiceID"]=="web-1", c' "$checks"
check "db's TCP check is there" python3 -c 'import json,sys; c=json.loads(sys.argv[1]); assert c["service:db"]["Type"]=="tcp", c' "$checks"
a=$("$AGENTCTL" -socket "$SOCK" dns web.service.weft A 2>&1)
check "DNS answers web.service.weft ($(echo "$a" | tail -1))" grep -Eq "IN +A +127.0.0.1" <<<"$a"
check "services.json is not written for config services" test ! -e "$DATA/services.json"
# Exec checks are off unless the operator turns them on.
code=$(curl -s -o "$WORK/exec.body" -w '%{http_code}' -X PUT \
  --data '{"Name": "job", "Check": {"Args": ["/bin/true"], "Interval": "10s"}}' "$URL/v1/agent/service/register")
check "an Args check is refused without enable_exec_checks ($code: $(cat "$WORK/exec.body"))" \
  bash -c '[ "$1" = 400 ] && grep -q "enable_exec_checks" "$2"' _ "$code" "$WORK/exec.body"

# An API registration is kept in services.json; the config services are still not.
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data '{"Name": "api", "Port": 9000}' "$URL/v1/agent/service/register")
check "an API registration is accepted ($code)" test "$code" = 200
file_ids() { python3 -c 'import json,sys; print(" ".join(sorted(s["ID"] for s in json.load(open(sys.argv[1])))))' "$DATA/services.json"; }
check "services.json holds only the API one ($(file_ids))" test "$(file_ids)" = "api"
# An API registration of cache-1 takes it over: written to the file.
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data '{"ID": "cache-1", "Name": "cache", "Port": 6380}' "$URL/v1/agent/service/register")
check "registering cache-1 through the API is accepted ($code)" test "$code" = 200
check "services.json now holds api and cache-1 ($(file_ids))" test "$(file_ids)" = "api cache-1"

restart() {
  kill "$PID"
  wait "$PID" 2>/dev/null
  "$AGENT" dev -node_name=cfgtest -config="$CONF" -ports.http="$PORT" -ports.gossip="$GOSSIP_PORT" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" \
    -data_dir="$DATA" -socket_path="$SOCK" "$@" >>"$LOG" 2>&1 &
  PID=$!
  PIDS+=("$PID")
}

# db removed from the files: gone after a restart; web-1, api and cache-1 stay, cache-1 as the
# config file defines it (registered after services.json is read, so the file's definition wins).
cat >"$CONF/more.json" <<'JSON'
{"services": [{"name": "cache", "id": "cache-1", "port": 6379}]}
JSON
restart -enable_exec_checks
wait_for 10 curl -fsS "$URL/v1/agent/health" >/dev/null || fail "the agent comes back"
check "after a restart without db: api cache-1 web-1 ($(ids))" test "$(ids)" = "api cache-1 web-1"
# With -enable_exec_checks the agent runs them: exit 1 is warning, with the program's output.
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
  --data '{"Name": "job", "Check": {"CheckID": "job-exec", "Args": ["/bin/sh", "-c", "echo disk 91%; exit 1"], "Interval": "10s"}}' \
  "$URL/v1/agent/service/register")
check "with -enable_exec_checks an Args check is accepted ($code)" test "$code" = 200
exec_warning() {
  curl -fsS "$URL/v1/agent/checks" | python3 -c '
import json,sys; c=json.load(sys.stdin)["job-exec"]; sys.exit(not (c["Status"]=="warning" and c["Output"]=="disk 91%\n" and c["Type"]=="script"))'
}
check "it runs: exit 1 -> warning, its output kept, Type script" wait_for 5 exec_warning
curl -fsS -o /dev/null -X PUT "$URL/v1/agent/service/deregister/job"
port=$(curl -fsS "$URL/v1/agent/service/cache-1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Port"])')
check "the config file's cache-1 is registered over services.json's (port $port)" test "$port" = 6379

# Bad definitions: the agent does not start and says where.
refused() {  # refused <file text> <expected text in the error>
  printf '%s\n' "$1" >"$CONF/bad.json"
  local out
  out=$(timeout 20 "$AGENT" dev -node_name=cfgtest -config="$CONF" -ports.http="$(free_port)" -ports.gossip="$(free_port)" -ports.rpc="$(free_port)" -ports.dns="$(free_port)" \
    -data_dir="$WORK/bad" 2>&1; echo "exit $?")
  rm -f "$CONF/bad.json"
  echo "$out" | grep -q "$2" && ! echo "$out" | grep -q "exit 0"
}
kill "$PID"
wait "$PID" 2>/dev/null
check "a definition with a bad name is refused naming the file and entry" \
  refused '{"services": [{"name": "ok"}, {"name": "no spaces"}]}' 'bad.json: services\[1\]: .*Name'
check "a check of an unknown kind is refused" refused '{"service": {"name": "x", "check": {"grpc": "127.0.0.1:1", "interval": "10s"}}}' 'bad.json: service: .*GRPC\|bad.json: service: .*grpc'
check "two definitions of one ID are refused naming both" refused '{"service": {"name": "web", "id": "web-1"}}' 'service ID "web-1" is also'
check "\"services\" must be an array" refused '{"services": {"name": "x"}}' 'want an array of service definitions'
check "a service entry must be an object" refused '{"services": ["web"]}' 'services\[0\]: want a service definition'
finish
