// The agent's configuration: the typed result, and load(), which builds it from every source.
//
// Sources, lowest precedence first; a later source overrides an earlier one key by key:
//   1. JSON files: the -config paths given as flags, or else LoadInputs::config_paths (default
//      /etc/agent). A directory means its *.json files in bytewise-sorted order; files are read
//      in the order given, a later file overriding an earlier one.
//   2. The kernel command line: `agent.<key>=<value>` tokens ("agent.ports.http=8000").
//   3. The environment: AGENT_<KEY> with the key upper-cased and dots turned into underscores
//      (AGENT_PORTS_HTTP, AGENT_HTTP_BODY_BYTES_MAX). Unknown AGENT_* variables are errors,
//      except the few that agentctl reads (kEnvNotConfig).
//   4. Flags: -key=value, -key value, --key=value, -flag / -flag=false for booleans.
// A list (join, roles) set by a later source replaces the earlier list, except that repeated
// flags append to one another. A map (labels) merges entry by entry: "agent.labels.rack=r12"
// changes only that label. See sources.h for each source's exact syntax.
//
// Every problem -- a JSON syntax error, an unknown key (with a "did you mean" hint), a wrong
// type, a value out of range, a failed cross-field check -- is collected, and load() returns
// them all in one kInvalidArgument Status, one line each, every line naming the key and where
// the value came from. The agent prints that message and exits with status 2, starting nothing.
//
// Threading: load() is a plain function; a Config is a plain value, copied freely.
// Not here: reloading on SIGHUP, watching files, service and check definitions (catalog/).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/config/schema.h"
#include "agent/config/sources.h"
#include "hal/fs.h"

struct cJSON;

namespace config {

// One key's value in effect and where it came from, for `agent config show` and
// /v1/agent/self. `value` is in operator syntax ("10s", "worker,director", "rack=r12");
// secret keys read "<hidden>". `origin` is "default", "dev default", "hostname",
// "/etc/agent/10-node.json: ports.http", "kernel command line: agent.ports.http",
// "environment AGENT_PORTS_HTTP" or "flag -ports.http"; a map merged from several sources lists
// each distinct origin, separated by "; ".
struct Setting {
  std::string key;
  std::string value;
  std::string origin;
  Value typed;  // the parsed value, for to_json(); empty for secrets
};

struct Ports {
  uint16_t http = 7700;    // HTTP API, UI, Consul-compatible endpoints, PXE files (TCP)
  uint16_t rpc = 7701;     // RPC between agents and foundations (TCP, mTLS)
  uint16_t gossip = 7702;  // SWIM gossip (UDP and TCP)
  uint16_t dns = 53;       // DNS (UDP and TCP); 8600 in dev mode
};

struct HttpLimits {
  uint64_t body_bytes_max = 1 << 20;
  uint32_t connections_max = 256;
  base::Duration idle_timeout = base::Duration::seconds(60);
  base::Duration header_timeout = base::Duration::seconds(10);
};

// Membership (gossip/). The profiles are memberlist's: lan (a datacenter), wan (across sites),
// local (one machine or a lab, where round trips are microseconds); and Weft's fast (a small
// fleet on one switch: crashes seen ~3x sooner than local, at the cost of flapping a member that
// stalls past ~250 ms; gossip/config.cc).
struct GossipSettings {
  std::string profile = "lan";  // dev: local
  // Bound into every gossip packet's authenticated data; empty: the datacenter's name. Two fleets
  // with different labels never merge, even if they share a key.
  std::string label;
  // Dead and left members are forgotten this long after they went (Serf's reconnect_timeout).
  base::Duration reap_after = base::Duration::seconds(24 * 3600);
  // join and retry_join addresses are tried again this often while none of them is a live
  // member, which also heals partitions longer than reap_after.
  base::Duration rejoin_interval = base::Duration::seconds(30);
};

// RPC's mutual TLS (rpc/endpoint.h): PEM files of the cluster CA and this node's certificate and
// key (`agentctl tls ca create`, `agentctl tls cert create`). Servers need all three; in dev mode,
// when none is set, the agent makes a throwaway CA and certificate under <data_dir>/tls.
struct TlsSettings {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Server mode's log compaction (server/raft_host.h): a snapshot of the state is taken once this
// many entries were applied since the last one, and trailing_logs entries are kept below it so
// that a briefly lagging follower catches up from the log instead of a snapshot. The threshold is
// Consul's default, 16384 (8192 before: under saturated writes a snapshot every ~1.3 s cost 10% of
// the throughput and doubled the p99, tests/bench/RESULTS.md); trailing_logs is smaller than
// Consul's 10240 because the log lives in memory on small nodes (at 1 KiB entries the log peaks
// near 17 MiB).
struct RaftSettings {
  int64_t snapshot_threshold = 16384;
  int64_t trailing_logs = 1024;
};

// Server mode's autopilot (server/autopilot.h), after Consul's: the leader adds foundations it
// sees in gossip as non-voters and promotes them once caught up and stable for
// server_stabilization_time (Consul's default, 10s: long enough that a flapping server never
// votes); with cleanup_dead_servers it removes a voter that gossip reports failed for longer than
// dead_server_grace (30s: a restart or a short partition is not a death; Consul removes at the
// first failure) while the servers left alive still form a majority, and one that left at once.
struct AutopilotSettings {
  bool cleanup_dead_servers = true;
  base::Duration server_stabilization_time = base::Duration::seconds(10);
  base::Duration dead_server_grace = base::Duration::seconds(30);
};

// DNS forwarding (dns/server/server.h): a name outside the domain is sent to `recursors` (IP or
// IP:port, port 53 when left out; tried in order, the next one after `recursor_timeout`) when the
// client's address is inside one of `recursion_networks`; other clients, or no recursors, get
// REFUSED. The default networks are loopback only: an agent on a shared address must not become an
// open resolver (a reflection amplifier) because an operator set recursors.
struct DnsSettings {
  std::vector<std::string> recursors;
  std::vector<std::string> recursion_networks = {"127.0.0.0/8", "::1/128"};
  base::Duration recursor_timeout = base::Duration::seconds(2);
  // Answers' TTLs (Consul's dns_config.service_ttl, node_ttl and soa.min_ttl: 0 by default, so a
  // change of health is seen by the next lookup) and the records of one answer at most.
  base::Duration service_ttl;
  base::Duration node_ttl;
  base::Duration soa_min_ttl;
  int32_t answers_max = 64;
};

struct LogSettings {
  uint64_t ring_bytes_max = 256 << 10;
};

// The configuration in effect. The initializers equal the schema's defaults (a test checks);
// fields whose default depends on the machine or on other keys are noted.
struct Config {
  std::string node_name;  // default: the hostname up to its first dot
  std::string datacenter = "dc1";
  std::string data_dir = "/var/lib/agent";           // dev: a fresh temporary directory
  base::LogLevel log_level = base::LogLevel::kInfo;  // dev: debug
  bool server = false;                               // dev: true
  int32_t bootstrap_expect = 0;                      // dev: 1
  std::vector<std::string> roles;  // default: {"foundation"} with server, else {"worker"}
  std::map<std::string, std::string> labels;
  std::string bind_addr = "0.0.0.0";  // dev: 127.0.0.1
  std::string advertise_addr;         // empty: chosen at start from the interfaces
  Ports ports;
  std::string client_addr = "127.0.0.1";
  std::string domain = "weft";
  std::string socket_path;  // default: <data_dir>/agent.sock
  std::vector<std::string> join;
  std::vector<std::string> retry_join;
  std::string encrypt;  // base64 gossip key, empty: gossip not encrypted
  HttpLimits http;
  TlsSettings tls;
  RaftSettings raft;
  AutopilotSettings autopilot;
  GossipSettings gossip;
  LogSettings log;
  bool enable_exec_checks = false;
  bool dns_enabled = true;  // dns.enabled: the DNS server on client_addr:ports.dns
  DnsSettings dns;
  bool dev = false;
  // Service definitions from the config files ("service" / "services", sources.h), in the order
  // read; the agent registers them at start (they are not kept in services.json).
  std::vector<ServiceDoc> services;
  // Static jobs from the config files ("jobs": [...]), in the order read, as JSON text; the agent
  // decodes them (sched::decode_job) with those of jobs_dir and runs them with no foundation.
  std::vector<ServiceDoc> jobs;
  std::string jobs_dir;  // a directory of job files (*.json), "" for none
  // PXE boot files served on the API port (agent/main/boot_server.h); "" dir: none.
  struct Boot {
    std::string dir;
    std::string default_profile = "worker";
  } boot;

  // Every key in schema order, with its value in effect and its origin.
  std::vector<Setting> settings;
};

// agentctl's AGENT_* variables: not config keys, and ignored (not errors) by load().
inline constexpr std::string_view kEnvNotConfig[] = {"AGENT_HTTP_ADDR", "AGENT_HTTP_TOKEN",
                                                     "AGENT_TOKEN"};

// Largest config file read; larger files are refused with an error naming them.
inline constexpr size_t kFileBytesMax = 1 << 20;
// Deepest JSON nesting accepted in a config file (our schema needs 3).
inline constexpr int kJsonDepthMax = 16;
// Most errors listed in the Status; the rest are counted on a last line.
inline constexpr size_t kErrorsMax = 100;

struct LoadInputs {
  hal::Fs* fs = nullptr;  // never null; read_file/list_dir/stat, make_temp_dir in dev mode
  // Files and directories read when no -config flag is given. Missing ones are skipped
  // (a node with no /etc/agent is fine); a path given with -config must exist.
  std::vector<std::string> config_paths = {"/etc/agent"};
  std::string kernel_cmdline;            // as in /proc/cmdline; "" when not a booted image
  std::vector<std::string> environment;  // NAME=value, as hal::SysInfo::environment()
  std::vector<std::string> flags;        // argv after the program and subcommand names
  std::string hostname;                  // node_name's default
  // data_dir in dev mode unless set; when empty, load() makes one with fs->make_temp_dir().
  std::string dev_data_dir;
};

// Reads every source, validates, applies defaults. On any problem returns kInvalidArgument
// whose message holds one line per problem (see the top of this file); a directory that cannot
// be listed or a file that cannot be read is such a problem too, with the path and the reason.
base::Result<Config> load(const LoadInputs& in);

// Owns a cJSON tree.
struct JsonDeleter {
  void operator()(cJSON* json) const;
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

// The effective config as a JSON object in the files' shape ({"ports": {"http": 7700}, ...});
// with `with_origins`, instead an array of {"Key", "Value", "Origin"} in schema order.
// Secrets are "<hidden>". Never null (asserts on out of memory).
JsonPtr to_json(const Config& config, bool with_origins);
// The same, printed (formatted, with indentation).
std::string to_json_text(const Config& config, bool with_origins);

}  // namespace config
