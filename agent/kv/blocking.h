// kv::BlockingReads: Consul's read modes and blocking queries for any read of the state store
// (the KV API's and the catalog's and health's), over a kv::Backend (backend.h).
//
// serve() takes a GET's ?stale / ?consistent (both at once: 400), ?index=N and ?wait=D, runs the
// caller's read on a worker with the store locked, and answers the response the read built with
// Consul's headers added: X-Consul-Index (never 0: 1 instead), X-Consul-KnownLeader,
// X-Consul-LastContact and X-Consul-Effective-Consistency.
//
// Blocking queries (Consul's semantics): with ?index=N > 0 the read is repeated each time the
// backend's applied index moves, and answered once its index exceeds N or the wait ends (?wait in
// Go duration syntax; default 5 min, at most 10 min, plus a random jitter of up to wait/16 so
// that many watchers do not return at once). Parked queries share ONE backend watch, and the
// queries a move wakes are re-read together, one backend read per read mode (so a write under a
// thousand watchers is one worker task, well inside the backend's bounded queue). Waiting queries
// are bounded (BlockingOptions::blocking_queries_max; past it a 429) and dropped, timer released,
// when the client's connection closes (Responder::on_cancel).
//
// Threading: the loop thread only, except each ReadFn, which runs on a worker thread with the
// store locked and must touch nothing but the store and its own captures. Ownership: borrows the
// Loop, Backend and Logger, which must outlive it; callbacks the backend still holds when it is
// destroyed find it gone (a liveness token) and do nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/random.h"
#include "agent/base/time.h"
#include "agent/http/router.h"
#include "agent/kv/backend.h"
#include "agent/runtime/loop.h"
#include "agent/state/store.h"

namespace kv {

struct BlockingOptions {
  // Blocking queries waiting at once across all connections. Each holds a Responder and a timer
  // (they share one backend watch); 4096 is far more than a fleet's consul-template instances.
  size_t blocking_queries_max = 4096;
  // ?wait when absent or 0 (Consul's 5 min) and its ceiling (Consul's max_query_time, 10 min).
  base::Duration wait_default = base::Duration::seconds(300);
  base::Duration wait_max = base::Duration::seconds(600);
  // Seeds the wait jitter (spreading, not security); the agent passes entropy, tests a constant.
  uint64_t jitter_seed = 0;
};

// What one read found, filled on the worker thread.
struct ReadAnswer {
  base::Status status;      // the read itself failed (a SQLite error): answered 500
  uint64_t index = 0;       // X-Consul-Index before the 0 -> 1 rule
  http::Response response;  // the answer without the X-Consul-* headers
};
// Reads the store and fills the answer (an error: the read failed, answered 500). Runs on a worker
// thread; may run several times for one blocking query.
using ReadFn = std::function<base::Status(const state::Store& store, ReadAnswer* out)>;

class BlockingReads {
 public:
  BlockingReads(runtime::Loop& loop, Backend& backend, base::Logger& logger, std::string_view module,
                BlockingOptions options = {});
  BlockingReads(const BlockingReads&) = delete;
  BlockingReads& operator=(const BlockingReads&) = delete;
  ~BlockingReads();

  // Answers `request` with `read` (see above); parameter errors are answered here (400).
  void serve(const http::Request& request, http::Responder responder, ReadFn read);

  // Reads in progress: blocking queries waiting or re-reading, and plain reads in flight.
  size_t queries() const { return queries_.size(); }
  // Blocking queries among them (bounded by blocking_queries_max).
  size_t blocking_queries() const { return blocking_; }
  // Blocking queries parked on the shared watch (not re-reading).
  size_t parked_queries() const { return parked_; }

 private:
  struct Result {
    ReadAnswer answer;
    uint64_t applied = 0;  // the store's last applied index the read saw
  };
  // One GET until it is answered. Owned by queries_; every callback finds it by id, so a query
  // dropped meanwhile (its connection closed) is simply not found.
  struct Query {
    Consistency mode = Consistency::kDefault;
    ReadFn read;
    uint64_t min_index = 0;  // > 0: a blocking query
    base::MonoTime deadline;
    http::Responder responder;
    bool reading = false;
    bool parked = false;        // waiting for the applied index to pass seen_applied
    uint64_t seen_applied = 0;  // the applied index its last read saw
    runtime::TimerId timer = runtime::kNoTimer;
    // The last read's answer, which the deadline sends.
    std::shared_ptr<Result> last;
    ReadMeta last_meta;
  };
  // Reads for every query in `ids` (all of mode `mode`) in ONE backend read.
  void read_batch(Consistency mode, std::vector<uint64_t> ids);
  void on_result(uint64_t id, std::shared_ptr<Result> result, const ReadMeta& meta);
  // Parks query `id` until the applied index passes what its read saw.
  void park(uint64_t id);
  // Keeps one backend watch armed at the smallest seen_applied of the parked queries (none when
  // nothing is parked).
  void arm_watch();
  void on_watch();
  void on_deadline(uint64_t id);
  // Sends `response` for query `id` and forgets it (timer released).
  void finish(uint64_t id, http::Response response);
  // Forgets query `id` without answering (its connection closed).
  void drop(uint64_t id);
  http::Response answer(const Query& q, const Result& r, const ReadMeta& meta) const;

  runtime::Loop& loop_;
  Backend& backend_;
  base::Logger& logger_;
  std::string module_;
  BlockingOptions options_;
  base::Prng prng_;
  std::map<uint64_t, std::unique_ptr<Query>> queries_;
  size_t blocking_ = 0;
  size_t parked_ = 0;
  uint64_t next_query_id_ = 1;
  bool has_watch_ = false;
  WatchId watch_id_ = 0;
  uint64_t watch_after_ = 0;
  std::shared_ptr<BlockingReads*> alive_;
};

// Consul's plain-text error bodies, and how a backend error reaches a client: kResourceExhausted
// 429, kInvalidArgument 400, kUnavailable 500 ("No cluster leader" when it says nothing), else 500.
http::Response text_error(int status, std::string message);
http::Response backend_error(const base::Status& s);

// Go's time.ParseDuration subset Consul's clients send ("10s", "1m30s", "500ms", "1.5s", "0").
// Negative durations are refused. False when `text` is not one.
bool parse_go_duration(std::string_view text, base::Duration* out);
// A strict decimal uint64 ("" and anything else refused), as Go's strconv.ParseUint(s, 10, 64).
bool parse_u64(std::string_view text, uint64_t* out);

}  // namespace kv
