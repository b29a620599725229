// Forwarding the HTTP API of a client agent to the foundations (issue 4 item 5: "any agent can
// call any server").
//
// A client agent (no server mode) keeps no state store. Its /v1/kv/, /v1/status/,
// /v1/operator/raft/, /v1/catalog/, /v1/health/ and /v1/internal/catalog/ requests go, whole,
// over mutual-TLS RPC ("http.forward") to a foundation, which runs them through its own router
// exactly as if they had arrived on its API -- so a blocking query, a CAS, X-Consul-Index and
// every status code behave the same through any agent.
// The server answers with the response; the client agent replays it to its caller.
//
// Wire format of "http.forward":
//   request body:  the request as HTTP/1.1 bytes (http::write_request), parsed on the server by
//                  the same RequestParser, with the same limits, as a request on its socket;
//   response body: u16 status, varint header count (<= kForwardHeadersMax), that many
//                  { bytes name, bytes value }, bytes body.
// Only the headers the API reads (Content-Type, X-Consul-Token) are forwarded; hop-by-hop ones
// are dropped by write_request and the server's writer.
//
// Choosing a server: an alive foundation of this datacenter, starting from a random one per
// request; a GET that fails with kUnavailable (the server is down or unreachable) is tried once
// more on the next one. Writes are not retried: the first server may have applied them.
//
// Threading: the loop thread. Ownership: Forwarder borrows the loop, net, logger and TLS config.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "agent/base/log.h"
#include "agent/base/random.h"
#include "agent/http/router.h"
#include "agent/rpc/endpoint.h"
#include "agent/server/raft_host.h"

namespace server {

inline constexpr size_t kForwardHeadersMax = 64;

// Server side: parses a forwarded request, runs it through `router`, answers through `respond`.
// Paths outside the forwarded prefixes get 403 without reaching the router; bytes that are not
// one whole request get the parser's status (400, 413, ...).
void serve_forwarded(const http::Router& router, std::string body, rpc::Endpoint::Respond respond);
// The response codec of "http.forward" (above). decode: kInvalidArgument for anything malformed.
std::string encode_forwarded_response(const http::Response& r);
base::Status decode_forwarded_response(std::string_view body, http::Response* r);

class Forwarder {
 public:
  // `client_tls` null: the agent has no RPC identity; the routes then answer 503 saying so.
  Forwarder(runtime::Loop& loop, hal::Net& net, const hal::tls::TlsConfig* client_tls, std::string server_name,
            base::Logger& log, uint64_t seed);
  // Closes the endpoint first: the calls it fails then answer 503 instead of being retried on a
  // half-destroyed server table (an agent stopping with a forwarded blocking query in flight
  // spun in send() forever).
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;
  void on_server(const ServerInfo& info);
  void add_routes(http::Router& router);

 private:
  void forward(http::Request& req, http::Responder resp);
  void send(std::shared_ptr<std::string> request, bool retry_ok, int attempt, base::Duration timeout,
            std::shared_ptr<http::Responder> resp);

  bool has_identity_;
  std::unique_ptr<rpc::Endpoint> endpoint_;
  std::map<raft::ServerId, ServerInfo> servers_;
  base::Prng prng_;
  bool closing_ = false;
};

}  // namespace server
