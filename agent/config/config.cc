// load(): read the sources in precedence order, merge them key by key, fill in defaults (plain,
// dev-mode and derived ones), run the cross-field checks, then store into a Config.
//
// The order of work matters in two places. Defaults are filled only after every source is
// merged, because some depend on other keys (dev, server, data_dir). And the dev data directory
// is created only when everything else validated, so a config with errors has no side effects.
#include "agent/config/config.h"

#include <algorithm>

#include "agent/config/parse.h"
#include "agent/config/sources.h"
#include "agent/config/value.h"
#include "cJSON.h"

namespace config {
namespace {

// Defaults that differ in dev mode. data_dir, bootstrap_expect and roles are derived below.
struct DevDefault {
  std::string_view key;
  std::string_view text;
};
constexpr DevDefault kDevDefaults[] = {
    {"log_level", "debug"},
    {"ports.dns", "8600"},  // 53 needs privileges a developer's shell does not have
    {"bind_addr", "127.0.0.1"},
    {"server", "true"},  // dev is a one-node fleet: its own foundation
    {"gossip.profile", "local"},  // everything on one machine: memberlist's local timings
};

struct Slot {
  bool set = false;
  Value value;
  std::string origin;
  std::map<std::string, std::string> entry_origins;  // maps: per entry
};

class Merger {
 public:
  Merger() : slots_(schema().size()) {}

  Slot& at(const KeySpec* spec) {
    size_t i = static_cast<size_t>(spec - schema().data());
    AGENT_ASSERT(i < slots_.size());
    return slots_[i];
  }
  Slot& at(std::string_view name) {
    const KeySpec* spec = find_key(name);
    AGENT_ASSERT_MSG(spec != nullptr, "config key missing from the schema");
    return at(spec);
  }

  void apply(Entry& e) {
    Slot& s = at(e.spec);
    if (e.spec->type == KeyType::kMap) {
      for (auto& [k, v] : e.value.map) {
        s.value.map[k] = v;
        s.entry_origins[k] = e.origin;
      }
    } else {
      s.value = std::move(e.value);
    }
    s.origin = std::move(e.origin);
    s.set = true;
  }

  std::vector<Slot>& slots() { return slots_; }

 private:
  std::vector<Slot> slots_;
};

std::string map_origin(const Slot& s) {
  std::vector<std::string> distinct;
  for (const auto& [k, origin] : s.entry_origins) {
    if (std::find(distinct.begin(), distinct.end(), origin) == distinct.end()) {
      distinct.push_back(origin);
    }
  }
  std::string out;
  for (const std::string& o : distinct) {
    if (!out.empty()) out += "; ";
    out += o;
  }
  return out;
}

// Sets an unset slot from default text. The schema's own defaults are programmer input: if one
// does not parse, the table is wrong, and that is an invariant.
void set_default(const KeySpec& spec, Slot* s, std::string_view text, std::string_view origin) {
  std::string why;
  bool ok = value_from_text(spec, text, &s->value, &why);
  AGENT_ASSERT_MSG(ok, why.c_str());
  s->origin = std::string(origin);
}

void add_error(std::vector<std::string>* errors, std::string_view key, std::string_view why,
               std::string_view origin) {
  errors->push_back(std::string(key) + ": " + std::string(why) + " (from " + std::string(origin) +
                    ")");
}

bool has_role(const Value& roles, std::string_view role) {
  return std::find(roles.list.begin(), roles.list.end(), role) != roles.list.end();
}

void cross_checks(Merger& m, std::vector<std::string>* errors) {
  const Slot& server = m.at("server");
  const Slot& expect = m.at("bootstrap_expect");
  const Slot& roles = m.at("roles");
  if (expect.value.i > 0 && !server.value.b) {
    add_error(errors, "bootstrap_expect",
              "needs server=true (server is false, from " + server.origin + ")", expect.origin);
  }
  if (has_role(roles.value, "foundation") && !server.value.b) {
    add_error(errors, "roles",
              "the foundation role needs server=true (server is false, from " + server.origin + ")",
              roles.origin);
  }
  if (server.value.b && !has_role(roles.value, "foundation")) {
    add_error(errors, "roles",
              "a server must have the foundation role (server=true, from " + server.origin + ")",
              roles.origin);
  }
  {
    const Slot& ca = m.at("tls.ca_file");
    const Slot& cert = m.at("tls.cert_file");
    const Slot& key = m.at("tls.key_file");
    bool any = !ca.value.s.empty() || !cert.value.s.empty() || !key.value.s.empty();
    const Slot* parts[] = {&ca, &cert, &key};
    static constexpr std::string_view kNames[] = {"tls.ca_file", "tls.cert_file", "tls.key_file"};
    for (size_t i = 0; i < 3 && any; ++i) {
      if (parts[i]->value.s.empty()) {
        add_error(errors, kNames[i], "must be set with the other tls.* files (the CA, certificate and key go together)",
                  parts[i]->origin);
      }
    }
  }
  static constexpr std::string_view kPorts[] = {"ports.http", "ports.rpc", "ports.gossip",
                                                "ports.dns"};
  for (size_t i = 0; i < std::size(kPorts); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const Slot& a = m.at(kPorts[j]);
      const Slot& b = m.at(kPorts[i]);
      if (a.value.i == b.value.i) {
        add_error(errors, kPorts[i],
                  std::to_string(b.value.i) + " is also " + std::string(kPorts[j]) + " (from " +
                      a.origin + ")",
                  b.origin);
      }
    }
  }
}

std::string join_errors(const std::vector<std::string>& errors) {
  std::string out;
  size_t n = std::min(errors.size(), kErrorsMax);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += '\n';
    out += errors[i];
  }
  if (errors.size() > n) {
    out += "\n... and " + std::to_string(errors.size() - n) + " more errors";
  }
  return out;
}

cJSON* checked(cJSON* json) {
  AGENT_ASSERT_MSG(json != nullptr, "out of memory building config JSON");
  return json;
}

cJSON* value_json(const KeySpec& spec, const Setting& s) {
  if (spec.secret && !s.value.empty()) return checked(cJSON_CreateString(s.value.c_str()));
  const Value& v = s.typed;
  switch (spec.type) {
    case KeyType::kString:
    case KeyType::kEnum:
    case KeyType::kIp:
    case KeyType::kAddress:
      return checked(cJSON_CreateString(v.s.c_str()));
    case KeyType::kBool:
      return checked(cJSON_CreateBool(v.b));
    case KeyType::kInt:
    case KeyType::kBytes:
      return checked(cJSON_CreateNumber(static_cast<double>(v.i)));
    case KeyType::kDuration:
      return checked(cJSON_CreateString(format_duration(v.i).c_str()));
    case KeyType::kList: {
      cJSON* a = checked(cJSON_CreateArray());
      for (const std::string& item : v.list) {
        cJSON_AddItemToArray(a, checked(cJSON_CreateString(item.c_str())));
      }
      return a;
    }
    case KeyType::kMap: {
      cJSON* o = checked(cJSON_CreateObject());
      for (const auto& [k, val] : v.map) {
        cJSON_AddItemToObject(o, k.c_str(), checked(cJSON_CreateString(val.c_str())));
      }
      return o;
    }
  }
  return checked(cJSON_CreateNull());
}

}  // namespace

base::Result<Config> load(const LoadInputs& in) {
  AGENT_ASSERT(in.fs != nullptr);
  std::vector<std::string> errors;

  // Flags are parsed first because -config decides which files are read, but they are applied
  // last: they have the highest precedence.
  Collected flags;
  std::vector<std::string> flag_paths;
  read_flags(in.flags, &flags, &flag_paths);

  Collected read;
  if (flag_paths.empty())
    read_files(*in.fs, in.config_paths, /*skip_missing=*/true, &read);
  else
    read_files(*in.fs, flag_paths, /*skip_missing=*/false, &read);
  read_cmdline(in.kernel_cmdline, &read);
  read_environment(in.environment, &read);
  const size_t flags_at = read.entries.size(), flag_errors_at = read.errors.size();
  for (Entry& e : flags.entries) read.entries.push_back(std::move(e));
  for (std::string& e : flags.errors) read.errors.push_back(std::move(e));
  for (ValueError& v : flags.value_errors) {
    v.entries_before += flags_at;
    v.error_index += flag_errors_at;
    read.value_errors.push_back(std::move(v));
  }
  std::vector<ServiceDoc> services = std::move(read.services);
  std::vector<ServiceDoc> jobs = std::move(read.jobs);
  // A refused value is an error unless a later source set the key (sources.h, ValueError).
  std::vector<bool> replaced(read.errors.size(), false);
  for (const ValueError& v : read.value_errors) {
    for (size_t i = v.entries_before; i < read.entries.size() && !replaced[v.error_index]; ++i) {
      replaced[v.error_index] = read.entries[i].spec->name == v.key;
    }
  }
  for (size_t i = 0; i < read.errors.size(); ++i) {
    if (!replaced[i]) errors.push_back(std::move(read.errors[i]));
  }

  Merger m;
  for (Entry& e : read.entries) m.apply(e);

  // A map merged from several sources can outgrow its limit though each part was fine.
  for (const KeySpec& spec : schema()) {
    Slot& s = m.at(&spec);
    std::string why;
    if (s.set && spec.type == KeyType::kMap && !check_value(spec, s.value, &why)) {
      add_error(&errors, spec.name, why, map_origin(s));
    }
  }

  // Plain defaults, then dev-mode ones.
  Slot& dev_slot = m.at("dev");
  bool dev = dev_slot.set && dev_slot.value.b;
  for (const KeySpec& spec : schema()) {
    Slot& s = m.at(&spec);
    // Their defaults are derived below, from the hostname and from data_dir.
    if (s.set || spec.name == "node_name" || spec.name == "socket_path") continue;
    set_default(spec, &s, spec.default_text, "default");
    for (const DevDefault& d : kDevDefaults) {
      if (dev && d.key == spec.name) set_default(spec, &s, d.text, "dev default");
    }
  }

  // Derived defaults, checked like any other value: the hostname is the machine's input.
  Slot& node_name = m.at("node_name");
  if (!m.at("node_name").set) {
    std::string_view host = in.hostname;
    host = host.substr(0, host.find('.'));
    node_name.value.s = std::string(host);
    node_name.origin = "hostname";
    std::string why;
    if (host.empty()) {
      add_error(&errors, "node_name", "not set, and the hostname is unknown; set node_name",
                "hostname");
    } else if (!check_value(*find_key("node_name"), node_name.value, &why)) {
      add_error(&errors, "node_name", why + "; set node_name", "hostname");
    }
  }
  Slot& server = m.at("server");
  Slot& expect = m.at("bootstrap_expect");
  if (!expect.set && dev && server.value.b) {
    expect.value.i = 1;  // a dev server elects itself
    expect.origin = "dev default";
  }
  Slot& roles = m.at("roles");
  if (!roles.set) {
    roles.value.list = {server.value.b ? "foundation" : "worker"};
    roles.origin = "default (from server)";
  }

  cross_checks(m, &errors);
  if (!errors.empty()) return base::Status(base::Code::kInvalidArgument, join_errors(errors));

  Slot& data_dir = m.at("data_dir");
  if (dev && !data_dir.set) {
    if (!in.dev_data_dir.empty()) {
      data_dir.value.s = in.dev_data_dir;
    } else {
      base::Result<std::string> tmp = in.fs->make_temp_dir("agent-dev");
      if (!tmp.is_ok()) {
        return base::Status(
            tmp.status().code(),
            "data_dir: cannot make a temporary directory for dev mode: " + tmp.status().message());
      }
      data_dir.value.s = *tmp;
    }
    data_dir.origin = "dev default";
  }
  Slot& socket = m.at("socket_path");
  if (!socket.set) {
    socket.value.s = data_dir.value.s;
    if (socket.value.s.empty() || socket.value.s.back() != '/') socket.value.s += '/';
    socket.value.s += "agent.sock";
    socket.origin = "default (<data_dir>/agent.sock)";
    std::string why;
    if (!check_value(*find_key("socket_path"), socket.value, &why)) {
      add_error(&errors, "socket_path", why + "; set socket_path", socket.origin);
      return base::Status(base::Code::kInvalidArgument, join_errors(errors));
    }
  }

  Config c;
  for (const KeySpec& spec : schema()) {
    Slot& s = m.at(&spec);
    spec.store(c, s.value);
    Setting setting;
    setting.key = std::string(spec.name);
    setting.origin =
        spec.type == KeyType::kMap && !s.entry_origins.empty() ? map_origin(s) : s.origin;
    if (spec.secret && !s.value.s.empty()) {
      setting.value = "<hidden>";
    } else {
      setting.value = value_to_text(spec, s.value);
      setting.typed = s.value;
    }
    c.settings.push_back(std::move(setting));
  }
  c.services = std::move(services);
  c.jobs = std::move(jobs);
  return c;
}

void JsonDeleter::operator()(cJSON* json) const { cJSON_Delete(json); }

JsonPtr to_json(const Config& config, bool with_origins) {
  JsonPtr root(checked(with_origins ? cJSON_CreateArray() : cJSON_CreateObject()));
  for (const Setting& s : config.settings) {
    const KeySpec* spec = find_key(s.key);
    AGENT_ASSERT_MSG(spec != nullptr, s.key.c_str());
    cJSON* value = value_json(*spec, s);
    if (with_origins) {
      cJSON* row = checked(cJSON_CreateObject());
      cJSON_AddItemToObject(row, "Key", checked(cJSON_CreateString(s.key.c_str())));
      cJSON_AddItemToObject(row, "Value", value);
      cJSON_AddItemToObject(row, "Origin", checked(cJSON_CreateString(s.origin.c_str())));
      cJSON_AddItemToArray(root.get(), row);
      continue;
    }
    // "ports.http" goes to root["ports"]["http"].
    cJSON* parent = root.get();
    std::string_view rest = s.key;
    for (size_t dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
      std::string part(rest.substr(0, dot));
      cJSON* child = cJSON_GetObjectItemCaseSensitive(parent, part.c_str());
      if (child == nullptr) {
        child = checked(cJSON_CreateObject());
        cJSON_AddItemToObject(parent, part.c_str(), child);
      }
      parent = child;
      rest.remove_prefix(dot + 1);
    }
    cJSON_AddItemToObject(parent, std::string(rest).c_str(), value);
  }
  return root;
}

std::string to_json_text(const Config& config, bool with_origins) {
  JsonPtr json = to_json(config, with_origins);
  char* text = cJSON_Print(json.get());
  AGENT_ASSERT_MSG(text != nullptr, "out of memory printing config JSON");
  std::string out(text);
  cJSON_free(text);
  return out;
}

}  // namespace config
