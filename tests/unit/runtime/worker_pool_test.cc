// Proves WorkerPool with the real loop: work runs on a worker thread and its done on the loop
// thread, queue_max refuses past the bound, and destruction drops queued work without calling
// its done.
#include "agent/runtime/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "hal/posix/posix_clock.h"
#include "hal/posix/posix_poller.h"

namespace {

using base::Duration;
using runtime::Loop;
using runtime::WorkerPool;

constexpr Duration kPatience = Duration::seconds(10);

template <typename Pred>
bool run_until(Loop& loop, hal::Clock& clock, Pred done) {
  const base::MonoTime deadline = clock.mono_now() + kPatience;
  while (!done() && clock.mono_now() < deadline) {
    if (!loop.run_once(Duration::millis(50)).is_ok()) return false;
  }
  return done();
}

// Blocks workers until released, so tests control when the queue drains.
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Waits (with a deadline) until `cond` holds, without running the loop.
template <typename Pred>
bool eventually(hal::Clock& clock, Pred cond) {
  const base::MonoTime deadline = clock.mono_now() + kPatience;
  while (!cond() && clock.mono_now() < deadline) std::this_thread::yield();
  return cond();
}

TEST(WorkerPool, WorkOffThreadDoneOnLoopThread) {
  hal::posix::PosixClock clock;
  hal::posix::PosixPoller poller;
  Loop loop(clock, poller);
  WorkerPool pool(loop);
  const std::thread::id loop_thread = std::this_thread::get_id();
  constexpr int kItems = 20;
  std::atomic<int> worked{0};
  std::atomic<int> off_thread{0};
  int done = 0;
  int done_on_loop = 0;
  for (int i = 0; i < kItems; ++i) {
    ASSERT_TRUE(pool.submit(
                        [&] {
                          if (std::this_thread::get_id() != loop_thread) ++off_thread;
                          ++worked;
                        },
                        [&] {
                          if (std::this_thread::get_id() == loop_thread) ++done_on_loop;
                          ++done;
                        })
                    .is_ok());
  }
  ASSERT_TRUE(run_until(loop, clock, [&] { return done == kItems; }));
  EXPECT_EQ(worked.load(), kItems);
  EXPECT_EQ(off_thread.load(), kItems);
  EXPECT_EQ(done_on_loop, kItems);
}

TEST(WorkerPool, DoneMayBeEmpty) {
  hal::posix::PosixClock clock;
  hal::posix::PosixPoller poller;
  Loop loop(clock, poller);
  WorkerPool pool(loop, 1);
  std::atomic<bool> worked{false};
  ASSERT_TRUE(pool.submit([&] { worked = true; }, nullptr).is_ok());
  EXPECT_TRUE(eventually(clock, [&] { return worked.load(); }));
}

TEST(WorkerPool, QueueMaxRefuses) {
  hal::posix::PosixClock clock;
  hal::posix::PosixPoller poller;
  Loop loop(clock, poller);
  WorkerPool pool(loop, /*threads=*/1, /*queue_max=*/2);
  Gate gate;
  std::atomic<bool> blocker_started{false};
  int done = 0;
  ASSERT_TRUE(pool.submit(
                      [&] {
                        blocker_started = true;
                        gate.wait();
                      },
                      [&] { ++done; })
                  .is_ok());
  // The only worker holds the blocker, so the queue is empty and fills from here.
  ASSERT_TRUE(eventually(clock, [&] { return blocker_started.load(); }));
  EXPECT_EQ(pool.queued(), 0u);
  ASSERT_TRUE(pool.submit([] {}, [&] { ++done; }).is_ok());
  ASSERT_TRUE(pool.submit([] {}, [&] { ++done; }).is_ok());
  EXPECT_EQ(pool.queued(), 2u);
  base::Status refused = pool.submit([] {}, [&] { ++done; });
  EXPECT_EQ(refused.code(), base::Code::kResourceExhausted);
  gate.open();
  ASSERT_TRUE(run_until(loop, clock, [&] { return done == 3; }));
  EXPECT_TRUE(pool.submit([] {}, [&] { ++done; }).is_ok()) << "room again once drained";
  ASSERT_TRUE(run_until(loop, clock, [&] { return done == 4; }));
}

TEST(WorkerPool, DestructionDropsQueuedWork) {
  hal::posix::PosixClock clock;
  hal::posix::PosixPoller poller;
  Loop loop(clock, poller);
  Gate gate;
  std::atomic<bool> blocker_started{false};
  std::atomic<int> queued_ran{0};
  int done = 0;
  std::thread opener;
  {
    WorkerPool pool(loop, 1, 4);
    ASSERT_TRUE(pool.submit(
                        [&] {
                          blocker_started = true;
                          gate.wait();
                        },
                        [&] { ++done; })
                    .is_ok());
    ASSERT_TRUE(eventually(clock, [&] { return blocker_started.load(); }));
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(pool.submit([&] { ++queued_ran; }, [&] { ++done; }).is_ok());
    // Release the blocker only once destruction has begun: the destructor empties the queue
    // and then waits for the running item, so an empty queue means it is waiting for us.
    opener = std::thread([&] {
      eventually(clock, [&] { return pool.queued() == 0; });
      gate.open();
    });
  }
  opener.join();
  EXPECT_EQ(queued_ran.load(), 0);
  // The running item finished and posted its done; the loop runs it.
  ASSERT_TRUE(run_until(loop, clock, [&] { return done == 1; }));
  EXPECT_EQ(done, 1);
}

}  // namespace
