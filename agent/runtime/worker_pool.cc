#include "agent/runtime/worker_pool.h"

#include <utility>

namespace runtime {

WorkerPool::WorkerPool(Loop& loop, size_t threads, size_t queue_max)
    : loop_(loop), queue_max_(queue_max), threads_wanted_(threads) {
  AGENT_ASSERT(threads > 0 && queue_max > 0);
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

base::Status WorkerPool::submit(Closure work, Closure done) {
  AGENT_ASSERT(work);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return base::error(base::Code::kCancelled, "worker pool is stopping");
    if (queue_.size() >= queue_max_) {
      return base::error(base::Code::kResourceExhausted, "worker queue_max (%zu) reached", queue_max_);
    }
    queue_.push_back(Item{std::move(work), std::move(done)});
  }
  // submit() runs on the loop thread only, so threads_ needs no lock.
  if (threads_.empty()) {
    threads_.reserve(threads_wanted_);
    for (size_t i = 0; i < threads_wanted_; ++i) threads_.emplace_back([this] { worker_main(); });
  }
  cv_.notify_one();
  return base::Status::ok();
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void WorkerPool::worker_main() {
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    item.work();
    if (item.done) {
      base::Status s = loop_.post(std::move(item.done));
      // The loop's posted_max is larger than any pool's queue; reaching it is a bug.
      AGENT_ASSERT_MSG(s.is_ok(), s.message().c_str());
    }
  }
}

}  // namespace runtime
