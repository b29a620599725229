// KvApi: Consul's KV HTTP API (GET/PUT/DELETE /v1/kv/<key>) over a kv::Backend (backend.h).
//
// Behaves as Consul's agent/kvs_endpoint.go does, so Consul's clients (the Go api package,
// consul-template, `curl`) work unchanged:
//   GET    ?recurse (every entry under the prefix), ?keys[&separator=S] (key names, cut after the
//          separator), ?raw (the value's bytes alone), ?index=N[&wait=D] (blocking query),
//          ?consistent / ?stale (read mode; both at once is a 400). Entries are JSON
//          [{"LockIndex","Key","Flags","Value","CreateIndex","ModifyIndex"}] with Value in
//          base64 and null when empty ("Session" only when set). A missing key (or an empty
//          prefix under ?recurse, or no keys under a non-empty ?keys prefix) is a 404 with an
//          empty body; ?keys at the root with nothing answers []. Every answer to a read carries
//          X-Consul-Index (never 0: 1 instead), X-Consul-KnownLeader, X-Consul-LastContact and
//          X-Consul-Effective-Consistency.
//   PUT    body = the raw value (at most 512 KiB, else 413 with Consul's message); ?flags=N;
//          ?cas=N (0: create only if absent). Answers true, or for cas whether it applied.
//   DELETE ?recurse (the whole prefix; the empty prefix is every key), ?cas=N. Answers true, or
//          for cas whether it applied. ?recurse with ?cas is a 400 ("Conflicting flags").
// X-Consul-Index of a read is the entry's modify index, or for a missing key, a list or a key
// listing the store's prefix_index(): the largest modify index or tombstone under the prefix,
// else the last applied index (Consul's table index).
//
// Blocking queries (Consul's semantics): with ?index=N > 0 the read is repeated each time the
// backend's applied index moves, and answered once its X-Consul-Index exceeds N or the wait ends
// (?wait in Go duration syntax; default 5 min, at most 10 min, plus a random jitter of up to
// wait/16 so that many watchers do not return at once). Parked queries share ONE backend watch,
// and the queries a move wakes are re-read together, one backend read per read mode (so a write
// under a thousand watchers is one worker task, well inside the backend's bounded queue). Waiting
// queries are bounded (KvOptions::blocking_queries_max; past it a 429) and dropped, timer
// released, when the client's connection closes (Responder::on_cancel).
//
// Errors keep Consul's plain-text bodies ("Missing key name", "Invalid index", ...). Where Consul
// departs from HTTP sense we do not: a bad ?flags or ?cas number is a 400 (Consul answers 500
// with Go's strconv error). Backend errors: kUnavailable and kTimeout 500 (Consul's "No cluster
// leader" is a 500 too), kResourceExhausted 429, anything else 500; a command the state machine
// refused is a 400 with its reason. Sessions (?acquire, ?release) are not implemented: 501.
//
// Threading: the loop thread only (handlers, backend callbacks, timers). Ownership: KvApi borrows
// the Loop, Backend and Logger, which must outlive it; the Router it adds routes to must not
// dispatch after KvApi is destroyed. Callbacks the backend still holds when KvApi is destroyed
// find it gone (a liveness token) and do nothing; waiting queries' Responders are dropped then,
// which answers them 500 if their connections still wait.
// Not here: /v1/txn, sessions and locks, ACL tokens, datacenters (?dc is ignored), forwarding to
// the leader (the backend's business).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/random.h"
#include "agent/base/time.h"
#include "agent/http/router.h"
#include "agent/kv/backend.h"
#include "agent/runtime/loop.h"
#include "agent/state/store.h"
#include "agent/wire/state_command.h"

namespace kv {

struct KvOptions {
  // Blocking queries waiting at once across all connections. Each holds a Responder and a timer
  // (they share one backend watch); 4096 is far more than a fleet's consul-template instances.
  size_t blocking_queries_max = 4096;
  // ?wait when absent or 0 (Consul's 5 min) and its ceiling (Consul's max_query_time, 10 min).
  base::Duration wait_default = base::Duration::seconds(300);
  base::Duration wait_max = base::Duration::seconds(600);
  // Seeds the wait jitter (spreading, not security); the agent passes entropy, tests a constant.
  uint64_t jitter_seed = 0;
  // Consul's kv_max_value_size.
  size_t value_bytes_max = wire::kKvValueBytesMax;
};

class KvApi {
 public:
  KvApi(runtime::Loop& loop, Backend& backend, base::Logger& logger, KvOptions options = {});
  KvApi(const KvApi&) = delete;
  KvApi& operator=(const KvApi&) = delete;
  ~KvApi();

  // Adds GET, PUT and DELETE prefix routes for "/v1/kv/" (HEAD is served by GET).
  void add_routes(http::Router& router);

  // Reads in progress: blocking queries waiting or re-reading, and plain reads in flight.
  size_t queries() const { return queries_.size(); }
  // Blocking queries among them (bounded by KvOptions::blocking_queries_max).
  size_t blocking_queries() const { return blocking_; }
  // Blocking queries parked on the shared watch (not re-reading).
  size_t parked_queries() const { return parked_; }

 private:
  enum class Kind : uint8_t { kGet, kList, kKeys };
  // What one read found; filled on the worker thread, read on the loop thread after `done`.
  struct ReadResult {
    base::Status status;   // this query's own failure (a SQLite error), if any
    uint64_t index = 0;    // X-Consul-Index before the 0 -> 1 rule
    uint64_t applied = 0;  // the store's last applied index the read saw
    std::vector<state::KvEntry> entries;
    std::vector<std::string> keys;
  };
  // One GET until it is answered. Owned by queries_; every callback finds it by id, so a query
  // dropped meanwhile (its connection closed) is simply not found.
  struct Query {
    Kind kind = Kind::kGet;
    Consistency mode = Consistency::kDefault;
    std::string key;
    std::string separator;
    bool raw = false;
    uint64_t min_index = 0;  // > 0: a blocking query
    base::MonoTime deadline;
    http::Responder responder;
    bool reading = false;
    bool parked = false;        // waiting for the applied index to pass seen_applied
    uint64_t seen_applied = 0;  // the applied index its last read saw
    runtime::TimerId timer = runtime::kNoTimer;
    // The last read's answer, which the deadline sends.
    std::shared_ptr<ReadResult> last;
    ReadMeta last_meta;
  };

  void handle_get(http::Request& request, http::Responder responder);
  void handle_put(http::Request& request, http::Responder responder);
  void handle_delete(http::Request& request, http::Responder responder);
  void propose(const wire::StateCommand& command, bool answer_value, http::Responder responder);

  // Reads for every query in `ids` (all of mode `mode`) in ONE backend read: a write that wakes a
  // thousand blocking queries costs one worker task per read mode, not a thousand (the backend's
  // worker queue is bounded).
  void read_batch(Consistency mode, std::vector<uint64_t> ids);
  void on_result(uint64_t id, std::shared_ptr<ReadResult> result, const ReadMeta& meta);
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
  http::Response answer(const Query& q, const ReadResult& r, const ReadMeta& meta) const;

  runtime::Loop& loop_;
  Backend& backend_;
  base::Logger& logger_;
  KvOptions options_;
  base::Prng prng_;
  std::map<uint64_t, std::unique_ptr<Query>> queries_;
  size_t blocking_ = 0;
  size_t parked_ = 0;
  uint64_t next_query_id_ = 1;
  // The one backend watch shared by every parked query.
  bool has_watch_ = false;
  WatchId watch_id_ = 0;
  uint64_t watch_after_ = 0;
  // Backend callbacks hold a weak_ptr to it; destroying KvApi makes them no-ops.
  std::shared_ptr<KvApi*> alive_;
};

// --- helpers shared with tests ----------------------------------------------------------------
// Go's time.ParseDuration subset Consul's clients send ("10s", "1m30s", "500ms", "1.5s", "0").
// Negative durations are refused. False when `text` is not one.
bool parse_go_duration(std::string_view text, base::Duration* out);
// A strict decimal uint64 ("" and anything else refused), as Go's strconv.ParseUint(s, 10, 64).
bool parse_u64(std::string_view text, uint64_t* out);

}  // namespace kv
