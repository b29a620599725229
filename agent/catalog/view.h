// CatalogView: a node's local copy of the fleet's service instances (issue 5 item 5), which its
// DNS server answers from. It follows the foundations' catalog by a blocking query on
// `GET /v1/internal/catalog/view?stale` (catalog_api.h) through `dispatch` -- the agent's own
// router, so a server reads its store and a client agent forwards to any server -- and asks again
// as soon as each answer arrives, so a change reaches every node within a round trip. ?stale:
// any server answers, and a node keeps its view when the leader is gone.
//
// When the foundations cannot be reached the last view stays (answers stay local and go on; the
// log says once that they are stale, and again when the view is current) and the query is
// retried with backoff (1 s doubling to 30 s). An answer that does not parse, or is over
// `bytes_max`, is treated the same way. X-Consul-Index going backwards (a catalog restored from
// an older snapshot) starts the query over from 0, as Consul's clients do.
//
// Threading: the loop thread. Ownership: borrows the loop and logger.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/time.h"
#include "agent/http/message.h"
#include "agent/runtime/loop.h"
#include "agent/wire/catalog_command.h"

namespace catalog {

struct ViewInstance {
  std::string node;
  std::string service;
  std::vector<std::string> tags;
  std::string address;  // the instance's, or else its node's
  uint16_t port = 0;
  wire::CheckHealth health = wire::CheckHealth::kPassing;
};

class CatalogView {
 public:
  using Dispatch = std::function<void(http::Request request, std::function<void(http::Response)> done)>;
  CatalogView(runtime::Loop& loop, Dispatch dispatch, base::Logger& log, size_t bytes_max = size_t{64} << 20);
  ~CatalogView();
  CatalogView(const CatalogView&) = delete;
  CatalogView& operator=(const CatalogView&) = delete;

  void start();
  // Whether a view arrived at least once, and whether the last query failed since.
  bool has_view() const { return has_view_; }
  bool stale() const { return stale_; }
  const std::vector<ViewInstance>& instances() const { return instances_; }
  // Moves whenever instances() changes.
  uint64_t version() const { return version_; }
  uint64_t index() const { return index_; }

  // Parses a view answer's body; false if it is not one.
  static bool parse(std::string_view body, size_t bytes_max, std::vector<ViewInstance>* out);

 private:
  void query();
  void on_answer(http::Response r);
  void retry_later(const std::string& why);

  runtime::Loop& loop_;
  Dispatch dispatch_;
  base::Logger& log_;
  size_t bytes_max_;
  std::vector<ViewInstance> instances_;
  bool has_view_ = false;
  bool stale_ = false;
  uint64_t version_ = 0;
  uint64_t index_ = 0;
  base::Duration backoff_ = base::Duration::seconds(1);
  runtime::TimerId timer_ = runtime::kNoTimer;
  std::shared_ptr<CatalogView*> alive_;
};

}  // namespace catalog
