// catalog::LocalServices: the services registered on this node (issue 5 item 1), as Consul's
// agent keeps its local state. The node's DNS server answers for them (<svc>.service,
// <tag>.<svc>.service, _<svc>._tcp SRV) and, once anti-entropy exists, the node pushes them to
// the catalog on the foundations.
//
// API (Consul's shapes; service.h for the registration's rules):
//   PUT /v1/agent/service/register             body: a registration; replaces one with the same ID
//   PUT /v1/agent/service/deregister/<id>      404 "Unknown service ID" if none
//   GET /v1/agent/services                     {"<id>": AgentService, ...}
//   GET /v1/agent/service/<id>                 AgentService, or 404
//
// Durability: registrations survive a restart, as Consul's do: each change rewrites
// <data_dir>/services.json (a JSON array of registrations, written durably in one rename)
// before it is answered; a failed write answers 500 and stops the agent (STYLE.md: never retry
// a failed fsync), since whether the file holds the change is then unknown. At start a file
// that does not decode is an error naming the file (the agent does not start with half its
// services).
//
// Bounds: at most `services_max` services; the file at most kServicesFileBytesMax.
// Threading: the loop thread. Ownership: borrows the Fs and logger.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "agent/base/log.h"
#include "agent/catalog/service.h"
#include "agent/http/router.h"
#include "hal/fs.h"

namespace catalog {

inline constexpr size_t kServicesMaxDefault = 512;
inline constexpr size_t kServicesFileBytesMax = 8u << 20;

class LocalServices {
 public:
  // `on_fatal` runs after a failed write of the file (the agent stops).
  LocalServices(hal::Fs& fs, std::string data_dir, std::string datacenter, base::Logger& log,
                std::function<void()> on_fatal, size_t services_max = kServicesMaxDefault);

  // Reads <data_dir>/services.json if it exists.
  [[nodiscard]] base::Status load();
  void add_routes(http::Router& router);

  // Registers or replaces `s`; kResourceExhausted past services_max, kIo if the file write failed.
  [[nodiscard]] base::Status put(const Service& s);
  // kNotFound if no such ID.
  [[nodiscard]] base::Status remove(const std::string& id);

  const std::map<std::string, Service>& services() const { return services_; }
  // Bumped by every change, so a reader (the DNS view) knows when to rebuild.
  uint64_t version() const { return version_; }

 private:
  base::Status save(const std::map<std::string, Service>& next);
  void handle_register(http::Request& req, http::Responder resp);
  void handle_deregister(http::Request& req, http::Responder resp);
  void handle_list(http::Request& req, http::Responder resp);
  void handle_one(http::Request& req, http::Responder resp);

  hal::Fs& fs_;
  std::string path_;
  std::string datacenter_;
  base::Logger& log_;
  std::function<void()> on_fatal_;
  size_t services_max_;
  std::map<std::string, Service> services_;  // by ID
  uint64_t version_ = 0;
};

}  // namespace catalog
