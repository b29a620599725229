#include "agent/server/forward.h"

#include <utility>

#include "agent/base/bytes.h"
#include "agent/http/client.h"
#include "agent/http/request_parser.h"

namespace server {

namespace {

// A blocking query waits up to 10 minutes plus jitter; the RPC must outlive it.
constexpr base::Duration kBlockingTimeout = base::Duration::seconds(11 * 60);
constexpr base::Duration kTimeout = base::Duration::seconds(60);
// Largest forwarded response body (a recurse over a large prefix; the RPC frame bounds it too).
constexpr size_t kResponseBodyMax = 2u << 20;

}  // namespace

std::string encode_forwarded_response(const http::Response& r) {
  std::string out;
  base::ByteWriter w(&out, kResponseBodyMax + 64 * 1024);
  w.u16(static_cast<uint16_t>(r.status));
  size_t n = std::min(r.headers.size(), kForwardHeadersMax);
  w.varint(n);
  for (size_t i = 0; i < n; ++i) {
    w.str(r.headers[i].name);
    w.str(r.headers[i].value);
  }
  w.str(r.body);
  if (!w.ok()) return std::string();
  return out;
}

base::Status decode_forwarded_response(std::string_view body, http::Response* r) {
  base::ByteReader rd(base::as_bytes(body));
  r->status = rd.u16();
  uint64_t n = rd.varint();
  if (!rd.ok() || n > kForwardHeadersMax) return base::error(base::Code::kInvalidArgument, "malformed forwarded response");
  for (uint64_t i = 0; i < n; ++i) {
    std::string name(rd.str(1024));
    std::string value(rd.str(16 * 1024));
    r->headers.push_back(http::Header{std::move(name), std::move(value)});
  }
  r->body = std::string(rd.str(kResponseBodyMax));
  if (!rd.at_end() || r->status < 100 || r->status > 599) {
    return base::error(base::Code::kInvalidArgument, "malformed forwarded response");
  }
  return base::Status::ok();
}


void serve_forwarded(const http::Router& router, std::string body, rpc::Endpoint::Respond respond) {
  http::RequestParser parser;
  size_t used = parser.feed(body);
  if (!parser.complete() || used != body.size()) {
    http::Response bad = http::Response::error(parser.failed() ? parser.error_status() : 400,
                                               parser.failed() ? parser.error_reason() : "incomplete forwarded request");
    respond(encode_forwarded_response(bad));
    return;
  }
  http::Request req = parser.take();
  // Only the API a client agent forwards; anything else (a forwarded /v1/agent/leave, say) is
  // refused: a certificate of the cluster CA does not make its holder this node's operator.
  bool allowed = false;
  for (std::string_view p : {"/v1/kv/", "/v1/status/", "/v1/operator/raft/", "/v1/catalog/", "/v1/health/",
                             "/v1/internal/catalog/"}) {
    if (std::string_view(req.path).substr(0, p.size()) == p) allowed = true;
  }
  if (!allowed) {
    respond(encode_forwarded_response(http::Response::error(403, "this path is not served to forwarded requests")));
    return;
  }
  auto link = std::make_shared<http::DetachedLink>();
  link->done = [respond](http::Response r) {
    std::string out = encode_forwarded_response(r);
    if (out.empty()) {
      respond(base::error(base::Code::kResourceExhausted, "response too large to forward"));
      return;
    }
    respond(std::move(out));
  };
  router.dispatch(req, http::Responder::detached(link));
}

Forwarder::Forwarder(runtime::Loop& loop, hal::Net& net, const hal::tls::TlsConfig* client_tls, std::string server_name,
                     base::Logger& log, uint64_t seed)
    : has_identity_(client_tls != nullptr), prng_(seed) {
  if (client_tls != nullptr) {
    rpc::EndpointOptions options;
    options.limits.body_bytes_max = 4u << 20;
    endpoint_ = std::make_unique<rpc::Endpoint>(loop, net, nullptr, client_tls, std::move(server_name), log, options);
  }
}

void Forwarder::on_server(const ServerInfo& info) {
  if (info.id != raft::kNoServer) servers_[info.id] = info;
}

void Forwarder::add_routes(http::Router& router) {
  auto h = [this](http::Request& q, http::Responder r) { forward(q, std::move(r)); };
  for (const char* m : {"GET", "PUT", "DELETE"}) router.add_prefix(m, "/v1/kv/", h);
  router.add_prefix("GET", "/v1/status/", h);
  for (const char* m : {"GET", "POST", "PUT", "DELETE"}) router.add_prefix(m, "/v1/operator/raft/", h);
  router.add_prefix("GET", "/v1/catalog/", h);
  router.add_prefix("GET", "/v1/health/", h);
  router.add_prefix("PUT", "/v1/internal/catalog/", h);
  router.add_prefix("GET", "/v1/internal/catalog/", h);
}

void Forwarder::forward(http::Request& req, http::Responder resp) {
  if (!has_identity_) {
    resp.send(http::Response::error(503, "this agent is not a server and has no RPC identity (tls.ca_file, tls.cert_file, tls.key_file) to reach one"));
    return;
  }
  http::ClientRequest c;
  c.method = req.method;
  c.target = req.target;
  for (const char* name : {"content-type", "x-consul-token"}) {
    if (const std::string* v = req.header(name)) c.headers.push_back(http::Header{name, *v});
  }
  c.body = std::move(req.body);
  auto bytes = std::make_shared<std::string>();
  http::write_request(c, bytes.get());
  base::Duration timeout = req.has_query("index") ? kBlockingTimeout : kTimeout;
  send(bytes, req.method == "GET", 0, timeout, std::make_shared<http::Responder>(std::move(resp)));
}

Forwarder::~Forwarder() {
  closing_ = true;
  endpoint_.reset();
}

void Forwarder::send(std::shared_ptr<std::string> request, bool retry_ok, int attempt, base::Duration timeout,
                     std::shared_ptr<http::Responder> resp) {
  if (closing_ || endpoint_ == nullptr) {
    resp->send(http::Response::error(503, "the agent is stopping"));
    return;
  }
  std::vector<const ServerInfo*> alive;
  for (const auto& [id, s] : servers_) {
    if (s.alive && s.rpc) alive.push_back(&s);
  }
  if (alive.empty()) {
    resp->send(http::Response::error(503, "no server (foundation) is known alive in this datacenter"));
    return;
  }
  const ServerInfo* target = alive[(prng_.uniform(alive.size()) + static_cast<uint64_t>(attempt)) % alive.size()];
  endpoint_->call(*target->rpc, "http.forward", *request, timeout,
                  [this, request, retry_ok, attempt, timeout, resp](base::Result<std::string> r) {
                    if (!r.is_ok()) {
                      if (retry_ok && attempt == 0 && r.status().code() == base::Code::kUnavailable) {
                        send(request, retry_ok, 1, timeout, resp);
                        return;
                      }
                      int status = r.status().code() == base::Code::kTimeout ? 504 : 502;
                      resp->send(http::Response::error(status, "forwarding to a server: " + r.status().message()));
                      return;
                    }
                    http::Response out;
                    base::Status s = decode_forwarded_response(*r, &out);
                    if (!s.is_ok()) {
                      resp->send(http::Response::error(502, s.message()));
                      return;
                    }
                    resp->send(std::move(out));
                  });
}

}  // namespace server
