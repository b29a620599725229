// image/image_api.cc -- see image_api.h.
#include "agent/image/image_api.h"

#include "agent/http/json.h"
#include "agent/image/oci.h"

namespace image {

namespace {

constexpr size_t kRequestBytesMax = 8192;

int http_status(const base::Status& s) {
  switch (s.code()) {
    case base::Code::kNotFound: return 404;
    case base::Code::kInvalidArgument: return 400;
    case base::Code::kResourceExhausted: return 413;
    case base::Code::kFailedPrecondition: return 409;
    default: return 500;
  }
}

// What a job on the executor hands back to the loop (std::function wants copyable closures).
struct Job {
  http::Responder responder;
  base::Result<std::vector<Image>> loaded = base::error(base::Code::kInternal, "not run");
  base::Status status;
};

}  // namespace

void ImageApi::add_routes(http::Router& router) {
  router.add("PUT", "/v1/images/load", [this](http::Request& q, http::Responder r) { handle_load(q, std::move(r)); });
  router.add("POST", "/v1/images/load", [this](http::Request& q, http::Responder r) { handle_load(q, std::move(r)); });
  router.add("GET", "/v1/images", [this](http::Request& q, http::Responder r) { handle_list(q, std::move(r)); });
  router.add_prefix("DELETE", "/v1/images/", [this](http::Request& q, http::Responder r) { handle_remove(q, std::move(r)); });
}

void ImageApi::handle_list(http::Request&, http::Responder r) {
  http::Json doc = http::Json::array();
  for (const Image& image : store_->list()) image_to_json(doc, doc.add_object(doc.get(), ""), image);
  r.send(http::json_response(200, doc));
}

void ImageApi::handle_load(http::Request& q, http::Responder r) {
  auto body = http::Json::parse(q.body, kRequestBytesMax);
  if (!body.is_ok()) return r.send(http::Response::error(400, "body: " + body.status().message()));
  std::string path, name;
  if (!http::json_get_string(body->get(), "Path", &path) || path.empty() || path[0] != '/') {
    return r.send(http::Response::error(400, "\"Path\" must be an absolute path to an image archive or OCI layout directory"));
  }
  if (cJSON_GetObjectItemCaseSensitive(body->get(), "Name") != nullptr && !http::json_get_string(body->get(), "Name", &name)) {
    return r.send(http::Response::error(400, "\"Name\" must be a string"));
  }
  if (busy_) return r.send(http::Response::error(409, "an image load or removal is already running on this node"));
  auto job = std::make_shared<Job>();
  job->responder = std::move(r);
  std::shared_ptr<ImageStore> store = store_;
  int64_t now = clock_.wall_now().unix_ns();
  std::weak_ptr<bool> alive = alive_;
  base::Status s = executor_.submit([job, store, path, name, now] { job->loaded = store->load(path, name, now); },
                                    [this, job, alive] {
                                      if (auto a = alive.lock(); a && *a) busy_ = false;
                                      if (!job->loaded.is_ok()) {
                                        const base::Status& e = job->loaded.status();
                                        return job->responder.send(http::Response::error(http_status(e), e.message()));
                                      }
                                      http::Json doc = http::Json::object();
                                      cJSON* list = doc.add_array(doc.get(), "Images");
                                      for (const Image& image : *job->loaded) image_to_json(doc, doc.add_object(list, ""), image);
                                      job->responder.send(http::json_response(200, doc));
                                    });
  if (!s.is_ok()) return job->responder.send(http::Response::error(503, s.message()));
  busy_ = true;
}

void ImageApi::handle_remove(http::Request& q, http::Responder r) {
  std::string ref(q.path_rest());
  if (ref.empty()) return r.send(http::Response::error(400, "DELETE /v1/images/<name:tag or sha256:digest>"));
  if (busy_) return r.send(http::Response::error(409, "an image load or removal is already running on this node"));
  auto job = std::make_shared<Job>();
  job->responder = std::move(r);
  std::shared_ptr<ImageStore> store = store_;
  std::weak_ptr<bool> alive = alive_;
  base::Status s = executor_.submit([job, store, ref] { job->status = store->remove(ref); },
                                    [this, job, alive, ref] {
                                      if (auto a = alive.lock(); a && *a) busy_ = false;
                                      if (!job->status.is_ok()) {
                                        return job->responder.send(http::Response::error(http_status(job->status), job->status.message()));
                                      }
                                      http::Json doc = http::Json::object();
                                      doc.add_string("Removed", ref);
                                      job->responder.send(http::json_response(200, doc));
                                    });
  if (!s.is_ok()) return job->responder.send(http::Response::error(503, s.message()));
  busy_ = true;
}

}  // namespace image
