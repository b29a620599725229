#include "agent/ctl/ctl.h"
#include "agent/ctl/tls_cmd.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "agent/base/log.h"
#include "agent/ctl/cmd_env.h"
#include "agent/ctl/kv_cmd.h"
#include "agent/ctl/alloc_cmd.h"
#include "agent/ctl/image_cmd.h"
#include "agent/ctl/catalog_cmd.h"
#include "agent/ctl/dns_cmd.h"
#include "agent/ctl/job_cmd.h"
#include "agent/ctl/operator_cmd.h"
#include "agent/http/client.h"
#include "agent/http/json.h"
#include "agent/base/version.h"
#include "agent/config/parse.h"
#include "agent/runtime/loop.h"
#include "hal/crypto.h"
#include "cJSON.h"

namespace ctl {

namespace {

enum class Format : uint8_t { kText, kJson };

struct Options {
  std::string socket;
  Format format = Format::kText;
  base::Duration timeout = base::Duration::seconds(10);
  std::string command;
  std::vector<std::string> args;  // the command's own flags and words
};

constexpr std::string_view kUsage =
    "usage: agentctl [-socket PATH] [-format text|json] [-timeout 10s] COMMAND\n"
    "commands:\n"
    "  status                        node, version, roles, uptime and health of the local agent\n"
    "  logs [-f] [-level L] [-n N]   recent log lines (-f: follow)\n"
    "  version                       client and agent versions\n"
    "  members [-status S] [-tag k=v]  the fleet as this node sees it\n"
    "  services                      the services registered on this node\n"
    "  checks                        their health checks: status and last output\n"
    "  catalog services | nodes | service NAME [-passing]   the fleet's catalog\n"
    "  dns NAME [TYPE]               ask this agent's DNS server (a console with no dig)\n"
    "  join [-replay] ADDRESS...     join the fleet through a member's gossip address\n"
    "                                (-replay: also deliver the user events fired before joining)\n"
    "  leave                         leave the fleet gracefully and stop the agent\n"
    "  force-leave NODE              mark a failed member as left\n"
    "  event NAME [PAYLOAD]          send a user event to every member\n"
    "  keyring list|install|use|remove [KEY]   rotate the gossip keys across the fleet\n"
    "  tls ca create | tls cert create -server|-client   the RPC CA and certificates (no agent needed)\n"
    "  tags [-set label.K=V]... [-delete label.K]...   show this node's tags, or change its labels\n"
    "  keygen                        print a new gossip key\n"
    "  kv get|put|delete|watch KEY ...   the KV store (agentctl kv for the flags)\n"
    "  alloc status [ID] | logs [-f] [-stderr] ID [TASK] | restart ID [TASK] | stop ID | signal [-s SIG] ID [TASK]\n"
    "                                the allocations (tasks) this node runs\n"
    "  image load FILE [-name NAME:TAG] | list | rm REF   the node's container images (OCI or docker archives)\n"
    "  operator raft list-peers | transfer-leader [-id ID] | remove-peer -id ID\n"
    "  job validate FILE             check a job file (Nomad's JSON) as the agent would (no agent needed)\n"
    "  help                          this text\n"
    "exit status: 0 ok, 1 the agent reported an error or is unhealthy, 2 usage, 3 no agent\n";

bool parse_duration(std::string_view text, base::Duration* out) {
  int64_t ns = 0;
  if (!config::parse_duration(text, &ns)) return false;
  *out = base::Duration::nanos(ns);
  return true;
}

// Splits a flag "-name=value" / "--name=value" into name and value (value empty if no '=').
bool split_flag(std::string_view arg, std::string* name, std::string* value, bool* has_value) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  size_t eq = arg.find('=');
  *has_value = eq != std::string_view::npos;
  *name = std::string(arg.substr(0, eq));
  *value = *has_value ? std::string(arg.substr(eq + 1)) : "";
  return !name->empty();
}

// Parses global flags wherever they stand; the first other word is the command.
bool parse_options(const std::vector<std::string>& args, Options* o, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name, value;
    bool has_value = false;
    if (!split_flag(args[i], &name, &value, &has_value)) {
      if (o->command.empty()) o->command = args[i];
      else o->args.push_back(args[i]);
      continue;
    }
    bool global = name == "socket" || name == "format" || name == "timeout";
    if (!global) {
      o->args.push_back(args[i]);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        *error = "-" + name + " needs a value";
        return false;
      }
      value = args[++i];
    }
    if (name == "socket") {
      o->socket = value;
    } else if (name == "format") {
      if (value == "text") o->format = Format::kText;
      else if (value == "json") o->format = Format::kJson;
      else {
        *error = "-format: want text or json, got \"" + value + "\"";
        return false;
      }
    } else if (!parse_duration(value, &o->timeout)) {
      *error = "-timeout: want a duration such as 10s, got \"" + value + "\"";
      return false;
    }
  }
  return true;
}

class Client {
 public:
  Client(hal::Env& env, const Options& o, FILE* err) : env_(env), options_(o), err_(err), loop_(*env.clock, *env.poller) {}

  // Picks the socket (see ctl.h). Returns false and prints the one-line error when none exists.
  bool resolve_socket(bool quiet) {
    std::vector<std::string> candidates;
    if (!options_.socket.empty()) {
      candidates.push_back(options_.socket);
    } else {
      auto environment = env_.sys->environment();
      std::string from_env = config::env_lookup(environment, "AGENT_SOCKET_PATH");
      if (!from_env.empty()) {
        candidates.push_back(from_env);
      } else {
        std::string tmp = config::env_lookup(environment, "TMPDIR");
        if (tmp.empty() || tmp[0] != '/') tmp = "/tmp";
        candidates = {"/run/agent/agent.sock", "/var/lib/agent/agent.sock", tmp + "/weft-dev/agent.sock"};
      }
    }
    for (const auto& c : candidates) {
      if (env_.fs->stat(c).is_ok()) {
        socket_ = c;
        return true;
      }
    }
    if (!quiet) {
      std::string tried;
      for (const auto& c : candidates) tried += (tried.empty() ? "" : ", ") + c;
      std::fprintf(err_, "agentctl: no agent is running: no socket at %s\n", tried.c_str());
    }
    return false;
  }

  // GET `target`. On failure to reach the agent prints one line and returns kUnavailable.
  base::Result<http::ClientResponse> get(const std::string& target, base::Duration timeout, bool quiet = false) {
    return call("GET", target, "", timeout, quiet);
  }

  base::Result<http::ClientResponse> call(const std::string& method, const std::string& target, std::string body,
                                          base::Duration timeout, bool quiet = false) {
    auto addr = hal::SockAddr::parse("unix:" + socket_);
    if (!addr.is_ok()) {
      if (!quiet) std::fprintf(err_, "agentctl: socket %s: %s\n", socket_.c_str(), addr.status().message().c_str());
      return base::error(base::Code::kUnavailable, "bad socket");
    }
    http::ClientRequest req;
    req.method = method;
    req.target = target;
    req.body = std::move(body);
    auto resp = http::http_call(loop_, *env_.net, *addr, req, timeout);
    if (!resp.is_ok()) {
      if (!quiet) {
        std::fprintf(err_, "agentctl: no agent answered on %s: %s\n", socket_.c_str(), resp.status().message().c_str());
      }
      return base::error(base::Code::kUnavailable, "unreachable");
    }
    return resp;
  }

  const std::string& socket() const { return socket_; }

 private:
  hal::Env& env_;
  const Options& options_;
  FILE* err_;
  runtime::Loop loop_;
  std::string socket_;
};

// Reads the response body as JSON; prints an error and returns a failed Json if it is not.
http::Json parse_body(const http::ClientResponse& r, FILE* err) {
  auto doc = http::Json::parse(r.body, 64 << 20);
  if (!doc.is_ok()) {
    std::fprintf(err, "agentctl: the agent sent a response that is not JSON (%s)\n", doc.status().message().c_str());
    return http::Json();
  }
  return std::move(doc).value();
}

// The API's error body {"error": "..."}, or the status line.
std::string api_error(const http::ClientResponse& r) {
  auto doc = http::Json::parse(r.body, 1 << 20);
  std::string msg;
  if (doc.is_ok() && http::json_get_string(doc->get(), "error", &msg)) return msg;
  return "HTTP " + std::to_string(r.status);
}

const cJSON* member(const cJSON* obj, const char* key) {
  return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : nullptr;
}
std::string str(const cJSON* obj, const char* key) {
  const cJSON* v = member(obj, key);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}
int64_t num(const cJSON* obj, const char* key) {
  const cJSON* v = member(obj, key);
  if (cJSON_IsNumber(v)) return static_cast<int64_t>(v->valuedouble);
  if (cJSON_IsRaw(v) && v->valuestring) return std::strtoll(v->valuestring, nullptr, 10);
  return 0;
}

void print_json(FILE* out, const http::Json& doc) {
  auto text = doc.dump();
  std::fprintf(out, "%s\n", text.is_ok() ? text->c_str() : "null");
}

int cmd_version(Client& client, const Options& o, FILE* out) {
  std::string agent_version;
  if (client.resolve_socket(/*quiet=*/true)) {
    auto r = client.get("/v1/agent/self", o.timeout, /*quiet=*/true);
    if (r.is_ok() && r->status == 200) {
      auto doc = http::Json::parse(r->body, 16 << 20);
      if (doc.is_ok()) agent_version = str(member(doc->get(), "Config"), "Version");
    }
  }
  if (o.format == Format::kJson) {
    http::Json doc = http::Json::object();
    doc.add_string("client", base::version());
    if (agent_version.empty()) doc.add_null(doc.get(), "agent");
    else doc.add_string("agent", agent_version);
    print_json(out, doc);
  } else {
    std::fprintf(out, "weft %s\n", std::string(base::version()).c_str());
    if (!agent_version.empty()) std::fprintf(out, "agent: weft %s (socket %s)\n", agent_version.c_str(), client.socket().c_str());
  }
  return kExitOk;
}

int cmd_status(Client& client, const Options& o, FILE* out, FILE* err) {
  if (!o.args.empty()) {
    std::fprintf(err, "agentctl status: unexpected argument \"%s\"\n", o.args[0].c_str());
    return kExitUsage;
  }
  if (!client.resolve_socket(false)) return kExitUnreachable;
  auto self = client.get("/v1/agent/self", o.timeout);
  if (!self.is_ok()) return kExitUnreachable;
  if (self->status != 200) {
    std::fprintf(err, "agentctl: /v1/agent/self: %s\n", api_error(*self).c_str());
    return kExitFailed;
  }
  auto health = client.get("/v1/agent/health", o.timeout);
  if (!health.is_ok()) return kExitUnreachable;
  http::Json self_doc = parse_body(*self, err);
  http::Json health_doc = parse_body(*health, err);
  if (!self_doc.ok() || !health_doc.ok()) return kExitFailed;
  const cJSON* cfg = member(self_doc.get(), "Config");
  const cJSON* agent_stats = member(member(self_doc.get(), "Stats"), "agent");
  const cJSON* runtime_stats = member(member(self_doc.get(), "Stats"), "runtime");
  bool healthy = health->status == 200;
  std::vector<std::string> roles;
  const cJSON* role;
  cJSON_ArrayForEach(role, member(cfg, "Roles")) {
    if (cJSON_IsString(role)) roles.emplace_back(role->valuestring);
  }
  std::vector<std::string> reasons;
  const cJSON* reason;
  cJSON_ArrayForEach(reason, member(health_doc.get(), "Reasons")) {
    if (cJSON_IsString(reason)) reasons.emplace_back(reason->valuestring);
  }
  int64_t uptime_s = num(agent_stats, "uptime_seconds");
  // A server's Raft state; any other answer (a client agent, an agent without the endpoint, an
  // error) leaves the Raft lines out and does not change the exit status.
  http::Json raft_doc;
  if (auto raft = client.get("/v1/status/raft", o.timeout, /*quiet=*/true); raft.is_ok() && raft->status == 200) {
    auto doc = http::Json::parse(raft->body, 1 << 20);
    if (doc.is_ok() && cJSON_IsObject(doc->get())) raft_doc = std::move(doc).value();
  }
  if (o.format == Format::kJson) {
    http::Json doc = http::Json::object();
    doc.add_string("node", str(cfg, "NodeName"));
    doc.add_string("node_id", str(cfg, "NodeID"));
    doc.add_string("datacenter", str(cfg, "Datacenter"));
    doc.add_string("version", str(cfg, "Version"));
    doc.add_bool("server", cJSON_IsTrue(member(cfg, "Server")));
    doc.add_bool("dev", cJSON_IsTrue(member(cfg, "Dev")));
    cJSON* r = doc.add_array(doc.get(), "roles");
    for (const auto& x : roles) doc.add_string(r, "", x);
    doc.add_i64("uptime_seconds", uptime_s);
    doc.add_i64("rss_bytes", num(runtime_stats, "rss_bytes"));
    doc.add_bool("healthy", healthy);
    cJSON* rs = doc.add_array(doc.get(), "reasons");
    for (const auto& x : reasons) doc.add_string(rs, "", x);
    doc.add_string("socket", client.socket());
    if (raft_doc.ok()) doc.add_tree(doc.get(), "raft", std::move(raft_doc));
    print_json(out, doc);
  } else {
    std::string role_text;
    for (const auto& x : roles) role_text += (role_text.empty() ? "" : ", ") + x;
    char up[32];
    base::format_duration(base::Duration::seconds(uptime_s), up, sizeof up);
    std::fprintf(out, "node:       %s (%s)\n", str(cfg, "NodeName").c_str(), str(cfg, "Datacenter").c_str());
    std::fprintf(out, "node id:    %s\n", str(cfg, "NodeID").c_str());
    std::fprintf(out, "version:    weft %s%s\n", str(cfg, "Version").c_str(), cJSON_IsTrue(member(cfg, "Dev")) ? " (dev mode)" : "");
    std::fprintf(out, "roles:      %s%s\n", role_text.c_str(), cJSON_IsTrue(member(cfg, "Server")) ? " (server)" : "");
    std::fprintf(out, "uptime:     %s\n", up);
    std::fprintf(out, "memory:     %lld KiB resident\n", static_cast<long long>(num(runtime_stats, "rss_bytes") / 1024));
    std::fprintf(out, "health:     %s\n", healthy ? "healthy" : "UNHEALTHY");
    for (const auto& x : reasons) std::fprintf(out, "            %s\n", x.c_str());
    if (raft_doc.ok()) print_raft_status(raft_doc.get(), out);
  }
  return healthy ? kExitOk : kExitFailed;
}

int cmd_logs(Client& client, const Options& o, FILE* out, FILE* err) {
  bool follow = false;
  std::string level = "debug";
  uint64_t count = 100;
  for (size_t i = 0; i < o.args.size(); ++i) {
    std::string name, value;
    bool has_value = false;
    if (!split_flag(o.args[i], &name, &value, &has_value)) {
      std::fprintf(err, "agentctl logs: unexpected argument \"%s\"\n", o.args[i].c_str());
      return kExitUsage;
    }
    if (name == "f" || name == "follow") {
      follow = !has_value || value == "true";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= o.args.size()) {
        std::fprintf(err, "agentctl logs: -%s needs a value\n", name.c_str());
        return kExitUsage;
      }
      value = o.args[++i];
    }
    if (name == "level") {
      base::LogLevel l;
      if (!base::parse_log_level(value, &l)) {
        std::fprintf(err, "agentctl logs: -level: want debug, info, warn or error\n");
        return kExitUsage;
      }
      level = value;
    } else if (name == "n") {
      char* end = nullptr;
      unsigned long long n = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n == 0 || n > 10000) {
        std::fprintf(err, "agentctl logs: -n: want 1..10000\n");
        return kExitUsage;
      }
      count = n;
    } else {
      std::fprintf(err, "agentctl logs: unknown flag -%s\n", name.c_str());
      return kExitUsage;
    }
  }
  if (!client.resolve_socket(false)) return kExitUnreachable;

  uint64_t after = 0;
  http::Json all = http::Json::array();
  for (int round = 0;; ++round) {
    // The first page is the last `count` records; then everything after the newest seen.
    std::string target = round == 0 ? "/v1/agent/logs?tail=" + std::to_string(count)
                                    : "/v1/agent/logs?after=" + std::to_string(after);
    target += "&level=" + level + "&limit=1000";
    base::Duration timeout = o.timeout;
    if (follow && round > 0) {
      target += "&wait=30s";
      timeout = base::Duration::seconds(40);
    }
    auto r = client.get(target, timeout);
    if (!r.is_ok()) return kExitUnreachable;
    if (r->status != 200) {
      std::fprintf(err, "agentctl: logs: %s\n", api_error(*r).c_str());
      return kExitFailed;
    }
    http::Json doc = parse_body(*r, err);
    if (!doc.ok()) return kExitFailed;
    const cJSON* rec;
    cJSON_ArrayForEach(rec, member(doc.get(), "Records")) {
      if (o.format == Format::kJson && !follow) {
        cJSON* x = all.add_object(all.get(), "");
        all.add_u64(x, "seq", static_cast<uint64_t>(num(rec, "Seq")));
        all.add_string(x, "time", str(rec, "Time"));
        all.add_string(x, "level", str(rec, "Level"));
        all.add_string(x, "module", str(rec, "Module"));
        all.add_string(x, "message", str(rec, "Message"));
      } else if (o.format == Format::kJson) {
        http::Json line = http::Json::object();
        line.add_u64("seq", static_cast<uint64_t>(num(rec, "Seq")));
        line.add_string("time", str(rec, "Time"));
        line.add_string("level", str(rec, "Level"));
        line.add_string("module", str(rec, "Module"));
        line.add_string("message", str(rec, "Message"));
        print_json(out, line);  // one object per line while following
      } else {
        std::string lvl = str(rec, "Level");
        lvl.resize(6, ' ');
        std::fprintf(out, "%s %s%s: %s\n", str(rec, "Time").c_str(), lvl.c_str(), str(rec, "Module").c_str(),
                     str(rec, "Message").c_str());
      }
    }
    std::fflush(out);
    uint64_t new_after = static_cast<uint64_t>(num(doc.get(), "Last"));
    if (new_after > after) after = new_after;
    // Without -f, stop once a page came back short of its limit (the end of the ring).
    if (!follow && (round == 0 || cJSON_GetArraySize(member(doc.get(), "Records")) < 10000)) break;
    if (round > 1000000) break;  // bounded even when following for a very long time
  }
  if (o.format == Format::kJson && !follow) print_json(out, all);
  return kExitOk;
}


// Percent-encodes one path segment or query value (RFC 3986 unreserved characters stay).
std::string escape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Sends one call and reports an API error; returns kExitOk, kExitFailed or kExitUnreachable.
int simple_call(Client& client, const Options& o, const std::string& method, const std::string& target,
                std::string body, FILE* err, http::ClientResponse* out = nullptr) {
  if (!client.resolve_socket(false)) return kExitUnreachable;
  auto r = client.call(method, target, std::move(body), o.timeout);
  if (!r.is_ok()) return kExitUnreachable;
  if (r->status != 200) {
    std::fprintf(err, "agentctl: %s\n", api_error(*r).c_str());
    return kExitFailed;
  }
  if (out) *out = std::move(r).value();
  return kExitOk;
}

// members [-status alive|suspect|failed|left] [-tag key=value]...
int cmd_members(Client& client, const Options& o, FILE* out, FILE* err) {
  std::string status_filter;
  std::vector<std::pair<std::string, std::string>> tag_filters;
  for (size_t i = 0; i < o.args.size(); ++i) {
    std::string name, value;
    bool has_value = false;
    if (!split_flag(o.args[i], &name, &value, &has_value)) {
      std::fprintf(err, "agentctl members: unexpected argument \"%s\"\n", o.args[i].c_str());
      return kExitUsage;
    }
    if (!has_value) {
      if (i + 1 >= o.args.size()) {
        std::fprintf(err, "agentctl members: -%s needs a value\n", name.c_str());
        return kExitUsage;
      }
      value = o.args[++i];
    }
    if (name == "status") {
      if (value != "alive" && value != "suspect" && value != "failed" && value != "left") {
        std::fprintf(err, "agentctl members: -status: want alive, suspect, failed or left\n");
        return kExitUsage;
      }
      status_filter = value;
    } else if (name == "tag") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(err, "agentctl members: -tag: want key=value\n");
        return kExitUsage;
      }
      tag_filters.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else {
      std::fprintf(err, "agentctl members: unknown flag -%s\n", name.c_str());
      return kExitUsage;
    }
  }
  http::ClientResponse r;
  int rc = simple_call(client, o, "GET", "/v1/agent/members", "", err, &r);
  if (rc != kExitOk) return rc;
  http::Json doc = parse_body(r, err);
  if (!doc.ok()) return kExitFailed;
  http::Json list = http::Json::array();
  struct Row {
    std::string name, addr, state, role, tags;
  };
  std::vector<Row> rows;
  const cJSON* m;
  cJSON_ArrayForEach(m, doc.get()) {
    std::string state = str(m, "State");
    if (!status_filter.empty() && state != status_filter) continue;
    const cJSON* tags = member(m, "Tags");
    bool match = true;
    for (const auto& [k, v] : tag_filters) match = match && str(tags, k.c_str()) == v;
    if (!match) continue;
    std::string addr = str(m, "Addr") + ":" + std::to_string(num(m, "Port"));
    std::string tag_text;
    const cJSON* t;
    cJSON_ArrayForEach(t, tags) {
      if (!cJSON_IsString(t)) continue;
      if (std::string_view(t->string) == "role" || std::string_view(t->string) == "kr") continue;
      tag_text += (tag_text.empty() ? "" : ",") + std::string(t->string) + "=" + t->valuestring;
    }
    rows.push_back(Row{str(m, "Name"), addr, state, str(tags, "role"), tag_text});
    cJSON* x = list.add_object(list.get(), "");
    list.add_string(x, "name", rows.back().name);
    list.add_string(x, "addr", addr);
    list.add_string(x, "status", state);
    list.add_string(x, "role", rows.back().role);
    list.add_u64(x, "incarnation", static_cast<uint64_t>(num(m, "Incarnation")));
    cJSON* xt = list.add_object(x, "tags");
    cJSON_ArrayForEach(t, tags) {
      if (cJSON_IsString(t)) list.add_string(xt, t->string, t->valuestring);
    }
  }
  if (o.format == Format::kJson) {
    print_json(out, list);
    return kExitOk;
  }
  size_t w_name = 4, w_addr = 7, w_state = 6, w_role = 4;
  for (const auto& row : rows) {
    w_name = std::max(w_name, row.name.size());
    w_addr = std::max(w_addr, row.addr.size());
    w_state = std::max(w_state, row.state.size());
    w_role = std::max(w_role, row.role.size());
  }
  std::fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", static_cast<int>(w_name), "Node", static_cast<int>(w_addr), "Address",
               static_cast<int>(w_state), "Status", static_cast<int>(w_role), "Role", "Tags");
  for (const auto& row : rows) {
    std::fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", static_cast<int>(w_name), row.name.c_str(),
                 static_cast<int>(w_addr), row.addr.c_str(), static_cast<int>(w_state), row.state.c_str(),
                 static_cast<int>(w_role), row.role.c_str(), row.tags.c_str());
  }
  return kExitOk;
}

// services: the services registered on this node (GET /v1/agent/services), one line each.
// For a listing command that takes no arguments: GETs `path`. With -format json it prints the
// body and returns kExitOk; on an error it returns the exit status; otherwise it fills *doc and
// returns -1 (the caller prints the table).
int fetch_listing(Client& client, const Options& o, const char* command, const char* path, FILE* out, FILE* err,
                  http::Json* doc) {
  if (!o.args.empty()) {
    std::fprintf(err, "agentctl %s: unexpected argument \"%s\"\nusage: agentctl %s\n", command, o.args[0].c_str(), command);
    return kExitUsage;
  }
  http::ClientResponse r;
  int rc = simple_call(client, o, "GET", path, "", err, &r);
  if (rc != kExitOk) return rc;
  *doc = parse_body(r, err);
  if (!doc->ok()) return kExitFailed;
  if (o.format == Format::kJson) {
    print_json(out, *doc);
    return kExitOk;
  }
  return -1;
}

int cmd_services(Client& client, const Options& o, FILE* out, FILE* err) {
  http::Json doc;
  if (int rc = fetch_listing(client, o, "services", "/v1/agent/services", out, err, &doc); rc >= 0) return rc;
  struct Row {
    std::string id, name, addr, tags;
  };
  std::vector<Row> rows;
  const cJSON* s;
  cJSON_ArrayForEach(s, doc.get()) {
    std::string addr = str(s, "Address");
    addr = (addr.empty() ? "(node)" : addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" +
           std::to_string(num(s, "Port"));
    std::string tags;
    const cJSON* t;
    cJSON_ArrayForEach(t, member(s, "Tags")) {
      if (cJSON_IsString(t)) tags += (tags.empty() ? "" : ",") + std::string(t->valuestring);
    }
    rows.push_back(Row{str(s, "ID"), str(s, "Service"), addr, tags});
  }
  size_t w_id = 2, w_name = 7, w_addr = 7;
  for (const auto& row : rows) {
    w_id = std::max(w_id, row.id.size());
    w_name = std::max(w_name, row.name.size());
    w_addr = std::max(w_addr, row.addr.size());
  }
  std::fprintf(out, "%-*s  %-*s  %-*s  %s\n", static_cast<int>(w_id), "ID", static_cast<int>(w_name), "Service",
               static_cast<int>(w_addr), "Address", "Tags");
  for (const auto& row : rows) {
    std::fprintf(out, "%-*s  %-*s  %-*s  %s\n", static_cast<int>(w_id), row.id.c_str(), static_cast<int>(w_name),
                 row.name.c_str(), static_cast<int>(w_addr), row.addr.c_str(), row.tags.c_str());
  }
  return kExitOk;
}

// checks: this node's health checks (GET /v1/agent/checks), one line each, the output's first
// line cut to 60 bytes.
int cmd_checks(Client& client, const Options& o, FILE* out, FILE* err) {
  http::Json doc;
  if (int rc = fetch_listing(client, o, "checks", "/v1/agent/checks", out, err, &doc); rc >= 0) return rc;
  std::vector<std::array<std::string, 5>> rows;
  const cJSON* c;
  cJSON_ArrayForEach(c, doc.get()) {
    std::string output = str(c, "Output");
    output = output.substr(0, output.find('\n'));
    if (output.size() > 60) output = output.substr(0, 57) + "...";
    rows.push_back({str(c, "CheckID"), str(c, "ServiceID"), str(c, "Type"), str(c, "Status"), output});
  }
  std::array<size_t, 4> w = {7, 7, 4, 6};
  for (const auto& row : rows) {
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::max(w[i], row[i].size());
  }
  auto line = [&](const std::array<std::string, 5>& row) {
    std::fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", static_cast<int>(w[0]), row[0].c_str(), static_cast<int>(w[1]),
                 row[1].c_str(), static_cast<int>(w[2]), row[2].c_str(), static_cast<int>(w[3]), row[3].c_str(), row[4].c_str());
  };
  line({"CheckID", "Service", "Type", "Status", "Output"});
  for (const auto& row : rows) line(row);
  return kExitOk;
}

// join [-replay] ADDRESS...: like `serf join`, the fleet's earlier user events are not delivered
// to this node unless -replay asks for them.
int cmd_join(Client& client, const Options& o, FILE* out, FILE* err) {
  bool replay = false;
  std::vector<std::string> addrs;
  for (const auto& arg : o.args) {
    std::string name, value;
    bool has_value = false;
    if (!split_flag(arg, &name, &value, &has_value)) {
      addrs.push_back(arg);
    } else if (name == "replay" && (!has_value || value == "true" || value == "false")) {
      replay = !has_value || value == "true";
    } else {
      std::fprintf(err, "agentctl join: unknown flag %s\nusage: agentctl join [-replay] ADDRESS...\n", arg.c_str());
      return kExitUsage;
    }
  }
  if (addrs.empty()) {
    std::fprintf(err, "usage: agentctl join [-replay] ADDRESS...\n");
    return kExitUsage;
  }
  for (const auto& a : addrs) {
    int rc = simple_call(client, o, "PUT", "/v1/agent/join/" + escape(a) + (replay ? "?replay=true" : ""), "", err);
    if (rc != kExitOk) return rc;
    std::fprintf(out, "joining through %s\n", a.c_str());
  }
  return kExitOk;
}

int cmd_leave(Client& client, const Options& o, FILE* out, FILE* err) {
  if (!o.args.empty()) {
    std::fprintf(err, "usage: agentctl leave\n");
    return kExitUsage;
  }
  Options slow = o;
  slow.timeout = base::Duration::seconds(15);  // the agent spreads its leave notice first
  int rc = simple_call(client, slow, "PUT", "/v1/agent/leave", "", err);
  if (rc == kExitOk) std::fprintf(out, "left the fleet; the agent is stopping\n");
  return rc;
}

int cmd_force_leave(Client& client, const Options& o, FILE* out, FILE* err) {
  if (o.args.size() != 1) {
    std::fprintf(err, "usage: agentctl force-leave NODE\n");
    return kExitUsage;
  }
  int rc = simple_call(client, o, "PUT", "/v1/agent/force-leave/" + escape(o.args[0]), "", err);
  if (rc == kExitOk) std::fprintf(out, "%s marked left\n", o.args[0].c_str());
  return rc;
}

int cmd_event(Client& client, const Options& o, FILE* out, FILE* err) {
  if (o.args.empty() || o.args.size() > 2) {
    std::fprintf(err, "usage: agentctl event NAME [PAYLOAD]\n");
    return kExitUsage;
  }
  http::ClientResponse r;
  int rc = simple_call(client, o, "PUT", "/v1/event/fire/" + escape(o.args[0]), o.args.size() == 2 ? o.args[1] : "",
                       err, &r);
  if (rc != kExitOk) return rc;
  if (o.format == Format::kJson) {
    std::fprintf(out, "%s\n", r.body.c_str());
  } else {
    http::Json doc = parse_body(r, err);
    std::fprintf(out, "event %s sent (lamport time %lld)\n", o.args[0].c_str(),
                 static_cast<long long>(num(doc.get(), "LTime")));
  }
  return kExitOk;
}

// Prints GET/PUT /v1/agent/tags's answer for people: one tag a line, run-time changes marked.
void print_tags(const http::Json& doc, FILE* out) {
  const cJSON* tags = member(doc.get(), "Tags");
  const cJSON* set = member(member(doc.get(), "Overrides"), "Set");
  size_t w = 3;
  const cJSON* t;
  cJSON_ArrayForEach(t, tags) w = std::max(w, std::strlen(t->string));
  std::fprintf(out, "%-*s  %s\n", static_cast<int>(w), "Tag", "Value");
  cJSON_ArrayForEach(t, tags) {
    if (!cJSON_IsString(t)) continue;
    const bool changed = member(set, t->string) != nullptr;
    std::fprintf(out, "%-*s  %s%s\n", static_cast<int>(w), t->string, t->valuestring,
                 changed ? "  (set at run time)" : "");
  }
  std::string deleted;
  const cJSON* d;
  cJSON_ArrayForEach(d, member(member(doc.get(), "Overrides"), "Delete")) {
    if (cJSON_IsString(d)) deleted += (deleted.empty() ? "" : ", ") + std::string(d->valuestring);
  }
  if (!deleted.empty()) std::fprintf(out, "deleted at run time: %s\n", deleted.c_str());
}

// tags [-set key=value]... [-delete key]...: with no flags, this node's tags; with flags, changes
// its labels (the agent refuses anything but label.<name>, see agent/main/tag_overrides.h).
int cmd_tags(Client& client, const Options& o, FILE* out, FILE* err) {
  const char* usage = "usage: agentctl tags [-set label.KEY=VALUE]... [-delete label.KEY]...\n";
  std::map<std::string, std::string> set;
  std::set<std::string> del;
  for (size_t i = 0; i < o.args.size(); ++i) {
    std::string name, value;
    bool has_value = false;
    if (!split_flag(o.args[i], &name, &value, &has_value) || (name != "set" && name != "delete")) {
      std::fprintf(err, "agentctl tags: unexpected argument \"%s\"\n%s", o.args[i].c_str(), usage);
      return kExitUsage;
    }
    if (!has_value) {
      if (i + 1 >= o.args.size()) {
        std::fprintf(err, "agentctl tags: -%s needs a value\n%s", name.c_str(), usage);
        return kExitUsage;
      }
      value = o.args[++i];
    }
    if (name == "set") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(err, "agentctl tags: -set: want KEY=VALUE, got \"%s\"\n", value.c_str());
        return kExitUsage;
      }
      if (!set.emplace(value.substr(0, eq), value.substr(eq + 1)).second) {
        std::fprintf(err, "agentctl tags: -set %s given twice\n", value.substr(0, eq).c_str());
        return kExitUsage;
      }
    } else if (value.empty() || !del.insert(value).second) {
      std::fprintf(err, "agentctl tags: -delete: want a tag name, each once\n");
      return kExitUsage;
    }
  }
  http::ClientResponse r;
  int rc = kExitOk;
  if (set.empty() && del.empty()) {
    rc = simple_call(client, o, "GET", "/v1/agent/tags", "", err, &r);
  } else {
    http::Json body = http::Json::object();
    cJSON* s = body.add_object(body.get(), "Set");
    for (const auto& [k, v] : set) body.add_string(s, k, v);
    cJSON* d = body.add_array(body.get(), "Delete");
    for (const auto& k : del) body.add_string(d, "", k);
    auto text = body.dump();
    if (!text.is_ok()) {
      std::fprintf(err, "agentctl tags: %s\n", text.status().message().c_str());
      return kExitFailed;
    }
    rc = simple_call(client, o, "PUT", "/v1/agent/tags", std::move(text).value(), err, &r);
  }
  if (rc != kExitOk) return rc;
  if (o.format == Format::kJson) {
    std::fprintf(out, "%s\n", r.body.c_str());
    return kExitOk;
  }
  http::Json doc = parse_body(r, err);
  if (!doc.ok()) return kExitFailed;
  print_tags(doc, out);
  return kExitOk;
}

// keyring list | install KEY | use KEY | remove KEY
int cmd_keyring(Client& client, const Options& o, FILE* out, FILE* err) {
  const char* usage = "usage: agentctl keyring list | install KEY | use KEY | remove KEY\n";
  if (o.args.empty()) {
    std::fputs(usage, err);
    return kExitUsage;
  }
  const std::string& op = o.args[0];
  if (op == "list" && o.args.size() == 1) {
    http::ClientResponse r;
    int rc = simple_call(client, o, "GET", "/v1/operator/keyring", "", err, &r);
    if (rc != kExitOk) return rc;
    if (o.format == Format::kJson) {
      std::fprintf(out, "%s\n", r.body.c_str());
      return kExitOk;
    }
    http::Json doc = parse_body(r, err);
    if (!doc.ok()) return kExitFailed;
    const cJSON* pool = cJSON_GetArrayItem(doc.get(), 0);
    if (!cJSON_IsTrue(member(pool, "Encrypted"))) std::fprintf(out, "gossip is not encrypted on this node\n");
    int64_t nodes = num(pool, "NumNodes");
    std::fprintf(out, "%-18s  %-9s  %s\n", "Key id", "Members", "Primary on");
    const cJSON* k;
    cJSON_ArrayForEach(k, member(pool, "Keys")) {
      std::fprintf(out, "%-18s  %lld/%-7lld  %lld\n", k->string, static_cast<long long>(num(member(pool, "Keys"), k->string)),
                   static_cast<long long>(nodes), static_cast<long long>(num(member(pool, "PrimaryKeys"), k->string)));
    }
    return kExitOk;
  }
  if ((op == "install" || op == "use" || op == "remove") && o.args.size() == 2) {
    http::Json body = http::Json::object();
    body.add_string("Key", o.args[1]);
    auto text = body.dump();
    if (!text.is_ok()) return kExitFailed;
    const char* method = op == "install" ? "POST" : op == "use" ? "PUT" : "DELETE";
    int rc = simple_call(client, o, method, "/v1/operator/keyring", std::move(text).value(), err);
    if (rc == kExitOk) std::fprintf(out, "keyring %s: done here, spreading to the fleet\n", op.c_str());
    return rc;
  }
  std::fputs(usage, err);
  return kExitUsage;
}

// keygen: a new gossip key (base64 of 32 random bytes), made locally; no agent needed.
int cmd_keygen(hal::Env& env, const Options& o, FILE* out, FILE* err) {
  if (!o.args.empty()) {
    std::fprintf(err, "usage: agentctl keygen\n");
    return kExitUsage;
  }
  uint8_t key[32];
  base::Status s = env.entropy->fill(std::span<uint8_t>(key, sizeof key));
  if (!s.is_ok()) {
    std::fprintf(err, "agentctl keygen: %s\n", s.to_string().c_str());
    return kExitFailed;
  }
  std::string b64 = hal::crypto::base64_encode(base::ByteSpan(key, sizeof key));
  hal::crypto::secure_zero(key, sizeof key);
  std::fprintf(out, "%s\n", b64.c_str());
  hal::crypto::secure_zero(b64.data(), b64.size());
  return kExitOk;
}

// The CmdEnv for commands outside this file (cmd_env.h): calls go through `client`, which finds
// the socket on the first call.
CmdEnv cmd_env(Client& client, const Options& o, FILE* in, FILE* out, FILE* err) {
  CmdEnv e;
  e.json = o.format == Format::kJson;
  e.timeout = o.timeout;
  e.in = in;
  e.out = out;
  e.err = err;
  e.call = [&client](const std::string& method, const std::string& target, std::string body,
                     base::Duration timeout) -> base::Result<http::ClientResponse> {
    if (client.socket().empty() && !client.resolve_socket(false)) {
      return base::error(base::Code::kUnavailable, "no agent");
    }
    return client.call(method, target, std::move(body), timeout);
  };
  return e;
}

}  // namespace

int run(hal::Env& env, const std::vector<std::string>& args, FILE* out, FILE* err) {
  return run(env, args, stdin, out, err);
}

int run(hal::Env& env, const std::vector<std::string>& args, FILE* in, FILE* out, FILE* err) {
  Options o;
  std::string error;
  if (!parse_options(args, &o, &error)) {
    std::fprintf(err, "agentctl: %s\n", error.c_str());
    return kExitUsage;
  }
  if (o.command.empty() || o.command == "help" || o.command == "-h") {
    std::fputs(kUsage.data(), o.command.empty() ? err : out);
    return o.command.empty() ? kExitUsage : kExitOk;
  }
  Client client(env, o, err);
  if (o.command == "version") return cmd_version(client, o, out);
  if (o.command == "status") return cmd_status(client, o, out, err);
  if (o.command == "logs") return cmd_logs(client, o, out, err);
  if (o.command == "members") return cmd_members(client, o, out, err);
  if (o.command == "services") return cmd_services(client, o, out, err);
  if (o.command == "checks") return cmd_checks(client, o, out, err);
  if (o.command == "join") return cmd_join(client, o, out, err);
  if (o.command == "leave") return cmd_leave(client, o, out, err);
  if (o.command == "force-leave") return cmd_force_leave(client, o, out, err);
  if (o.command == "event") return cmd_event(client, o, out, err);
  if (o.command == "keyring") return cmd_keyring(client, o, out, err);
  if (o.command == "keygen") return cmd_keygen(env, o, out, err);
  if (o.command == "tls") return cmd_tls(env, o.args, out, err);
  if (o.command == "tags") return cmd_tags(client, o, out, err);
  if (o.command == "kv") return cmd_kv(cmd_env(client, o, in, out, err), o.args);
  if (o.command == "operator") return cmd_operator(cmd_env(client, o, in, out, err), o.args);
  if (o.command == "catalog") return cmd_catalog(cmd_env(client, o, in, out, err), o.args);
  if (o.command == "alloc") return cmd_alloc(cmd_env(client, o, in, out, err), o.args);
  if (o.command == "image") {
    auto cwd = env.fs->current_dir();
    return cmd_image(cmd_env(client, o, in, out, err), o.args, cwd.is_ok() ? *cwd : "");
  }
  if (o.command == "dns") return cmd_dns(cmd_env(client, o, in, out, err), o.args);
  if (o.command == "job") return cmd_job(*env.fs, cmd_env(client, o, in, out, err), o.args);
  std::fprintf(err, "agentctl: unknown command \"%s\"\n%s", o.command.c_str(), kUsage.data());
  return kExitUsage;
}

}  // namespace ctl
