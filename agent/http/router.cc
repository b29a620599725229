#include "agent/http/router.h"

#include <algorithm>
#include <utility>

namespace http {

void Router::add_to(std::map<std::string, Routes, std::less<>>* table, std::string_view method,
                    std::string_view pattern, Handler handler) {
  AGENT_ASSERT(is_token(method));
  AGENT_ASSERT(!pattern.empty() && pattern.front() == '/');
  AGENT_ASSERT(handler);
  Routes& routes = (*table)[std::string(pattern)];
  for (const Route& r : routes) AGENT_ASSERT_MSG(r.method != method, "route registered twice");
  routes.push_back(Route{std::string(method), std::move(handler)});
}

void Router::add(std::string_view method, std::string_view path, Handler handler) {
  add_to(&exact_, method, path, std::move(handler));
}

void Router::add_prefix(std::string_view method, std::string_view prefix, Handler handler) {
  add_to(&prefix_, method, prefix, std::move(handler));
}

size_t Router::routes() const {
  size_t n = 0;
  for (const auto& kv : exact_) n += kv.second.size();
  for (const auto& kv : prefix_) n += kv.second.size();
  return n;
}

void Router::dispatch(Request& request, Responder responder) const {
  auto exact = exact_.find(request.path);
  if (exact != exact_.end()) {
    request.route_prefix_bytes = request.path.size();
    pick(exact->second, request, std::move(responder));
    return;
  }
  // Longest prefix: the map is ordered, so scan for the longest key that prefixes the path.
  // Route tables are a few dozen entries; a linear scan is cheaper than anything cleverer.
  const std::pair<const std::string, Routes>* best = nullptr;
  for (const auto& kv : prefix_) {
    const std::string& p = kv.first;
    if (request.path.size() >= p.size() && request.path.compare(0, p.size(), p) == 0) {
      if (best == nullptr || p.size() > best->first.size()) best = &kv;
    }
  }
  if (best == nullptr) {
    responder.send(Response::error(404, "no such endpoint"));
    return;
  }
  request.route_prefix_bytes = best->first.size();
  pick(best->second, request, std::move(responder));
}

void Router::pick(const Routes& routes, Request& request, Responder responder) const {
  const Route* get = nullptr;
  for (const Route& r : routes) {
    if (r.method == request.method) {
      r.handler(request, std::move(responder));
      return;
    }
    if (r.method == "GET") get = &r;
  }
  if (request.method == "HEAD" && get != nullptr) {
    get->handler(request, std::move(responder));
    return;
  }
  std::vector<std::string_view> methods;
  for (const Route& r : routes) methods.push_back(r.method);
  if (get != nullptr) methods.push_back("HEAD");
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  std::string allow;
  for (std::string_view m : methods) {
    if (!allow.empty()) allow.append(", ");
    allow.append(m);
  }
  Response r = Response::error(405, "method not allowed");
  r.set_header("Allow", std::move(allow));
  responder.send(std::move(r));
}

Handler Router::handler() const {
  return [this](Request& request, Responder responder) { dispatch(request, std::move(responder)); };
}

}  // namespace http
