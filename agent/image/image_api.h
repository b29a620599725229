// image/image_api.h -- the node's image API over an ImageStore (Weft's own paths; Nomad has no
// image API, Docker's /images/load takes the archive as the body, which a node-local agent
// reading a file it already has does not need):
//   PUT    /v1/images/load   {"Path": "/abs/archive-or-layout", "Name": "optional:tag"}
//                            -> {"Images": [...]} (store.h's refusals as 400 with the reason)
//   GET    /v1/images        -> [image, ...]  (oci.h's image_to_json shape)
//   DELETE /v1/images/<ref>  -> {"Removed": "<ref>"}; <ref> is name:tag or sha256:<hex>
// A load runs on the executor (it reads and unpacks gigabytes); its answer comes back to the
// loop through the executor's done closure. At most one load is queued or running per API: a
// second answers 409 rather than queueing behind a long unpack. Removal runs on the executor too
// (it deletes layer trees).
//
// Threading: handlers on the loop thread; the store's work on the executor's threads.
// Ownership: shares the store with the work in flight (a load still running when the agent
// shuts down keeps it alive until it ends); borrows the executor and clock, which outlive it.
// Destroying the API while a load runs is safe: the done closure checks `alive_`.
#pragma once

#include <memory>

#include "agent/http/router.h"
#include "agent/image/store.h"
#include "agent/runtime/worker_pool.h"
#include "hal/clock.h"

namespace image {

class ImageApi {
 public:
  ImageApi(std::shared_ptr<ImageStore> store, runtime::Executor& executor, hal::Clock& clock)
      : store_(std::move(store)), executor_(executor), clock_(clock) {}
  ~ImageApi() { *alive_ = false; }
  ImageApi(const ImageApi&) = delete;
  ImageApi& operator=(const ImageApi&) = delete;

  void add_routes(http::Router& router);

 private:
  void handle_load(http::Request& q, http::Responder r);
  void handle_list(http::Request& q, http::Responder r);
  void handle_remove(http::Request& q, http::Responder r);

  std::shared_ptr<ImageStore> store_;
  runtime::Executor& executor_;
  hal::Clock& clock_;
  bool busy_ = false;  // a load or removal is queued or running
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace image
