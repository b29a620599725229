// Blocking work off the loop thread: an Executor interface and a bounded thread pool.
//
// Cores never block. Work that must -- a SQLite commit with fsync, unpacking an image -- is
// submitted here as a pair of closures: `work` runs on a worker thread, then `done` runs on the
// loop thread (through Loop::post) once `work` has returned. The simulator supplies its own
// Executor that runs `work` deterministically under virtual time.
//
// Bounds: a fixed number of threads, started on the first submit() -- so an idle node holds no
// worker threads, and the threads inherit the signal mask hal::Signals::open() set at start-up
// even when the pool was built before it -- and a queue of at most
// `queue_max` submitted-but-not-started items; submit() refuses with kResourceExhausted past it.
// Threading: submit() from the loop thread. `work` must not touch loop-owned state.
// Shutdown: the destructor stops taking work, lets running items finish, drops queued ones
// (their `done` is not called) and joins the threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/base/status.h"
#include "agent/runtime/loop.h"

namespace runtime {

class Executor {
 public:
  using Closure = std::function<void()>;
  virtual ~Executor() = default;
  [[nodiscard]] virtual base::Status submit(Closure work, Closure done) = 0;
};

class WorkerPool final : public Executor {
 public:
  // Two threads by default: the nodes are small; blocking work is rare and short.
  WorkerPool(Loop& loop, size_t threads = 2, size_t queue_max = 256);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  [[nodiscard]] base::Status submit(Closure work, Closure done) override;
  size_t queued() const;

 private:
  struct Item {
    Closure work;
    Closure done;
  };
  void worker_main();

  Loop& loop_;
  size_t queue_max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  size_t threads_wanted_;
  std::vector<std::thread> threads_;  // started by the first submit()
};

}  // namespace runtime
