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
// Blocking queries and read modes are kv::BlockingReads' (blocking.h), Consul's semantics.
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
#include "agent/kv/blocking.h"
#include "agent/runtime/loop.h"
#include "agent/state/store.h"
#include "agent/wire/state_command.h"

namespace kv {

struct KvOptions {
  BlockingOptions blocking;  // reads (blocking.h)
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

  // Reads in progress, blocking queries among them, and those parked (blocking.h).
  size_t queries() const { return reads_.queries(); }
  size_t blocking_queries() const { return reads_.blocking_queries(); }
  size_t parked_queries() const { return reads_.parked_queries(); }

 private:
  void handle_get(http::Request& request, http::Responder responder);
  void handle_put(http::Request& request, http::Responder responder);
  void handle_delete(http::Request& request, http::Responder responder);
  void propose(const wire::StateCommand& command, bool answer_value, http::Responder responder);

  Backend& backend_;
  KvOptions options_;
  BlockingReads reads_;
  // Backend callbacks hold a weak_ptr to it; destroying KvApi makes them no-ops.
  std::shared_ptr<KvApi*> alive_;
};

}  // namespace kv
