// kv::Backend: what the KV HTTP API (kv_api.h) needs from the consensus host, and nothing more.
//
// The API turns HTTP requests into encoded wire::StateCommands and reads of a state::Store; the
// Raft server host implements this interface (it owns the Raft core, the worker pool and the
// Store), and the unit tests implement it over a bare Store that applies at once
// (tests/unit/kv/test_backend.h). Keeping the seam this small lets the API be tested without a
// cluster and lets the host change how it reaches consensus without touching HTTP code.
//
// Threading: every method is called on the loop thread, and every callback the backend is given
// runs on the loop thread -- except a read's `fn`, which runs on a worker thread with the store
// locked. Callbacks are run later (posted), never from inside the call that hands them over, so
// the caller never re-enters itself. Ownership: the backend keeps each callback until it runs it
// once (or, for watches, until unwatch()); the caller guards its own lifetime in them.
// Not here: HTTP, Consul's parameter parsing, response shapes (kv_api.h); leader forwarding (a
// follower answers kUnavailable for kDefault and kConsistent reads and writes until forwarding
// exists).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "agent/base/status.h"
#include "agent/state/store.h"

namespace kv {

// Consul's read modes (?consistent, ?stale, neither).
enum class Consistency : uint8_t { kDefault, kConsistent, kStale };

// What a read's answer headers need (Consul's X-Consul-KnownLeader, X-Consul-LastContact).
struct ReadMeta {
  bool known_leader = false;
  uint64_t last_contact_ms = 0;
};

using WatchId = uint64_t;

class Backend {
 public:
  virtual ~Backend() = default;

  // Proposes one encoded wire::StateCommand through consensus. `done` runs later on the loop
  // thread with the command's ApplyResult once it is applied here, or an error: kUnavailable (no
  // leader / not reachable), kResourceExhausted (too many in flight), kTimeout, kIo.
  virtual void write(std::string command, std::function<void(base::Result<state::ApplyResult>)> done) = 0;

  // Runs `fn` against the store once `mode` allows (kDefault: this server is leader; kConsistent:
  // after a ReadIndex round; kStale: now). `fn` runs on a worker thread with the store locked
  // (it must only read, and must not touch the loop); `done` runs on the loop thread with fn's
  // Status (or the backend's error, e.g. kUnavailable with no leader) and the ReadMeta.
  virtual void read(Consistency mode, std::function<base::Status(const state::Store&)> fn,
                    std::function<void(base::Status, ReadMeta)> done) = 0;

  // The last applied Raft index here (loop thread).
  virtual uint64_t applied_index() const = 0;

  // Calls `fn` once on the loop thread after applied_index() exceeds `after` (at once, posted, if
  // it already does). Bounded: kResourceExhausted when too many watches are set.
  virtual base::Result<WatchId> watch(uint64_t after, std::function<void()> fn) = 0;
  // Drops a watch that has not fired; an unknown or fired id is ignored.
  virtual void unwatch(WatchId id) = 0;
};

// Consul's name for a mode, as the X-Consul-Effective-Consistency header spells it.
inline const char* consistency_name(Consistency mode) {
  switch (mode) {
    case Consistency::kConsistent: return "consistent";
    case Consistency::kStale: return "stale";
    case Consistency::kDefault: break;
  }
  return "leader";
}

}  // namespace kv
