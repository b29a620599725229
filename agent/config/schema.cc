// The key table. Rows are built by small helpers (key_int, key_string, ...) whose setter
// argument is typed, so a row cannot store an integer into a string field by mistake.
#include "agent/config/schema.h"

#include <algorithm>
#include <cstdio>

#include "agent/base/assert.h"
#include "agent/config/config.h"
#include "agent/config/parse.h"
#include "hal/net.h"

namespace config {
namespace {

constexpr int64_t kNsPerSec = 1000LL * 1000 * 1000;

constexpr std::string_view kLogLevels[] = {"debug", "info", "warn", "error"};
constexpr std::string_view kRoles[] = {"foundation", "director", "worker"};
constexpr std::string_view kGossipProfiles[] = {"lan", "wan", "local", "fast"};

struct Doc {
  std::string_view name;
  std::string_view default_text;
  std::string_view unit;
  std::string_view description;
};

KeySpec base_spec(KeyType type, const Doc& d, void (*store)(Config&, const Value&)) {
  KeySpec s;
  s.name = d.name;
  s.type = type;
  s.default_text = d.default_text;
  s.unit = d.unit;
  s.description = d.description;
  s.store = store;
  return s;
}

KeySpec key_string(const Doc& d, size_t chars_max, void (*store)(Config&, const Value&)) {
  KeySpec s = base_spec(KeyType::kString, d, store);
  s.int_max = static_cast<int64_t>(chars_max);
  return s;
}
KeySpec key_bool(const Doc& d, void (*store)(Config&, const Value&)) {
  return base_spec(KeyType::kBool, d, store);
}
KeySpec key_int(const Doc& d, int64_t min, int64_t max, void (*store)(Config&, const Value&)) {
  KeySpec s = base_spec(KeyType::kInt, d, store);
  s.int_min = min;
  s.int_max = max;
  return s;
}
KeySpec key_bytes(const Doc& d, int64_t min, int64_t max, void (*store)(Config&, const Value&)) {
  KeySpec s = base_spec(KeyType::kBytes, d, store);
  s.int_min = min;
  s.int_max = max;
  return s;
}
KeySpec key_duration(const Doc& d, int64_t min_ns, int64_t max_ns,
                     void (*store)(Config&, const Value&)) {
  KeySpec s = base_spec(KeyType::kDuration, d, store);
  s.int_min = min_ns;
  s.int_max = max_ns;
  return s;
}
KeySpec key_enum(const Doc& d, std::span<const std::string_view> choices,
                 void (*store)(Config&, const Value&)) {
  KeySpec s = base_spec(KeyType::kEnum, d, store);
  s.choices = choices;
  return s;
}
KeySpec key_ip(const Doc& d, void (*store)(Config&, const Value&)) {
  return base_spec(KeyType::kIp, d, store);
}
KeySpec key_list(const Doc& d, KeyType item, size_t items_max,
                 void (*store)(Config&, const Value&)) {
  KeySpec s = base_spec(KeyType::kList, d, store);
  s.item = item;
  s.items_max = items_max;
  s.int_max = 255;  // longest item
  return s;
}
KeySpec key_map(const Doc& d, size_t items_max, void (*store)(Config&, const Value&)) {
  KeySpec s = base_spec(KeyType::kMap, d, store);
  s.items_max = items_max;
  s.int_max = 255;  // longest value
  return s;
}
KeySpec with_choices(KeySpec s, std::span<const std::string_view> choices) {
  s.choices = choices;
  return s;
}
KeySpec with_alias(KeySpec s, std::string_view alias) {
  s.alias = alias;
  return s;
}
KeySpec as_secret(KeySpec s) {
  s.secret = true;
  return s;
}

KeySpec with_check(KeySpec s, bool (*check)(const Value&, std::string*)) {
  s.check = check;
  return s;
}

bool check_label(const Value& v, std::string* why) {
  if (is_dns_label(v.s)) return true;
  *why = "want a DNS label (letters, digits and '-', at most 63), got " + quote(v.s);
  return false;
}
bool check_domain(const Value& v, std::string* why) {
  if (is_dns_name(v.s)) return true;
  *why = "want a DNS name, got " + quote(v.s);
  return false;
}
bool check_not_empty(const Value& v, std::string* why) {
  if (!v.s.empty()) return true;
  *why = "must not be empty";
  return false;
}
bool check_gossip_key(const Value& v, std::string* why) {
  size_t bytes = 0;
  if (v.s.empty() || (base64_decoded_bytes(v.s, &bytes) && bytes == 32)) return true;
  // The value is a secret: do not echo it.
  *why = "want base64 of a 32-byte key (agentctl keygen makes one)";
  return false;
}
bool check_advertise(const Value& v, std::string* why) {
  if (v.s != "0.0.0.0" && v.s != "::") return true;
  *why = "want an address other nodes can reach, got the unspecified address " + quote(v.s);
  return false;
}

// dns.recursors: literal addresses only (the agent resolves no names to find its resolver), with
// an optional port that is not 0.
bool check_recursors(const Value& v, std::string* why) {
  for (const std::string& item : v.list) {
    base::Result<hal::SockAddr> a = hal::SockAddr::parse(item, 53);
    if (!a.is_ok() || a->family == hal::AddrFamily::kUnix || a->port == 0) {
      *why = "want IP[:port] (an IPv6 address with a port in brackets), got " + quote(item) + ": " +
             (a.is_ok() ? std::string(a->port == 0 ? "port 0" : "not an IP address") : a.status().message());
      return false;
    }
  }
  return true;
}
bool check_networks(const Value& v, std::string* why) {
  for (const std::string& item : v.list) {
    base::Result<hal::IpNetwork> n = hal::IpNetwork::parse(item);
    if (!n.is_ok()) {
      *why = "want networks in CIDR form (like 10.0.0.0/8 or fd00::/8): " + n.status().message();
      return false;
    }
  }
  return true;
}

uint16_t port(const Value& v) { return static_cast<uint16_t>(v.i); }

std::vector<KeySpec> build_table() {
  std::vector<KeySpec> t;
  // clang-format off
  t.push_back(with_check(key_string({"node_name", "", "", "this node's name in the fleet, a DNS label (default: the hostname)"}, 63,
      [](Config& c, const Value& v) { c.node_name = v.s; }), check_label));
  t.push_back(with_check(key_string({"datacenter", "dc1", "", "the datacenter this node belongs to, a DNS label"}, 63,
      [](Config& c, const Value& v) { c.datacenter = v.s; }), check_label));
  t.push_back(with_check(key_string({"data_dir", "/var/lib/agent", "path", "where the agent keeps its state (dev: a temporary directory)"}, 4096,
      [](Config& c, const Value& v) { c.data_dir = v.s; }), check_not_empty));
  t.push_back(key_enum({"log_level", "info", "", "least severe log level printed (dev: debug)"}, kLogLevels,
      [](Config& c, const Value& v) {
        bool known = base::parse_log_level(v.s, &c.log_level);
        AGENT_ASSERT(known);  // the enum check admits only names parse_log_level knows
      }));
  t.push_back(key_bool({"server", "false", "", "run in server mode: consensus and the state store (dev: true)"},
      [](Config& c, const Value& v) { c.server = v.b; }));
  t.push_back(key_int({"bootstrap_expect", "0", "servers", "servers to wait for before the first election; needs server (dev: 1)"}, 0, 7,
      [](Config& c, const Value& v) { c.bootstrap_expect = static_cast<int32_t>(v.i); }));
  t.push_back(with_alias(with_choices(key_list({"roles", "", "", "this node's roles (default: foundation with server, else worker)"}, KeyType::kEnum, 3,
      [](Config& c, const Value& v) { c.roles = v.list; }), kRoles), "role"));
  t.push_back(key_map({"labels", "", "", "key=value labels that jobs select on"}, 64,
      [](Config& c, const Value& v) { c.labels = v.map; }));
  t.push_back(key_ip({"bind_addr", "0.0.0.0", "IP", "address the gossip and RPC listeners bind (dev: 127.0.0.1)"},
      [](Config& c, const Value& v) { c.bind_addr = v.s; }));
  t.push_back(with_check(key_ip({"advertise_addr", "", "IP", "address other nodes reach this one at (default: picked from the interfaces)"},
      [](Config& c, const Value& v) { c.advertise_addr = v.s; }), check_advertise));
  t.push_back(key_ip({"client_addr", "127.0.0.1", "IP", "address the HTTP API and DNS listen on"},
      [](Config& c, const Value& v) { c.client_addr = v.s; }));
  // The ports are DESIGN.md's defaults: one block, 7700-7702, for a fleet's firewall rules.
  t.push_back(key_int({"ports.http", "7700", "port", "TCP port of the HTTP API, UI and PXE files"}, 1, 65535,
      [](Config& c, const Value& v) { c.ports.http = port(v); }));
  t.push_back(key_int({"ports.rpc", "7701", "port", "TCP port of RPC between agents and foundations"}, 1, 65535,
      [](Config& c, const Value& v) { c.ports.rpc = port(v); }));
  t.push_back(key_int({"ports.gossip", "7702", "port", "UDP and TCP port of gossip"}, 1, 65535,
      [](Config& c, const Value& v) { c.ports.gossip = port(v); }));
  t.push_back(key_int({"ports.dns", "53", "port", "UDP and TCP port of the DNS server (dev: 8600)"}, 1, 65535,
      [](Config& c, const Value& v) { c.ports.dns = port(v); }));
  t.push_back(with_check(key_string({"domain", "weft", "", "DNS domain the agent answers for"}, 253,
      [](Config& c, const Value& v) { c.domain = v.s; }), check_domain));
  // 107: the longest path a Unix socket address holds (sun_path is 108 bytes with the NUL).
  t.push_back(with_check(key_string({"socket_path", "", "path", "agentctl's local socket (default: <data_dir>/agent.sock)"}, 107,
      [](Config& c, const Value& v) { c.socket_path = v.s; }), check_not_empty));
  t.push_back(key_list({"join", "", "", "host[:port] of nodes to join at start; failing is an error"}, KeyType::kAddress, 64,
      [](Config& c, const Value& v) { c.join = v.list; }));
  t.push_back(key_list({"retry_join", "", "", "host[:port] of nodes to join at start, retried until one answers"}, KeyType::kAddress, 64,
      [](Config& c, const Value& v) { c.retry_join = v.list; }));
  t.push_back(with_check(as_secret(key_string({"encrypt", "", "", "gossip key, base64 of 32 bytes (agentctl keygen); empty: unencrypted"}, 64,
      [](Config& c, const Value& v) { c.encrypt = v.s; })), check_gossip_key));
  // 1 MiB holds any API request body a Consul client sends (KV values are capped at 512 KiB).
  t.push_back(key_bytes({"http.body_bytes_max", "1MiB", "bytes", "largest HTTP request body accepted"}, 1 << 10, 64LL << 20,
      [](Config& c, const Value& v) { c.http.body_bytes_max = static_cast<uint64_t>(v.i); }));
  // 256: a node's API serves its local tools, a few proxies and consul-template watchers, each
  // with a handful of blocking queries; more means a leak or an attack.
  t.push_back(key_int({"http.connections_max", "256", "connections", "most HTTP connections open at once"}, 1, 65536,
      [](Config& c, const Value& v) { c.http.connections_max = static_cast<uint32_t>(v.i); }));
  // 60s: a blocking query in flight is not idle, so this closes only unused keep-alive
  // connections; it matches common proxies' keep-alive.
  t.push_back(key_duration({"http.idle_timeout", "60s", "duration", "close a keep-alive HTTP connection idle this long"}, kNsPerSec, 3600 * kNsPerSec,
      [](Config& c, const Value& v) { c.http.idle_timeout = base::Duration::nanos(v.i); }));
  // 10s: a real client sends its headers at once; a slow one is holding a connection slot.
  t.push_back(key_duration({"http.header_timeout", "10s", "duration", "close an HTTP connection whose request headers take longer"}, kNsPerSec, 600 * kNsPerSec,
      [](Config& c, const Value& v) { c.http.header_timeout = base::Duration::nanos(v.i); }));
  t.push_back(key_int({"raft.snapshot_threshold", "16384", "entries", "server: snapshot the state after this many applied entries"}, 16, 1LL << 30,
      [](Config& c, const Value& v) { c.raft.snapshot_threshold = v.i; }));
  t.push_back(key_int({"raft.trailing_logs", "1024", "entries", "server: log entries kept below a snapshot for lagging followers"}, 0, 1LL << 30,
      [](Config& c, const Value& v) { c.raft.trailing_logs = v.i; }));
  t.push_back(key_bool({"autopilot.cleanup_dead_servers", "true", "", "server: remove voters that gossip reports failed (after dead_server_grace) or left"},
      [](Config& c, const Value& v) { c.autopilot.cleanup_dead_servers = v.b; }));
  t.push_back(key_duration({"autopilot.server_stabilization_time", "10s", "duration", "server: a caught-up non-voter is promoted once it was healthy this long"}, 0, 3600 * kNsPerSec,
      [](Config& c, const Value& v) { c.autopilot.server_stabilization_time = base::Duration::nanos(v.i); }));
  t.push_back(key_duration({"autopilot.dead_server_grace", "30s", "duration", "server: a voter failed in gossip this long is removed (cleanup_dead_servers)"}, kNsPerSec / 10, 24 * 3600 * kNsPerSec,
      [](Config& c, const Value& v) { c.autopilot.dead_server_grace = base::Duration::nanos(v.i); }));
  t.push_back(key_string({"tls.ca_file", "", "path", "PEM file of the cluster CA that RPC peers must chain to (dev: made under data_dir)"}, 4096,
      [](Config& c, const Value& v) { c.tls.ca_file = v.s; }));
  t.push_back(key_string({"tls.cert_file", "", "path", "PEM file of this node's RPC certificate (server.<dc>.<domain> on servers)"}, 4096,
      [](Config& c, const Value& v) { c.tls.cert_file = v.s; }));
  t.push_back(key_string({"tls.key_file", "", "path", "PEM file of the private key of tls.cert_file"}, 4096,
      [](Config& c, const Value& v) { c.tls.key_file = v.s; }));
  t.push_back(key_enum({"gossip.profile", "lan", "", "gossip timing: lan, wan or local as memberlist defines them, or fast (one switch, small fleet; dev: local)"}, kGossipProfiles,
      [](Config& c, const Value& v) { c.gossip.profile = v.s; }));
  t.push_back(key_string({"gossip.label", "", "", "cluster label bound into every gossip packet (default: the datacenter)"}, 63,
      [](Config& c, const Value& v) { c.gossip.label = v.s; }));
  // 24h: Serf's reconnect_timeout; long enough that a node down for a night is still known (and
  // its name not reused by accident), short enough that a fleet's table does not grow forever.
  t.push_back(key_duration({"gossip.reap_after", "24h", "duration", "forget dead and left members after this long"}, kNsPerSec, 30LL * 24 * 3600 * kNsPerSec,
      [](Config& c, const Value& v) { c.gossip.reap_after = base::Duration::nanos(v.i); }));
  // 30s: Consul's retry_interval.
  t.push_back(key_duration({"gossip.rejoin_interval", "30s", "duration", "retry join addresses this often while none is a live member"}, kNsPerSec, 3600 * kNsPerSec,
      [](Config& c, const Value& v) { c.gossip.rejoin_interval = base::Duration::nanos(v.i); }));
  // 256 KiB holds a few thousand recent lines: enough for `agentctl logs` after an incident,
  // small beside the agent's footprint.
  t.push_back(key_bytes({"log.ring_bytes_max", "256KiB", "bytes", "recent log lines kept in memory for agentctl logs"}, 4 << 10, 64LL << 20,
      [](Config& c, const Value& v) { c.log.ring_bytes_max = static_cast<uint64_t>(v.i); }));
  t.push_back(key_string({"jobs_dir", "", "path", "a directory of job files (*.json) this node runs with no foundation needed"}, 4096,
      [](Config& c, const Value& v) { c.jobs_dir = v.s; }));
  t.push_back(key_string({"boot.dir", "", "path", "serve PXE boot files from this directory on the API port: <profile>/vmlinuz and initramfs.gz, macs/<aa-bb-..> naming a MAC's profile"}, 4096,
      [](Config& c, const Value& v) { c.boot.dir = v.s; }));
  t.push_back(key_string({"boot.default_profile", "worker", "name", "the profile a MAC with no macs/ file boots"}, 32,
      [](Config& c, const Value& v) { c.boot.default_profile = v.s; }));
  t.push_back(key_bool({"enable_exec_checks", "false", "", "allow health checks that run commands on this node"},
      [](Config& c, const Value& v) { c.enable_exec_checks = v.b; }));
  // On by default, as in Consul: every node answers its workloads' lookups locally.
  t.push_back(key_bool({"dns.enabled", "true", "", "answer DNS for the domain on client_addr:ports.dns (false: no DNS server)"},
      [](Config& c, const Value& v) { c.dns_enabled = v.b; }));
  // 8: resolv.conf takes 3; more upstreams than this only lengthens the worst case (each is
  // tried once, recursor_timeout apart) without making an answer likelier.
  t.push_back(with_check(key_list({"dns.recursors", "", "", "upstream resolvers (IP or IP:port, port 53 by default) for names outside the domain, tried in order"}, KeyType::kString, 8,
      [](Config& c, const Value& v) { c.dns.recursors = v.list; }), check_recursors));
  // Loopback only by default: forwarding for any client that can reach the port would make every
  // agent an open resolver, a reflection amplifier (RFC 5358).
  t.push_back(with_check(key_list({"dns.recursion_networks", "127.0.0.0/8,::1/128", "", "clients (CIDR networks) whose names outside the domain are forwarded; others get REFUSED"}, KeyType::kString, 64,
      [](Config& c, const Value& v) { c.dns.recursion_networks = v.list; }), check_networks));
  // 2s: Consul's dns_config.recursor_timeout; a resolver that has not answered a stub by then is
  // chasing a slow authority, and the next recursor (or SERVFAIL) serves the client better.
  t.push_back(key_duration({"dns.recursor_timeout", "2s", "duration", "wait this long for a recursor before trying the next (then SERVFAIL)"}, 100 * kNsPerSec / 1000, 30 * kNsPerSec,
      [](Config& c, const Value& v) { c.dns.recursor_timeout = base::Duration::nanos(v.i); }));
  t.push_back(key_duration({"dns.service_ttl", "0s", "duration", "TTL of <svc>.service answers (whole seconds; 0: not cached)"}, 0, 86400 * kNsPerSec,
      [](Config& c, const Value& v) { c.dns.service_ttl = base::Duration::nanos(v.i); }));
  t.push_back(key_duration({"dns.node_ttl", "0s", "duration", "TTL of <node>.node and PTR answers (whole seconds)"}, 0, 86400 * kNsPerSec,
      [](Config& c, const Value& v) { c.dns.node_ttl = base::Duration::nanos(v.i); }));
  t.push_back(key_duration({"dns.soa_min_ttl", "0s", "duration", "SOA minimum: how long resolvers cache NXDOMAIN and NODATA (RFC 2308)"}, 0, 86400 * kNsPerSec,
      [](Config& c, const Value& v) { c.dns.soa_min_ttl = base::Duration::nanos(v.i); }));
  // 256: the responder samples at most 256 matching instances before it shuffles.
  t.push_back(key_int({"dns.answers_max", "64", "records", "records in one answer at most (a random sample when more match)"}, 1, 256,
      [](Config& c, const Value& v) { c.dns.answers_max = static_cast<int32_t>(v.i); }));
  t.push_back(key_bool({"dev", "false", "", "development mode: one local server, temporary data, DNS on 8600"},
      [](Config& c, const Value& v) { c.dev = v.b; }));
  // clang-format on
  return t;
}

struct Tables {
  std::vector<KeySpec> keys;
  std::vector<std::string_view> names;  // keys and aliases
  std::vector<std::string> env;         // env_name() of keys[i]
};

const Tables& tables() {
  static const Tables t = [] {
    Tables t;
    t.keys = build_table();
    for (const KeySpec& k : t.keys) {
      AGENT_ASSERT(k.store != nullptr);
      t.names.push_back(k.name);
      if (!k.alias.empty()) t.names.push_back(k.alias);
      std::string e = env_name(k.name);
      // The environment mapping must be unambiguous, and must not swallow agentctl's variables.
      for (const std::string& other : t.env) AGENT_ASSERT_MSG(other != e, e.c_str());
      for (std::string_view other : kEnvNotConfig) AGENT_ASSERT_MSG(other != e, e.c_str());
      t.env.push_back(std::move(e));
    }
    for (size_t i = 0; i < t.names.size(); ++i) {
      for (size_t j = i + 1; j < t.names.size(); ++j) AGENT_ASSERT(t.names[i] != t.names[j]);
    }
    return t;
  }();
  return t;
}

}  // namespace

std::span<const KeySpec> schema() { return tables().keys; }

std::span<const std::string_view> key_names() { return tables().names; }

const KeySpec* find_key(std::string_view name) {
  for (const KeySpec& k : tables().keys) {
    if (k.name == name || (!k.alias.empty() && k.alias == name)) return &k;
  }
  return nullptr;
}

const KeySpec* find_map_entry(std::string_view name, std::string* entry) {
  size_t dot = name.find('.');
  while (dot != std::string_view::npos) {
    const KeySpec* k = find_key(name.substr(0, dot));
    if (k != nullptr && k->type == KeyType::kMap) {
      *entry = std::string(name.substr(dot + 1));
      return k;
    }
    dot = name.find('.', dot + 1);
  }
  return nullptr;
}

bool is_group(std::string_view prefix) {
  for (const KeySpec& k : tables().keys) {
    if (k.name.size() > prefix.size() && k.name.substr(0, prefix.size()) == prefix &&
        k.name[prefix.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::string env_name(std::string_view key) {
  std::string out = "AGENT_";
  for (char c : key) {
    if (c == '.')
      out += '_';
    else if (c >= 'a' && c <= 'z')
      out += static_cast<char>(c - 'a' + 'A');
    else
      out += c;
  }
  return out;
}

const KeySpec* find_env(std::string_view var) {
  const Tables& t = tables();
  for (size_t i = 0; i < t.keys.size(); ++i) {
    if (t.env[i] == var) return &t.keys[i];
  }
  return nullptr;
}

size_t edit_distance(std::string_view a, std::string_view b, size_t limit) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit) return limit + 1;
  if (a.size() > 256 || b.size() > 256) return limit + 1;  // names are short; bound the work
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    size_t row_min = cur[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return std::min(prev[b.size()], limit + 1);
}

std::string_view closest(std::string_view typo, std::span<const std::string_view> candidates) {
  size_t limit = std::max<size_t>(2, typo.size() / 3);
  std::string_view best;
  size_t best_d = limit + 1;
  for (std::string_view c : candidates) {
    size_t d = edit_distance(typo, c, limit);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string describe_type(const KeySpec& spec) {
  char buf[96];
  switch (spec.type) {
    case KeyType::kString:
      std::snprintf(buf, sizeof buf, "a string of at most %lld characters",
                    static_cast<long long>(spec.int_max));
      return buf;
    case KeyType::kBool:
      return "a boolean (true or false)";
    case KeyType::kInt:
      std::snprintf(buf, sizeof buf, "an integer %lld..%lld", static_cast<long long>(spec.int_min),
                    static_cast<long long>(spec.int_max));
      return buf;
    case KeyType::kBytes:
      return "a byte size " + format_bytes(spec.int_min) + ".." + format_bytes(spec.int_max) +
             " (like 1048576 or \"1MiB\")";
    case KeyType::kDuration:
      return "a duration " + format_duration(spec.int_min) + ".." + format_duration(spec.int_max) +
             " (like \"500ms\", \"10s\", \"1m\")";
    case KeyType::kEnum:
    case KeyType::kList:
      if (spec.type == KeyType::kEnum || spec.item == KeyType::kEnum) {
        std::string out = spec.type == KeyType::kList ? "a list of " : "one of ";
        for (size_t i = 0; i < spec.choices.size(); ++i) {
          if (i > 0) out += '|';
          out += spec.choices[i];
        }
        return out;
      }
      if (spec.item == KeyType::kAddress) return "a list of host[:port] addresses";
      return "a list of strings";
    case KeyType::kIp:
      return "an IPv4 or IPv6 address";
    case KeyType::kAddress:
      return "a host[:port] address";
    case KeyType::kMap:
      return "an object of string values (key=value pairs)";
  }
  return "?";
}

std::string help_text() {
  std::string out;
  for (const KeySpec& k : schema()) {
    std::string line = "  -" + std::string(k.name);
    if (line.size() < 26) line.append(26 - line.size(), ' ');
    line += ' ';
    line += k.description;
    if (!k.default_text.empty()) {
      line += " [";
      line += k.default_text;
      line += ']';
    }
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace config
