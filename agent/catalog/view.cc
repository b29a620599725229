// CatalogView: see view.h.
#include "agent/catalog/view.h"

#include <utility>

#include "agent/http/json.h"
#include "agent/kv/blocking.h"

namespace catalog {

namespace {

constexpr std::string_view kModule = "dns";
constexpr base::Duration kBackoffMax = base::Duration::seconds(30);

const char* str(const cJSON* o, const char* k) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : nullptr;
}

}  // namespace

bool CatalogView::parse(std::string_view body, size_t bytes_max, std::vector<ViewInstance>* out) {
  auto doc = http::Json::parse(body, bytes_max);
  if (!doc.is_ok()) return false;
  const cJSON* nodes = cJSON_GetObjectItemCaseSensitive(doc->get(), "Nodes");
  if (!cJSON_IsArray(nodes)) return false;
  std::vector<ViewInstance> v;
  const cJSON* n = nullptr;
  cJSON_ArrayForEach(n, nodes) {
    const char* name = str(n, "Node");
    const char* address = str(n, "Address");
    const cJSON* services = cJSON_GetObjectItemCaseSensitive(n, "Services");
    if (name == nullptr || address == nullptr || !cJSON_IsArray(services)) return false;
    const cJSON* s = nullptr;
    cJSON_ArrayForEach(s, services) {
      ViewInstance in;
      const char* service = str(s, "Service");
      const char* saddr = str(s, "Address");
      const char* health = str(s, "Health");
      const cJSON* port = cJSON_GetObjectItemCaseSensitive(s, "Port");
      const cJSON* tags = cJSON_GetObjectItemCaseSensitive(s, "Tags");
      if (service == nullptr || saddr == nullptr || health == nullptr || !cJSON_IsNumber(port) || !cJSON_IsArray(tags)) return false;
      if (port->valuedouble < 0 || port->valuedouble > 65535 || !wire::parse_check_health(health, &in.health)) return false;
      in.node = name;
      in.service = service;
      in.address = *saddr != '\0' ? saddr : address;
      in.port = static_cast<uint16_t>(port->valuedouble);
      const cJSON* t = nullptr;
      cJSON_ArrayForEach(t, tags) {
        if (!cJSON_IsString(t)) return false;
        in.tags.emplace_back(t->valuestring);
      }
      v.push_back(std::move(in));
    }
  }
  *out = std::move(v);
  return true;
}

CatalogView::CatalogView(runtime::Loop& loop, Dispatch dispatch, base::Logger& log, size_t bytes_max)
    : loop_(loop), dispatch_(std::move(dispatch)), log_(log), bytes_max_(bytes_max), alive_(std::make_shared<CatalogView*>(this)) {}

CatalogView::~CatalogView() {
  alive_.reset();
  if (timer_ != runtime::kNoTimer) loop_.cancel(timer_);
}

void CatalogView::start() { query(); }

void CatalogView::query() {
  timer_ = runtime::kNoTimer;
  http::Request req;
  req.method = "GET";
  req.target = "/v1/internal/catalog/view?stale&index=" + std::to_string(index_) + "&wait=60s";
  req.path = "/v1/internal/catalog/view";
  req.raw_query = req.target.substr(req.target.find('?') + 1);
  req.query = {{"stale", ""}, {"index", std::to_string(index_)}, {"wait", "60s"}};
  std::weak_ptr<CatalogView*> weak = alive_;
  dispatch_(std::move(req), [weak](http::Response r) {
    if (auto self = weak.lock()) (*self)->on_answer(std::move(r));
  });
}

void CatalogView::on_answer(http::Response r) {
  if (r.status != 200) {
    retry_later("HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200));
    return;
  }
  std::vector<ViewInstance> next;
  if (r.body.size() > bytes_max_ || !parse(r.body, bytes_max_, &next)) {
    retry_later("the answer is not a catalog view");
    return;
  }
  const std::string* idx = http::find_header(r.headers, "X-Consul-Index");
  uint64_t index = 0;
  if (idx == nullptr || !kv::parse_u64(*idx, &index)) index = 0;
  if (stale_) AGENT_LOG_INFO(log_, kModule, "the catalog view is current again (index %llu)", static_cast<unsigned long long>(index));
  stale_ = false;
  backoff_ = base::Duration::seconds(1);
  if (!has_view_ || index != index_) {  // the same index: the same catalog
    instances_ = std::move(next);
    ++version_;
  }
  has_view_ = true;
  // Consul's clients: an index that went backwards (or none) starts over.
  index_ = index < index_ ? 0 : index;
  query();
}

void CatalogView::retry_later(const std::string& why) {
  if (!stale_ && has_view_) {
    AGENT_LOG_WARN(log_, kModule, "cannot follow the catalog (%s); DNS answers from the last view (stale), retrying", why.c_str());
  } else if (!stale_) {
    // At start the foundations may not be known or formed yet: not a warning.
    AGENT_LOG_INFO(log_, kModule, "no catalog view yet (%s); DNS answers for this node's services, retrying", why.c_str());
  }
  stale_ = true;
  std::weak_ptr<CatalogView*> weak = alive_;
  auto t = loop_.arm_after(backoff_, [weak] {
    if (auto self = weak.lock()) (*self)->query();
  });
  if (t.is_ok()) timer_ = *t;
  backoff_ = std::min(backoff_ * 2, kBackoffMax);
}

}  // namespace catalog
