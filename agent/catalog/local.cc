// See local.h.
#include "agent/catalog/local.h"

#include <algorithm>
#include <utility>

#include "agent/config/parse.h"

namespace catalog {
namespace {

constexpr const char* kModule = "catalog";

}  // namespace

LocalServices::LocalServices(runtime::Loop& loop, hal::Fs& fs, hal::Net& net, std::string data_dir, std::string datacenter,
                             std::string node_name, base::Logger& log, std::function<void()> on_fatal, size_t services_max)
    : loop_(loop),
      fs_(fs),
      net_(net),
      path_(data_dir + "/services.json"),
      states_path_(std::move(data_dir) + "/check-states.json"),
      datacenter_(std::move(datacenter)),
      node_name_(std::move(node_name)),
      log_(log),
      on_fatal_(std::move(on_fatal)),
      services_max_(services_max) {}

LocalServices::~LocalServices() {
  for (auto& [id, c] : checks_) stop_check(c);
  if (reap_timer_ != runtime::kNoTimer) loop_.cancel(reap_timer_);
  for (int64_t pid : unreaped_) (void)exec_->try_wait(pid);  // SIGKILLed: most are gone by now
}

void LocalServices::stop_check(CheckState& c) {
  if (c.timer != runtime::kNoTimer) loop_.cancel(c.timer);
  c.timer = runtime::kNoTimer;
  if (c.out != hal::kInvalidHandle) {
    loop_.unwatch(c.out);
    exec_->close(c.out);
    c.out = hal::kInvalidHandle;
  }
  if (c.pid != 0) {
    exec_->kill(c.pid);
    if (!exec_->try_wait(c.pid).is_ok()) reap_later(c.pid);
    c.pid = 0;
  }
  c.exec_out.clear();
  if (c.conn != hal::kInvalidHandle) {
    loop_.unwatch(c.conn);
    net_.close(c.conn);
    c.conn = hal::kInvalidHandle;
  }
  c.connected = false;
  c.parser.reset();
  c.http_out.clear();
  c.http_out_at = 0;
}

base::Status LocalServices::load() {
  load_states();
  auto text = fs_.read_file(path_, kServicesFileBytesMax);
  if (!text.is_ok()) {
    if (text.status().code() == base::Code::kNotFound) return base::Status::ok();
    return base::error(text.status().code(), "%s: %s", path_.c_str(), text.status().message().c_str());
  }
  auto fail = [&](const std::string& why) {
    return base::error(base::Code::kInvalidArgument,
                       "%s: %s; it holds the services registered through the API: fix it, or remove it to start "
                       "with none",
                       path_.c_str(), why.c_str());
  };
  auto doc = http::Json::parse(*text, kServicesFileBytesMax);
  if (!doc.is_ok()) return fail(doc.status().message());
  if (!cJSON_IsArray(doc->get())) return fail("not a JSON array");
  std::map<std::string, Service> loaded;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, doc->get()) {
    auto s = decode_registration(http::json_dump(item), kRegistrationBytesMax);
    if (!s.is_ok()) return fail("service " + std::to_string(loaded.size() + 1) + ": " + s.status().message());
    if (loaded.size() >= services_max_) return fail("more than " + std::to_string(services_max_) + " services");
    std::string id = s->id;
    loaded[id] = std::move(s).value();
  }
  std::map<std::string, std::string> owner;  // check ID -> service ID
  for (const auto& [id, svc] : loaded) {
    for (const CheckDef& d : svc.checks) {
      if (!owner.emplace(d.id, id).second) return fail("services " + owner[d.id] + " and " + id + " both have the check " + d.id);
    }
  }
  services_ = std::move(loaded);
  sync_checks();
  ++version_;
  if (!services_.empty()) AGENT_LOG_INFO(log_, kModule, "%zu service(s) registered, from %s", services_.size(), path_.c_str());
  return base::Status::ok();
}

base::Status LocalServices::save(const std::map<std::string, Service>& next, const std::set<std::string>& from_config) {
  http::Json doc = http::Json::array();
  for (const auto& [id, s] : next) {
    if (from_config.count(id) == 0) fill_registration(doc, doc.add_object(doc.get(), ""), s);
  }
  auto text = doc.dump();
  if (!text.is_ok()) return text.status();
  std::string bytes = std::move(text).value() + "\n";
  return fs_.write_file(path_, base::as_bytes(bytes), 0600, /*durable=*/true);
}

base::Status LocalServices::put(const Service& s) { return put(s, /*from_config=*/false); }
base::Status LocalServices::put_from_config(const Service& s) { return put(s, /*from_config=*/true); }

base::Status LocalServices::put(const Service& s, bool from_config) {
  auto it = services_.find(s.id);
  if (it != services_.end() && it->second == s && from_config_.count(s.id) == static_cast<size_t>(from_config)) {
    return base::Status::ok();
  }
  if (it == services_.end() && services_.size() >= services_max_) {
    return base::error(base::Code::kResourceExhausted, "this node already has %zu services, the most it keeps",
                       services_.size());
  }
  for (const CheckDef& d : s.checks) {
    if (!d.args.empty() && exec_ == nullptr) {
      return base::error(base::Code::kPermissionDenied,
                         "check %s runs a command (Args), and exec checks are off on this node: the operator enables them "
                         "with enable_exec_checks",
                         d.id.c_str());
    }
    if (node_checks_.count(d.id) != 0) {
      return base::error(base::Code::kAlreadyExists, "the check ID \"%s\" is this node's own check's", d.id.c_str());
    }
    auto c = checks_.find(d.id);
    if (c != checks_.end() && c->second.service_id != s.id) {
      return base::error(base::Code::kAlreadyExists, "the check ID \"%s\" is service %s's", d.id.c_str(),
                         c->second.service_id.c_str());
    }
  }
  std::map<std::string, Service> next = services_;
  next[s.id] = s;
  std::set<std::string> next_config = from_config_;
  if (from_config) {
    next_config.insert(s.id);
  } else {
    next_config.erase(s.id);
  }
  // The file changes unless a config service replaces nothing the file holds.
  const bool in_file = it != services_.end() && from_config_.count(s.id) == 0;
  base::Status st = from_config && !in_file ? base::Status::ok() : save(next, next_config);
  if (!st.is_ok()) {
    AGENT_LOG_ERROR(log_, kModule, "cannot persist the services in %s: %s; stopping", path_.c_str(), st.to_string().c_str());
    if (on_fatal_) on_fatal_();
    return base::error(base::Code::kIo, "cannot persist the services: %s", st.message().c_str());
  }
  AGENT_LOG_INFO(log_, kModule, "service %s (%s) %s%s", s.id.c_str(), s.name.c_str(), it == services_.end() ? "registered" : "updated",
                 from_config ? " from the config files" : "");
  services_ = std::move(next);
  from_config_ = std::move(next_config);
  sync_checks();
  ++version_;
  return base::Status::ok();
}

base::Status LocalServices::remove(const std::string& id) {
  if (services_.count(id) == 0) return base::error(base::Code::kNotFound, "Unknown service ID \"%s\"", id.c_str());
  std::map<std::string, Service> next = services_;
  next.erase(id);
  std::set<std::string> next_config = from_config_;
  next_config.erase(id);
  // A service from the config files (or a task's) is not in the file: nothing to write.
  base::Status st = from_config_.count(id) != 0 ? base::Status::ok() : save(next, next_config);
  if (!st.is_ok()) {
    AGENT_LOG_ERROR(log_, kModule, "cannot persist the services in %s: %s; stopping", path_.c_str(), st.to_string().c_str());
    if (on_fatal_) on_fatal_();
    return base::error(base::Code::kIo, "cannot persist the services: %s", st.message().c_str());
  }
  AGENT_LOG_INFO(log_, kModule, "service %s deregistered", id.c_str());
  services_ = std::move(next);
  from_config_ = std::move(next_config);
  sync_checks();
  ++version_;
  return base::Status::ok();
}

void LocalServices::sync_checks() {
  std::map<std::string, CheckState> next;
  for (const auto& [id, svc] : services_) {
    for (const CheckDef& d : svc.checks) {
      auto old = checks_.find(d.id);
      if (old != checks_.end() && old->second.service_id == id && old->second.def == d) {
        CheckState kept = std::move(old->second);
        checks_.erase(old);
        next.emplace(d.id, std::move(kept));
        continue;
      }
      CheckState c;
      c.service_id = id;
      c.def = d;
      c.status = d.initial;
      if (auto r = restored_.find(d.id); r != restored_.end() && d.ttl_ns != 0) {
        c.status = r->second.status;
        c.output = std::move(r->second.output);
        restored_.erase(r);
      }
      next.emplace(d.id, std::move(c));
    }
  }
  for (auto& [id, c] : checks_) stop_check(c);  // the ones that went (kept ones were moved out)
  checks_ = std::move(next);
  // Start the new ones (a kept one has its timer or connection already).
  for (auto& [id, c] : checks_) {
    if (c.timer != runtime::kNoTimer || c.conn != hal::kInvalidHandle) continue;
    if (c.def.ttl_ns != 0) {
      arm_ttl(id, c);
    } else {
      arm_probe(id, c, base::Duration::nanos(0));
    }
  }
}

void LocalServices::arm_probe(const std::string& check_id, CheckState& c, base::Duration delay) {
  auto t = loop_.arm_after(delay, [this, check_id] {
    auto it = checks_.find(check_id);
    if (it == checks_.end()) return;
    it->second.timer = runtime::kNoTimer;
    run_probe(check_id);
  });
  if (!t.is_ok()) {
    set_status(check_id, c, CheckStatus::kCritical, "cannot arm the check's timer: " + t.status().message());
    return;
  }
  c.timer = *t;
}

void LocalServices::run_probe(const std::string& check_id) {
  CheckState& c = checks_.at(check_id);
  if (!c.def.args.empty()) {
    run_exec(check_id);
    return;
  }
  const bool http = !c.def.http.empty();
  // How the output names the attempt, as Consul's does.
  const std::string what = http ? "HTTP " + c.def.method + " " + c.def.http : "TCP connect " + c.def.tcp;
  base::Result<hal::Handle> h = net_.connect(c.def.tcp_addr);
  if (!h.is_ok()) {
    finish_probe(check_id, CheckStatus::kCritical, what + ": " + h.status().message());
    return;
  }
  c.conn = *h;
  if (http) {
    http::ClientRequest req;
    req.method = c.def.method;
    req.target = c.def.http_target;
    req.host = c.def.tcp_addr.to_string();
    for (const auto& [name, value] : c.def.headers) req.headers.push_back(http::Header{name, value});
    if (find_header(req.headers, "User-Agent") == nullptr) req.headers.push_back(http::Header{"User-Agent", "Weft Health Check"});
    req.body = c.def.body;
    c.http_out.clear();
    c.http_out_at = 0;
    http::write_request(req, &c.http_out);
    http::ClientLimits limits;
    limits.body_bytes_max = kCheckResponseBytesMax;
    c.parser = std::make_unique<http::ResponseParser>(limits, c.def.method == "HEAD");
  }
  base::Status w = loop_.watch(c.conn, hal::kWritable, [this, check_id, what](uint8_t) { on_probe_io(check_id, what); });
  if (!w.is_ok()) {
    net_.close(c.conn);
    c.conn = hal::kInvalidHandle;
    finish_probe(check_id, CheckStatus::kCritical, what + ": " + w.message());
    return;
  }
  auto t = loop_.arm_after(base::Duration::nanos(c.def.timeout_ns), [this, check_id, what] {
    auto it = checks_.find(check_id);
    if (it == checks_.end()) return;
    it->second.timer = runtime::kNoTimer;
    finish_probe(check_id, CheckStatus::kCritical, what + ": timed out after " + config::format_duration(it->second.def.timeout_ns));
  });
  if (!t.is_ok()) {
    finish_probe(check_id, CheckStatus::kCritical, "cannot arm the check's timeout: " + t.status().message());
    return;
  }
  c.timer = *t;
}

void LocalServices::on_probe_io(const std::string& check_id, const std::string& what) {
  auto it = checks_.find(check_id);
  if (it == checks_.end() || it->second.conn == hal::kInvalidHandle) return;
  CheckState& c = it->second;
  if (!c.connected) {
    base::Status r = net_.connect_result(c.conn);
    if (r.code() == base::Code::kUnavailable) return;
    if (!r.is_ok()) return finish_probe(check_id, CheckStatus::kCritical, what + ": " + r.message());
    if (!c.parser) return finish_probe(check_id, CheckStatus::kPassing, what + ": Success");
    c.connected = true;
  }
  // HTTP: write the request, then read the response.
  while (c.http_out_at < c.http_out.size()) {
    base::Result<size_t> n = net_.write(c.conn, base::ByteSpan(reinterpret_cast<const uint8_t*>(c.http_out.data()) + c.http_out_at,
                                                               c.http_out.size() - c.http_out_at));
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kUnavailable) return;
      return finish_probe(check_id, CheckStatus::kCritical, what + ": " + n.status().message());
    }
    c.http_out_at += *n;
    if (c.http_out_at == c.http_out.size() && !loop_.set_interest(c.conn, hal::kReadable).is_ok()) {
      return finish_probe(check_id, CheckStatus::kCritical, what + ": cannot watch the connection");
    }
  }
  uint8_t buf[4096];
  base::Result<size_t> n = net_.read(c.conn, buf);
  if (!n.is_ok()) {
    if (n.status().code() == base::Code::kUnavailable) return;
    return finish_probe(check_id, CheckStatus::kCritical, what + ": " + n.status().message());
  }
  if (*n == 0) {
    c.parser->finish_eof();
  } else {
    c.parser->feed(std::string_view(reinterpret_cast<const char*>(buf), *n));
  }
  if (c.parser->failed()) return finish_probe(check_id, CheckStatus::kCritical, what + ": " + std::string(c.parser->error()));
  if (!c.parser->complete()) {
    if (*n == 0) finish_probe(check_id, CheckStatus::kCritical, what + ": the connection closed before the response ended");
    return;
  }
  // Consul's mapping: 2xx passing, 429 Too Many Requests warning, anything else critical.
  const http::ClientResponse r = c.parser->take();
  const CheckStatus status = r.status >= 200 && r.status <= 299 ? CheckStatus::kPassing
                             : r.status == 429                  ? CheckStatus::kWarning
                                                                : CheckStatus::kCritical;
  finish_probe(check_id, status, what + ": " + std::to_string(r.status) + " Output: " + r.body);
}

void LocalServices::run_exec(const std::string& check_id) {
  CheckState& c = checks_.at(check_id);
  if (exec_ == nullptr) {
    finish_probe(check_id, CheckStatus::kCritical, "exec checks are off on this node (enable_exec_checks)");
    return;
  }
  base::Result<hal::Child> child = exec_->spawn(c.def.args);
  if (!child.is_ok()) {
    finish_probe(check_id, CheckStatus::kCritical, "exec " + c.def.args[0] + ": " + child.status().message());
    return;
  }
  c.pid = child->pid;
  c.out = child->output;
  c.exec_out.clear();
  c.deadline = loop_.now() + base::Duration::nanos(c.def.timeout_ns);
  base::Status w = loop_.watch(c.out, hal::kReadable, [this, check_id](uint8_t) { on_exec_output(check_id); });
  if (!w.is_ok()) {
    finish_probe(check_id, CheckStatus::kCritical, "exec " + c.def.args[0] + ": " + w.message());
    return;
  }
  auto t = loop_.arm_after(base::Duration::nanos(c.def.timeout_ns), [this, check_id] {
    auto it = checks_.find(check_id);
    if (it == checks_.end()) return;
    it->second.timer = runtime::kNoTimer;
    await_exit(check_id);
  });
  if (!t.is_ok()) {
    finish_probe(check_id, CheckStatus::kCritical, "cannot arm the check's timeout: " + t.status().message());
    return;
  }
  c.timer = *t;
}

void LocalServices::on_exec_output(const std::string& check_id) {
  auto it = checks_.find(check_id);
  if (it == checks_.end()) return;
  CheckState& c = it->second;
  uint8_t buf[4096];
  for (int i = 0; i < 16; ++i) {  // at most 64 KiB per wake: a chatty child cannot hold the loop
    base::Result<size_t> n = exec_->read(c.out, buf);
    if (!n.is_ok() && n.status().code() == base::Code::kUnavailable) return;
    if (!n.is_ok() || *n == 0) {
      // End of its output (or a broken pipe): wait for the exit.
      loop_.unwatch(c.out);
      exec_->close(c.out);
      c.out = hal::kInvalidHandle;
      if (c.timer != runtime::kNoTimer) loop_.cancel(c.timer);
      c.timer = runtime::kNoTimer;
      await_exit(check_id);
      return;
    }
    const size_t room = kCheckOutputBytesMax - std::min(kCheckOutputBytesMax, c.exec_out.size());
    c.exec_out.append(reinterpret_cast<const char*>(buf), std::min(room, *n));
  }
}

void LocalServices::await_exit(const std::string& check_id) {
  CheckState& c = checks_.at(check_id);
  base::Result<int> code = exec_->try_wait(c.pid);
  if (code.is_ok()) {
    c.pid = 0;
    std::string output = std::move(c.exec_out);
    finish_probe(check_id, *code == 0 ? CheckStatus::kPassing : *code == 1 ? CheckStatus::kWarning : CheckStatus::kCritical,
                 output.empty() ? "exit " + std::to_string(*code) : output);
    return;
  }
  if (loop_.now() >= c.deadline) {
    std::string output = "Timed out (" + config::format_duration(c.def.timeout_ns) + ") running " + c.def.args[0];
    if (!c.exec_out.empty()) output += ": " + c.exec_out;
    finish_probe(check_id, CheckStatus::kCritical, output.substr(0, kCheckOutputBytesMax));  // stop_check kills it
    return;
  }
  // It closed its output but has not exited: look again shortly, until the deadline.
  auto t = loop_.arm_after(std::min(base::Duration::millis(20), c.deadline - loop_.now()), [this, check_id] {
    auto it = checks_.find(check_id);
    if (it == checks_.end()) return;
    it->second.timer = runtime::kNoTimer;
    await_exit(check_id);
  });
  if (t.is_ok()) c.timer = *t;
}

void LocalServices::reap_later(int64_t pid) {
  unreaped_.push_back(pid);
  if (reap_timer_ != runtime::kNoTimer) return;
  auto t = loop_.arm_after(base::Duration::seconds(1), [this] {
    reap_timer_ = runtime::kNoTimer;
    reap();
  });
  if (t.is_ok()) reap_timer_ = *t;
}

void LocalServices::reap() {
  std::vector<int64_t> left;
  for (int64_t pid : unreaped_) {
    base::Result<int> r = exec_->try_wait(pid);
    if (!r.is_ok() && r.status().code() == base::Code::kUnavailable) left.push_back(pid);
  }
  unreaped_.clear();
  for (int64_t pid : left) reap_later(pid);
}

void LocalServices::finish_probe(const std::string& check_id, CheckStatus status, const std::string& output) {
  CheckState& c = checks_.at(check_id);
  stop_check(c);
  // Consul's thresholds: a result counts only once enough like it came in a row.
  if (status == CheckStatus::kCritical) {
    c.successes = 0;
    if (++c.failures >= c.def.failures_before_critical) set_status(check_id, c, status, output);
  } else {
    c.failures = 0;
    if (++c.successes >= c.def.success_before_passing) set_status(check_id, c, status, output);
  }
  arm_probe(check_id, c, base::Duration::nanos(c.def.interval_ns));
}

void LocalServices::set_status(const std::string& check_id, CheckState& c, CheckStatus status, std::string_view output) {
  if (c.status != status) {
    AGENT_LOG_INFO(log_, kModule, "check %s: %s -> %s (%.*s)", check_id.c_str(), std::string(check_status_name(c.status)).c_str(),
                   std::string(check_status_name(status)).c_str(), static_cast<int>(std::min<size_t>(output.size(), 200)),
                   output.data());
    ++version_;
  }
  const std::string_view kept = output.substr(0, kCheckOutputBytesMax);
  const bool changed = c.status != status || c.output != kept;
  c.status = status;
  c.output.assign(kept);
  if (c.def.ttl_ns != 0 && changed) save_states();
}

// The TTL checks' states, so a restart does not turn every TTL check critical until its service
// reports again (Consul persists them too). A plain write: losing the last update to a crash
// only loses what the service will report again, and a failed write is logged, not fatal.
void LocalServices::save_states() {
  http::Json doc = http::Json::object();
  for (const auto& [id, c] : checks_) {
    if (c.def.ttl_ns == 0) continue;
    cJSON* o = doc.add_object(doc.get(), id);
    doc.add_string(o, "Status", check_status_name(c.status));
    doc.add_string(o, "Output", c.output);
  }
  auto text = doc.dump();
  base::Status st = text.is_ok() ? fs_.write_file(states_path_, base::as_bytes(*text), 0600, /*durable=*/false) : text.status();
  if (!st.is_ok()) AGENT_LOG_WARN(log_, kModule, "cannot keep the TTL checks' states in %s: %s", states_path_.c_str(), st.to_string().c_str());
}

// The states save_states() kept, for sync_checks() to start TTL checks from; a file that does not
// decode is logged and ignored (the checks start from their definitions, as without it).
void LocalServices::load_states() {
  restored_.clear();
  auto text = fs_.read_file(states_path_, kStatesFileBytesMax);
  if (!text.is_ok()) {
    if (text.status().code() != base::Code::kNotFound) {
      AGENT_LOG_WARN(log_, kModule, "%s: %s; TTL checks start from their definitions", states_path_.c_str(), text.status().message().c_str());
    }
    return;
  }
  auto doc = http::Json::parse(*text, kStatesFileBytesMax);
  if (!doc.is_ok() || !cJSON_IsObject(doc->get())) {
    AGENT_LOG_WARN(log_, kModule, "%s does not decode; TTL checks start from their definitions", states_path_.c_str());
    return;
  }
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, doc->get()) {
    const cJSON* status = cJSON_GetObjectItemCaseSensitive(item, "Status");
    const cJSON* output = cJSON_GetObjectItemCaseSensitive(item, "Output");
    CheckStatus s;
    if (item->string == nullptr || !cJSON_IsString(status) || !parse_check_status(status->valuestring, &s) || !cJSON_IsString(output)) continue;
    restored_[item->string] = NodeCheck{"", s, std::string(output->valuestring).substr(0, kCheckOutputBytesMax)};
  }
}

void LocalServices::arm_ttl(const std::string& check_id, CheckState& c) {
  if (c.timer != runtime::kNoTimer) loop_.cancel(c.timer);
  c.timer = runtime::kNoTimer;
  auto t = loop_.arm_after(base::Duration::nanos(c.def.ttl_ns), [this, check_id] {
    auto it = checks_.find(check_id);
    if (it == checks_.end()) return;
    it->second.timer = runtime::kNoTimer;
    set_status(check_id, it->second, CheckStatus::kCritical, "TTL expired");
  });
  if (!t.is_ok()) {
    // No timer to expire it: it cannot be trusted to be passing.
    set_status(check_id, c, CheckStatus::kCritical, "cannot arm the TTL timer: " + t.status().message());
    return;
  }
  c.timer = *t;
}

base::Status LocalServices::set_check(const std::string& check_id, CheckStatus status, std::string_view output) {
  auto it = checks_.find(check_id);
  if (it == checks_.end()) return base::error(base::Code::kNotFound, "Unknown check ID \"%s\"", check_id.c_str());
  CheckState& c = it->second;
  if (c.def.ttl_ns == 0) {
    return base::error(base::Code::kFailedPrecondition, "check \"%s\" is not a TTL check; the node runs it", check_id.c_str());
  }
  set_status(check_id, c, status, output);
  arm_ttl(check_id, c);
  return base::Status::ok();
}

void LocalServices::set_node_check(const std::string& id, const std::string& name, CheckStatus status, std::string_view output) {
  NodeCheck& c = node_checks_[id];
  if (c.name.empty() || c.status != status) ++version_;
  c.name = name;
  c.status = status;
  c.output = std::string(output.substr(0, kCheckOutputBytesMax));
}

CheckStatus LocalServices::service_health(const std::string& service_id) const {
  CheckStatus worst = CheckStatus::kPassing;
  auto svc = services_.find(service_id);
  if (svc == services_.end()) return worst;
  for (const CheckDef& d : svc->second.checks) {
    auto c = checks_.find(d.id);
    const CheckStatus s = c == checks_.end() ? CheckStatus::kCritical : c->second.status;
    if (static_cast<int>(s) > static_cast<int>(worst)) worst = s;
  }
  return worst;
}

void LocalServices::add_routes(http::Router& router) {
  auto bind = [this](void (LocalServices::*fn)(http::Request&, http::Responder)) {
    return [this, fn](http::Request& q, http::Responder r) { (this->*fn)(q, std::move(r)); };
  };
  router.add("PUT", "/v1/agent/service/register", bind(&LocalServices::handle_register));
  router.add_prefix("PUT", "/v1/agent/service/deregister/", bind(&LocalServices::handle_deregister));
  router.add("GET", "/v1/agent/services", bind(&LocalServices::handle_list));
  router.add_prefix("GET", "/v1/agent/service/", bind(&LocalServices::handle_one));
  router.add("GET", "/v1/agent/checks", bind(&LocalServices::handle_checks));
  router.add_prefix("PUT", "/v1/agent/check/pass/", bind(&LocalServices::handle_ttl));
  router.add_prefix("PUT", "/v1/agent/check/warn/", bind(&LocalServices::handle_ttl));
  router.add_prefix("PUT", "/v1/agent/check/fail/", bind(&LocalServices::handle_ttl));
  router.add_prefix("PUT", "/v1/agent/check/update/", bind(&LocalServices::handle_update));
}

void LocalServices::handle_register(http::Request& req, http::Responder resp) {
  auto s = decode_registration(req.body, kRegistrationBytesMax);
  if (!s.is_ok()) {
    const int status = s.status().code() == base::Code::kResourceExhausted ? 413 : 400;
    resp.send(http::Response::error(status, "Invalid service registration: " + s.status().message()));
    return;
  }
  base::Status st = put(*s);
  if (!st.is_ok()) {
    const int status = st.code() == base::Code::kResourceExhausted                                       ? 429
                       : st.code() == base::Code::kAlreadyExists || st.code() == base::Code::kPermissionDenied ? 400
                                                                                                              : 500;
    resp.send(http::Response::error(status, st.message()));
    return;
  }
  resp.send(http::Response::text(200, ""));
}

void LocalServices::handle_deregister(http::Request& req, http::Responder resp) {
  const std::string id(req.path_rest());
  base::Status st = id.empty() ? base::error(base::Code::kInvalidArgument, "missing service ID") : remove(id);
  if (!st.is_ok()) {
    const int status = st.code() == base::Code::kNotFound ? 404 : st.code() == base::Code::kInvalidArgument ? 400 : 500;
    resp.send(http::Response::error(status, st.message()));
    return;
  }
  resp.send(http::Response::text(200, ""));
}

void LocalServices::handle_list(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::object();
  for (const auto& [id, s] : services_) fill_agent_service(doc, doc.add_object(doc.get(), id), s, datacenter_);
  resp.send(http::json_response(200, doc));
}

void LocalServices::handle_one(http::Request& req, http::Responder resp) {
  auto it = services_.find(std::string(req.path_rest()));
  if (it == services_.end()) {
    resp.send(http::Response::error(404, "Unknown service ID \"" + std::string(req.path_rest()) + "\""));
    return;
  }
  http::Json doc = http::Json::object();
  fill_agent_service(doc, doc.get(), it->second, datacenter_);
  resp.send(http::json_response(200, doc));
}

void LocalServices::handle_checks(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::object();
  // One HealthCheck in Consul's shape; `svc` null for a node-level check.
  auto add = [&](const std::string& id, const std::string& name, CheckStatus status, const std::string& notes,
                 const std::string& output, const Service* svc, const char* type, const std::string& interval,
                 const std::string& timeout) {
    cJSON* o = doc.add_object(doc.get(), id);
    doc.add_string(o, "Node", node_name_);
    doc.add_string(o, "CheckID", id);
    doc.add_string(o, "Name", name);
    doc.add_string(o, "Status", check_status_name(status));
    doc.add_string(o, "Notes", notes);
    doc.add_string(o, "Output", output);
    doc.add_string(o, "ServiceID", svc != nullptr ? svc->id : "");
    doc.add_string(o, "ServiceName", svc != nullptr ? svc->name : "");
    cJSON* tags = doc.add_array(o, "ServiceTags");
    if (svc != nullptr) {
      for (const std::string& t : svc->tags) doc.add_string(tags, "", t);
    }
    doc.add_string(o, "Type", type);
    doc.add_string(o, "Interval", interval);
    doc.add_string(o, "Timeout", timeout);
    doc.add_i64(o, "ExposedPort", 0);
    doc.add_object(o, "Definition");
    doc.add_i64(o, "CreateIndex", 0);
    doc.add_i64(o, "ModifyIndex", 0);
  };
  for (const auto& [id, c] : checks_) {
    const bool ttl = c.def.ttl_ns != 0;
    add(id, c.def.name, c.status, c.def.notes, c.output, &services_.at(c.service_id),
        ttl ? "ttl" : !c.def.args.empty() ? "script" : c.def.http.empty() ? "tcp" : "http",
        ttl ? "" : config::format_duration(c.def.interval_ns), ttl ? "" : config::format_duration(c.def.timeout_ns));
  }
  for (const auto& [id, c] : node_checks_) add(id, c.name, c.status, "", c.output, nullptr, "", "", "");
  resp.send(http::json_response(200, doc));
}

void LocalServices::handle_ttl(http::Request& req, http::Responder resp) {
  // /v1/agent/check/<pass|warn|fail>/<id>: the verb is the path segment before the ID.
  const std::string_view path = req.path;
  const std::string id(req.path_rest());
  const std::string_view verb = path.substr(std::string_view("/v1/agent/check/").size(), 4);
  const CheckStatus status = verb == "pass" ? CheckStatus::kPassing : verb == "warn" ? CheckStatus::kWarning : CheckStatus::kCritical;
  const std::string* note = req.query_value("note");
  base::Status st = set_check(id, status, note != nullptr ? *note : "");
  if (!st.is_ok()) {
    resp.send(http::Response::error(st.code() == base::Code::kNotFound ? 404 : 400, st.message()));
    return;
  }
  resp.send(http::Response::text(200, ""));
}

void LocalServices::handle_update(http::Request& req, http::Responder resp) {
  const std::string id(req.path_rest());
  auto doc = http::Json::parse(req.body, kCheckOutputBytesMax + 1024);
  std::string status_text, output;
  CheckStatus status = CheckStatus::kCritical;
  if (!doc.is_ok() || !http::json_get_string(doc->get(), "Status", &status_text) || !parse_check_status(status_text, &status)) {
    resp.send(http::Response::error(400, "want a body {\"Status\": \"passing|warning|critical\", \"Output\": \"...\"}"));
    return;
  }
  http::json_get_string(doc->get(), "Output", &output);
  base::Status st = set_check(id, status, output);
  if (!st.is_ok()) {
    resp.send(http::Response::error(st.code() == base::Code::kNotFound ? 404 : 400, st.message()));
    return;
  }
  resp.send(http::Response::text(200, ""));
}

}  // namespace catalog
