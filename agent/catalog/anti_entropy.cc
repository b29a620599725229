// AntiEntropy: see anti_entropy.h.
#include "agent/catalog/anti_entropy.h"

#include <utility>

namespace catalog {

namespace {

constexpr std::string_view kModule = "catalog";

wire::CheckHealth health_of(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPassing: return wire::CheckHealth::kPassing;
    case CheckStatus::kWarning: return wire::CheckHealth::kWarning;
    case CheckStatus::kCritical: break;
  }
  return wire::CheckHealth::kCritical;
}

const char* type_of(const CheckDef& d) {
  if (d.ttl_ns != 0) return "ttl";
  if (!d.tcp.empty()) return "tcp";
  if (!d.http.empty()) return "http";
  if (!d.args.empty()) return "script";
  return "";
}

}  // namespace

wire::CatalogNode catalog_node_of(const NodeIdentity& self, const LocalServices& local) {
  wire::CatalogNode n;
  n.node = self.node;
  n.id = self.id;
  n.address = self.address;
  n.datacenter = self.datacenter;
  for (const auto& [id, s] : local.services()) {
    wire::CatalogService c;
    c.id = s.id;
    c.name = s.name;
    c.tags = s.tags;
    c.address = s.address;
    c.port = s.port;
    for (const auto& [k, v] : s.meta) c.meta.emplace_back(k, v);  // a std::map: sorted, unique
    n.services.push_back(std::move(c));
  }
  for (const auto& [id, st] : local.checks()) {
    wire::CatalogCheck c;
    c.id = id;
    c.name = st.def.name;
    c.status = health_of(st.status);
    c.notes = st.def.notes;
    c.output = st.output.substr(0, wire::kCatalogOutputBytesMax);
    c.service_id = st.service_id;
    c.type = type_of(st.def);
    n.checks.push_back(std::move(c));
  }
  for (const auto& [id, nc] : local.node_checks()) {
    wire::CatalogCheck c;
    c.id = id;
    c.name = nc.name;
    c.status = health_of(nc.status);
    c.output = nc.output.substr(0, wire::kCatalogOutputBytesMax);
    n.checks.push_back(std::move(c));
  }
  return n;
}

AntiEntropy::AntiEntropy(runtime::Loop& loop, const LocalServices& local, NodeIdentity self, Dispatch dispatch,
                         base::Logger& log, base::Duration full_every, base::Duration retry)
    : loop_(loop),
      local_(local),
      self_(std::move(self)),
      dispatch_(std::move(dispatch)),
      log_(log),
      full_every_(full_every),
      retry_(retry),
      alive_(std::make_shared<AntiEntropy*>(this)) {}

AntiEntropy::~AntiEntropy() {
  alive_.reset();
  if (timer_ != runtime::kNoTimer) loop_.cancel(timer_);
}

void AntiEntropy::start() { tick(); }

void AntiEntropy::tick() {
  timer_ = runtime::kNoTimer;
  const base::MonoTime now = loop_.now();
  const bool changed = local_.version() != pushed_version_;
  const bool due = pushes_ == 0 || now - last_push_ >= full_every_;
  if (!in_flight_ && now >= next_attempt_ && (changed || due)) push();
  std::weak_ptr<AntiEntropy*> weak = alive_;
  auto t = loop_.arm_after(base::Duration::seconds(1), [weak] {
    if (auto self = weak.lock()) (*self)->tick();
  });
  if (t.is_ok()) timer_ = *t;
}

bool AntiEntropy::failing() const {
  return failing_ || (in_flight_ && loop_.now() - push_started_ >= kPushOverdue);
}

void AntiEntropy::push() {
  if (before_push_) before_push_();
  const uint64_t version = local_.version();
  auto bytes = wire::encode_catalog_sync(catalog_node_of(self_, local_));
  if (!bytes.is_ok()) {
    // Every local bound is inside the command's; this is a bug, said once per run of failures.
    if (!failing_) AGENT_LOG_ERROR(log_, kModule, "cannot encode this node's catalog state: %s", bytes.status().message().c_str());
    failing_ = true;
    ++failures_;
    next_attempt_ = loop_.now() + full_every_;
    return;
  }
  http::Request req;
  req.method = "PUT";
  req.target = "/v1/internal/catalog/sync";
  req.path = req.target;
  req.headers.push_back(http::Header{"content-type", "application/octet-stream"});
  req.body = std::move(bytes).value();
  in_flight_ = true;
  push_started_ = loop_.now();
  std::weak_ptr<AntiEntropy*> weak = alive_;
  dispatch_(std::move(req), [weak, version](http::Response r) {
    auto self = weak.lock();
    if (!self) return;
    AntiEntropy& a = **self;
    a.in_flight_ = false;
    if (r.status == 200) {
      if (a.failing_) AGENT_LOG_INFO(a.log_, kModule, "catalog sync succeeded again");
      a.failing_ = false;
      a.pushed_version_ = version;
      a.last_push_ = a.loop_.now();
      ++a.pushes_;
      return;
    }
    if (!a.failing_) {
      AGENT_LOG_WARN(a.log_, kModule, "catalog sync failed (HTTP %d: %s); retrying every %lld s", r.status,
                     r.body.substr(0, 200).c_str(), static_cast<long long>(a.retry_.ns() / 1000000000));
    }
    a.failing_ = true;
    ++a.failures_;
    a.next_attempt_ = a.loop_.now() + a.retry_;
  });
}

}  // namespace catalog
