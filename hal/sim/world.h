// hal/sim/world.h -- sim::World: a whole fleet in one process, under one virtual clock, with
// seeded faults. FoundationDB's simulator and TigerBeetle's VOPR are the models.
//
// The World owns
//   - virtual time: a MonoTime starting at 0 that moves only in step()/run_*();
//   - the seed: every random choice (link delays, loss, duplication, wall skew, each node's
//     entropy and executor latency) comes from PRNG streams derived from it, one per purpose,
//     so one seed replays one run exactly;
//   - the Network (hal/sim/network.h): routing, link faults, partitions, stream connections;
//   - the Nodes (hal/sim/node.h): hardware that persists (clock, disk, facts) and a process
//     that a crash destroys and a restart rebuilds through the node's StartFn;
//   - one event queue ordered by (time, sequence number): network arrivals, stalled-connection
//     timeouts and callbacks a test schedules. Ties run in scheduling order, so nothing depends
//     on pointer values or hash order;
//   - the Trace (hal/sim/trace.h): a running hash of every event, optionally its text.
//
// step() runs exactly one thing: the earliest of (a) the head of the event queue and (b) the
// node with the earliest work -- ready handles or posted closures (now) or its loop's next timer.
// At equal times queued events run first, then nodes in id order. Finding that node does not ask
// every node: each node tells the World when its loop's deadline or its readiness may have
// changed (runtime::ScheduleObserver), and the World keeps the nodes filed by next work time --
// those due now in id order, the others by (time, id) -- recomputing only the changed ones, so a
// step costs O(log n) in the fleet size rather than O(n). Running a node sets virtual
// time and calls its loop's run_once(Duration::zero()); nothing in the World ever blocks or
// reads a real clock. A node that keeps having work without time advancing is livelocked and
// asserts after SimConfig::same_time_runs_max runs.
//
// Faults are actions: crash(n) / restart(n); partition(a, b) (both ways) and
// partition_oneway(from, to), undone by heal(id) or heal(); set_link_faults() (global or per
// directed link: loss, delay range, duplication; reordering follows from the delay range);
// jump_wall_clock(n, delta); raise_signal(n, signal); and the disk faults on node(n).fs() (failed
// or lying fsyncs, a full disk) and in SimConfig (torn writes at a crash, power cuts in fsync).
// Schedule any of them at a virtual time with at(time, fn) / after(delay, fn).
//
// Checking: on_step(fn) registers a function run after every step -- the place for invariant
// checkers. Failing tests print the seed (hal/sim/seeds.h) and can dump_trace().
//
// Threading: single-threaded; all of it runs on the test's thread. Ownership: the World owns
// everything; Node references are valid for its lifetime. Not here: any protocol logic, real
// sockets or files, multi-threaded execution.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/random.h"
#include "agent/base/time.h"
#include "hal/sim/config.h"
#include "hal/sim/network.h"
#include "hal/sim/node.h"
#include "hal/sim/trace.h"

namespace sim {

class World {
 public:
  World(uint64_t seed, SimConfig config = {});
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  uint64_t seed() const { return seed_; }
  const SimConfig& config() const { return config_; }
  base::MonoTime now() const { return now_; }

  // --- nodes ----------------------------------------------------------------------------------
  // Adds a node and starts its process (calls config.start). Returns its id (0, 1, 2, ...).
  NodeId add_node(NodeConfig config);
  NodeId add_node(std::string name, StartFn start = nullptr);
  Node& node(NodeId id);
  size_t node_count() const { return nodes_.size(); }

  // The node loses its process: Process destroyed, connections reset towards their peers,
  // sockets, timers, pending executor completions and signal handles gone, disk back to its
  // durable content (or, for a torn crash, with part of its unsynced writes: hal/sim/fs.h).
  // Traffic towards it is dropped (DropReason::kCrash) until it restarts.
  // Called from inside the node's own code (a callback of its loop, or its StartFn), the crash
  // happens right after that loop iteration (or the StartFn) returns. No-op if the node is down.
  void crash(NodeId id);
  // A fresh process on the same identity, addresses, clock and durable disk. Asserts the node is
  // down.
  void restart(NodeId id);

  // --- network faults -------------------------------------------------------------------------
  // Cuts traffic between every node of `a` and every node of `b`, both ways.
  PartitionId partition(const std::vector<NodeId>& a, const std::vector<NodeId>& b);
  // Cuts traffic from every node of `from` to every node of `to` only.
  PartitionId partition_oneway(const std::vector<NodeId>& from, const std::vector<NodeId>& to);
  // Cuts `id` off from every other node, both ways.
  PartitionId isolate(NodeId id);
  // Heals one partition (false if it was not in force) or all of them.
  bool heal(PartitionId id);
  void heal();
  void set_link_faults(const LinkFaults& faults);  // the default for every link
  void set_link_faults(NodeId from, NodeId to, const LinkFaults& faults);
  void clear_link_faults(NodeId from, NodeId to);
  Network& network() { return *network_; }
  const NetStats& stats() const { return network_->stats(); }

  // --- other faults ---------------------------------------------------------------------------
  void jump_wall_clock(NodeId id, base::Duration delta);
  // Raises `signal` on the node's open signal handles; returns how many took it.
  size_t raise_signal(NodeId id, hal::Signal signal);

  // --- running --------------------------------------------------------------------------------
  // Runs the next event or node. Returns false (and does nothing) if nothing will ever happen.
  bool step();
  // The time of the next step, MonoTime::never() if none.
  base::MonoTime next_time();
  // Runs every step due at or before `deadline`, then sets the time to `deadline` (if later).
  void run_until(base::MonoTime deadline);
  void run_for(base::Duration d) { run_until(now_ + d); }
  // Steps until `predicate` is true (checked before the first step and after each) or the next
  // step would pass `deadline`. Returns the predicate's final value; the time is left at the
  // moment it became true, or at `deadline`.
  bool run_until(const std::function<bool()>& predicate, base::MonoTime deadline);
  bool run_for(const std::function<bool()>& predicate, base::Duration d) {
    return run_until(predicate, now_ + d);
  }
  uint64_t steps() const { return steps_; }

  // Runs `fn` at virtual time `time` (or at now if it has passed), after the events already
  // queued for that time.
  void at(base::MonoTime time, std::function<void()> fn);
  void after(base::Duration delay, std::function<void()> fn) { at(now_ + delay, std::move(fn)); }
  // Runs after every step (in registration order): invariant checkers.
  void on_step(std::function<void()> fn) { on_step_.push_back(std::move(fn)); }

  // --- trace ----------------------------------------------------------------------------------
  Trace& trace() { return trace_; }
  uint64_t trace_hash() const { return trace_.hash(); }
  // Adds a test's own line to the trace (hashed like any event).
  void note(std::string_view text);
  void dump_trace(FILE* out, size_t lines_max = 200) const { trace_.dump(out, lines_max); }

  // A seed for a purpose, derived from the World's seed: independent streams per use.
  uint64_t derive_seed(uint64_t purpose, uint64_t a = 0, uint64_t b = 0) const;

  // The AGENT_BUGGIFY decision for a site (what the installed hook calls). Usable directly by
  // tests whatever the build defines.
  bool buggify(double p, const char* file, int line);
  uint64_t buggify_fired() const { return buggify_fired_; }

 private:
  friend class Network;
  friend class Node;
  friend class SimNet;

  // Queue key: (time in ns, sequence number).
  using EventKey = std::pair<int64_t, uint64_t>;

  void start_process(Node& n);
  void run_node(Node& n);
  void do_crash(Node& n);
  // The node with the earliest work and that time (ties: the lowest id).
  std::pair<Node*, base::MonoTime> next_node();
  // Node::on_schedule_changed: files `n` for recomputation before the next next_node().
  void mark_dirty(Node& n);
  // Refiles every dirty node and moves the nodes whose time has come to due_.
  void refile();
  void unfile(Node& n);
  void after_step();

  uint64_t seed_;
  SimConfig config_;
  base::MonoTime now_;
  base::Prng prng_;  // world-level choices (wall skew)
  Trace trace_;
  std::unique_ptr<Network> network_;
  // The schedule index (declared before nodes_ so that it outlives them: a node going away may
  // still report a change). Every up node with work is in exactly one of due_ (work at or before
  // now_, by id) and future_ (by (time ns, id)), unless it is on dirty_, whose entries are
  // refiled before the next choice.
  std::set<NodeId> due_;
  std::set<std::pair<int64_t, NodeId>> future_;
  std::vector<NodeId> dirty_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<EventKey, std::function<void()>> events_;
  uint64_t next_event_seq_ = 0;
  std::vector<std::function<void()>> on_step_;
  uint64_t steps_ = 0;
  Node* running_ = nullptr;         // the node whose loop is running now
  base::MonoTime last_run_time_ = base::MonoTime::never();
  base::Prng buggify_prng_;
  std::map<std::pair<std::string, int>, bool> buggify_sites_;  // site -> enabled in this run
  uint64_t buggify_fired_ = 0;
};

}  // namespace sim
