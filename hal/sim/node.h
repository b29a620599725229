// hal/sim/node.h -- sim::Node: one simulated machine in a World.
//
// A Node has "hardware" that lasts for its whole life -- a name, IP addresses, a clock
// (SimClock, with its wall-clock offset), a disk (SimFs) with the SQLite VFS over it
// (SqliteVfs, named in env().sqlite_vfs) and SysInfo facts -- and, while it is
// up, a "process": an incarnation made of a SimPoller, SimNet, SimSignals, SimEntropy, a
// runtime::Loop over SimClock + SimPoller, a SimExecutor, the hal::Env pointing at all of them,
// and the test's Process built by the node's StartFn. A crash destroys the incarnation (the
// Process first, then its sockets -- every connection is reset towards its peer -- then the
// loop with its timers) and throws away the disk's non-durable writes; a restart builds a fresh
// incarnation on the same identity and disk and calls the StartFn again.
//
// Nodes are created by World::add_node and driven only by the World: it runs a node by setting
// virtual time and calling loop().run_once(zero) when the node has ready handles, due timers or
// posted work. Tests may also use a node's env() directly between steps (send a datagram, read
// a file) -- handy for unit tests of the sim itself.
//
// The accessors of incarnation parts (env, loop, net, ...) assert that the node is up.
// The disk is powered off (SimFs::power_off) before the process is destroyed at a crash, so
// nothing the dying process's destructors write reaches it.
// Threading: the simulation thread only. Ownership: the World owns its Nodes; references stay
// valid for the World's life.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/loop.h"
#include "hal/env.h"
#include "hal/sim/clock.h"
#include "hal/sim/config.h"
#include "hal/sim/entropy.h"
#include "hal/sim/executor.h"
#include "hal/sim/fs.h"
#include "hal/sim/net.h"
#include "hal/sim/poller.h"
#include "hal/sim/signals.h"
#include "hal/sim/sqlite_vfs.h"
#include "hal/sim/sysinfo.h"

namespace sim {

class World;

class Node final : public runtime::ScheduleObserver {
 public:
  NodeId id() const { return id_; }
  const std::string& name() const { return name_; }
  bool up() const { return inc_ != nullptr; }
  // 1 for the first process, +1 per restart.
  uint64_t incarnation() const { return incarnation_; }
  World& world() { return world_; }

  // IP addresses (port 0); the first is the primary one.
  const std::vector<hal::SockAddr>& addresses() const { return addresses_; }
  // The primary address with `port`: where other nodes reach this one.
  hal::SockAddr address(uint16_t port) const;

  // Hardware: valid whether the node is up or not.
  SimClock& clock() { return clock_; }
  SimFs& fs() { return fs_; }
  // The SQLite VFS over fs(): open a database on this node with sqlite_vfs().name().
  SqliteVfs& sqlite_vfs() { return *vfs_; }
  SimSysInfo& sysinfo() { return sysinfo_; }

  // The process: the node must be up.
  hal::Env& env();
  runtime::Loop& loop();
  SimExecutor& executor();
  SimNet& net();
  SimPoller& poller();
  SimSignals& signals();
  SimEntropy& entropy();
  // The Process its StartFn built (nullptr if it built none, or the node is down).
  Process* process() { return inc_ ? inc_->process.get() : nullptr; }
  template <typename T>
  T& process_as() {
    AGENT_ASSERT_MSG(process() != nullptr, "node has no process");
    return *static_cast<T*>(process());
  }

  // The earliest time this node has work (ready handles or posted work: now; else its loop's
  // next timer), MonoTime::never() if none or down.
  base::MonoTime next_time(base::MonoTime now);

  // runtime::ScheduleObserver: the node's loop deadline or readiness may have changed; the World
  // recomputes next_time() before its next step.
  void on_schedule_changed() override;

 private:
  friend class World;

  struct Incarnation {
    Incarnation(Node& node, Network& network, uint64_t seed, const SimConfig& config);
    HandleSpace space;
    SimPoller poller;
    SimNet net;
    SimSignals signals;
    SimEntropy entropy;
    runtime::Loop loop;
    SimExecutor executor;
    hal::Env env;
    std::unique_ptr<Process> process;  // declared last: destroyed first
  };

  Node(World& world, NodeId id, NodeConfig config, const base::MonoTime& now, base::WallTime epoch,
       base::Duration wall_offset, const SimConfig& sim_config, uint64_t disk_seed);

  World& world_;
  NodeId id_;
  std::string name_;
  std::vector<hal::SockAddr> addresses_;
  StartFn start_;
  SimClock clock_;
  SimFs fs_;
  std::unique_ptr<SqliteVfs> vfs_;  // over fs_; outlives every incarnation
  SimSysInfo sysinfo_;
  uint64_t incarnation_ = 0;
  std::unique_ptr<Incarnation> inc_;
  bool has_ready_ = false;       // cached; valid while inc_->space.changed is false
  uint64_t same_time_runs_ = 0;  // runs at same_time_at_ (the livelock check)
  base::MonoTime same_time_at_ = base::MonoTime::never();
  // The World's schedule index (World::next_node): where this node is filed and under what time.
  enum class Filed : uint8_t { kNowhere, kDue, kFuture };
  bool crash_pending_ = false;  // crash() was asked from inside its own code: done when that returns
  bool dirty_ = false;  // on the World's dirty list: next_time() must be recomputed
  Filed filed_ = Filed::kNowhere;
  int64_t filed_ns_ = 0;  // the key under which it is in World::future_ (kFuture only)
};

}  // namespace sim
