// CatalogApi: Consul's catalog and health HTTP endpoints over the foundations' state store (issue
// 5 item 4), for Traefik's Consul catalog provider, consul-template, Prometheus
// consul_sd_configs and registrator:
//   GET /v1/catalog/services          {"<name>": ["<tag>", ...], ...}
//   GET /v1/catalog/service/<name>    [CatalogService ...]  ?tag=T (repeatable: every tag)
//   GET /v1/catalog/nodes             [Node ...]
//   GET /v1/catalog/node/<name>       {"Node": Node, "Services": {"<id>": AgentService}} or null
//   GET /v1/health/service/<name>     [{"Node", "Service", "Checks"} ...]  ?passing (no instance
//                                     whose node or service has a check that is not passing:
//                                     Consul's filter, warning excluded too), ?tag=T
//   GET /v1/health/state/<state>      [Check ...], state any|passing|warning|critical
//   GET /v1/health/node/<name>        [Check ...]
//   GET /v1/health/checks/<service>   [Check ...]
//   PUT /v1/internal/catalog/sync     Weft's own: the body is one encoded catalog sync command
//                                     (wire/catalog_command.h; an agent's AntiEntropy sends it),
//                                     checked, then proposed unless this server's store already
//                                     holds exactly that (a stale read); answers true, 400 naming
//                                     what is wrong, or the backend's error.
//   GET /v1/internal/catalog/view     Weft's own, for the agents' DNS views: {"Nodes": [{"Node",
//                                     "Address", "Services": [{"Service", "Tags", "Address",
//                                     "Port", "Health"}]}]}, Health the worst of the instance's
//                                     and its node's checks; blocking like the rest.
// in Consul's JSON shapes (field names and order as Consul writes them), with ?stale,
// ?consistent, ?index&wait blocking queries and the X-Consul-* headers (kv::BlockingReads).
// X-Consul-Index is the index at which the tables an answer reads last changed (Consul's table
// indexes): services for /catalog/services, nodes and services for the catalog's service and node
// reads, nodes for /catalog/nodes, checks for the health reads of checks alone, all three for
// /health/service. A name that is not there answers [] (or null for /catalog/node), as Consul
// does. ?dc, ?near, ?node-meta and ?filter are accepted and ignored (one datacenter; no
// coordinates yet).
//
// Threading: the loop thread. Ownership: borrows the Loop, Backend and Logger.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/base/log.h"
#include "agent/http/router.h"
#include "agent/kv/backend.h"
#include "agent/kv/blocking.h"
#include "agent/runtime/loop.h"

namespace catalog {

class CatalogApi {
 public:
  CatalogApi(runtime::Loop& loop, kv::Backend& backend, base::Logger& logger, kv::BlockingOptions options = {});
  void add_routes(http::Router& router);

  // Reads in progress and blocking queries among them (kv::BlockingReads).
  size_t queries() const { return reads_.queries(); }
  size_t blocking_queries() const { return reads_.blocking_queries(); }
  // Syncs proposed, and those answered without a proposal (nothing had changed).
  uint64_t syncs_proposed() const { return syncs_proposed_; }
  uint64_t syncs_unchanged() const { return syncs_unchanged_; }

 private:
  void handle_sync(http::Request& req, http::Responder resp);
  void propose_sync(std::string body, std::shared_ptr<http::Responder> holder);

  kv::Backend& backend_;
  kv::BlockingReads reads_;
  std::shared_ptr<CatalogApi*> alive_;
  uint64_t syncs_proposed_ = 0;
  uint64_t syncs_unchanged_ = 0;
};

}  // namespace catalog
