// hal/sim/executor.h -- sim::SimExecutor: the worker pool under virtual time.
//
// submit(work, done) runs `work` at once, inline, on the simulation thread (there are no other
// threads in a simulated fleet), then arms a timer on the node's loop that runs `done` after a
// latency drawn from the node's seeded PRNG in [latency_min, latency_max]. So `done` always runs
// later than submit() returned -- never re-entrantly -- and completions of several submissions
// can finish out of order, as with a real pool of threads. At most `queue_max` submissions may
// be waiting for their `done`; past it submit() refuses with kResourceExhausted, like the real
// pool. When the node crashes the executor dies with its loop and pending `done`s never run.
//
// Threading: the simulation thread only. Ownership: one per node incarnation; borrows the loop.
#pragma once

#include <cstdint>

#include "agent/base/random.h"
#include "agent/runtime/worker_pool.h"

namespace sim {

class SimExecutor final : public runtime::Executor {
 public:
  SimExecutor(runtime::Loop& loop, uint64_t seed, base::Duration latency_min, base::Duration latency_max,
              size_t queue_max)
      : loop_(loop), prng_(seed), latency_min_(latency_min), latency_max_(latency_max), queue_max_(queue_max) {}

  [[nodiscard]] base::Status submit(Closure work, Closure done) override {
    AGENT_ASSERT(work && done);
    if (pending_ >= queue_max_) {
      return base::error(base::Code::kResourceExhausted, "sim executor: queue_max (%zu) reached", queue_max_);
    }
    work();
    base::Duration latency = base::Duration::nanos(prng_.range(latency_min_.ns(), latency_max_.ns()));
    auto armed = loop_.arm(loop_.refresh_now() + latency, [this, done = std::move(done)] {
      --pending_;
      ++completed_;
      done();
    });
    if (!armed.is_ok()) return armed.status();
    ++pending_;
    return base::Status::ok();
  }

  size_t pending() const { return pending_; }
  uint64_t completed() const { return completed_; }

 private:
  runtime::Loop& loop_;
  base::Prng prng_;
  base::Duration latency_min_;
  base::Duration latency_max_;
  size_t queue_max_;
  size_t pending_ = 0;
  uint64_t completed_ = 0;
};

}  // namespace sim
