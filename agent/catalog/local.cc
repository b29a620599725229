// See local.h.
#include "agent/catalog/local.h"

#include <utility>

namespace catalog {
namespace {

constexpr const char* kModule = "catalog";
// A registration of the largest shape service.h allows is about 60 KiB of JSON.
constexpr size_t kRegistrationBytesMax = 128 * 1024;

http::Response json_response(int status, const http::Json& doc) {
  auto text = doc.dump();
  if (!text.is_ok()) return http::Response::error(500, "out of memory building the response");
  return http::Response::json(status, std::move(text).value());
}

}  // namespace

LocalServices::LocalServices(hal::Fs& fs, std::string data_dir, std::string datacenter, base::Logger& log,
                             std::function<void()> on_fatal, size_t services_max)
    : fs_(fs),
      path_(std::move(data_dir) + "/services.json"),
      datacenter_(std::move(datacenter)),
      log_(log),
      on_fatal_(std::move(on_fatal)),
      services_max_(services_max) {}

base::Status LocalServices::load() {
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
  services_ = std::move(loaded);
  ++version_;
  if (!services_.empty()) AGENT_LOG_INFO(log_, kModule, "%zu service(s) registered, from %s", services_.size(), path_.c_str());
  return base::Status::ok();
}

base::Status LocalServices::save(const std::map<std::string, Service>& next) {
  http::Json doc = http::Json::array();
  for (const auto& [id, s] : next) fill_registration(doc, doc.add_object(doc.get(), ""), s);
  auto text = doc.dump();
  if (!text.is_ok()) return text.status();
  std::string bytes = std::move(text).value() + "\n";
  return fs_.write_file(path_, base::as_bytes(bytes), 0600, /*durable=*/true);
}

base::Status LocalServices::put(const Service& s) {
  auto it = services_.find(s.id);
  if (it != services_.end() && it->second == s) return base::Status::ok();
  if (it == services_.end() && services_.size() >= services_max_) {
    return base::error(base::Code::kResourceExhausted, "this node already has %zu services, the most it keeps",
                       services_.size());
  }
  std::map<std::string, Service> next = services_;
  next[s.id] = s;
  base::Status st = save(next);
  if (!st.is_ok()) {
    AGENT_LOG_ERROR(log_, kModule, "cannot persist the services in %s: %s; stopping", path_.c_str(), st.to_string().c_str());
    if (on_fatal_) on_fatal_();
    return base::error(base::Code::kIo, "cannot persist the services: %s", st.message().c_str());
  }
  AGENT_LOG_INFO(log_, kModule, "service %s (%s) %s", s.id.c_str(), s.name.c_str(), it == services_.end() ? "registered" : "updated");
  services_ = std::move(next);
  ++version_;
  return base::Status::ok();
}

base::Status LocalServices::remove(const std::string& id) {
  if (services_.count(id) == 0) return base::error(base::Code::kNotFound, "Unknown service ID \"%s\"", id.c_str());
  std::map<std::string, Service> next = services_;
  next.erase(id);
  base::Status st = save(next);
  if (!st.is_ok()) {
    AGENT_LOG_ERROR(log_, kModule, "cannot persist the services in %s: %s; stopping", path_.c_str(), st.to_string().c_str());
    if (on_fatal_) on_fatal_();
    return base::error(base::Code::kIo, "cannot persist the services: %s", st.message().c_str());
  }
  AGENT_LOG_INFO(log_, kModule, "service %s deregistered", id.c_str());
  services_ = std::move(next);
  ++version_;
  return base::Status::ok();
}

void LocalServices::add_routes(http::Router& router) {
  auto bind = [this](void (LocalServices::*fn)(http::Request&, http::Responder)) {
    return [this, fn](http::Request& q, http::Responder r) { (this->*fn)(q, std::move(r)); };
  };
  router.add("PUT", "/v1/agent/service/register", bind(&LocalServices::handle_register));
  router.add_prefix("PUT", "/v1/agent/service/deregister/", bind(&LocalServices::handle_deregister));
  router.add("GET", "/v1/agent/services", bind(&LocalServices::handle_list));
  router.add_prefix("GET", "/v1/agent/service/", bind(&LocalServices::handle_one));
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
    resp.send(http::Response::error(st.code() == base::Code::kResourceExhausted ? 429 : 500, st.message()));
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
  resp.send(json_response(200, doc));
}

void LocalServices::handle_one(http::Request& req, http::Responder resp) {
  auto it = services_.find(std::string(req.path_rest()));
  if (it == services_.end()) {
    resp.send(http::Response::error(404, "Unknown service ID \"" + std::string(req.path_rest()) + "\""));
    return;
  }
  http::Json doc = http::Json::object();
  fill_agent_service(doc, doc.get(), it->second, datacenter_);
  resp.send(json_response(200, doc));
}

}  // namespace catalog
