// Shared pieces of the Raft simulations (tests/sim/raft_*_test.cc): a sim::Process that runs a
// raft::RaftCore on a simulated node, the fleet bookkeeping that outlives crashes (each
// server's disk), a client that proposes commands to whoever leads, the fault schedule, and the
// invariant checkers run after every step of the World.
//
// The simulator is hal/sim (sim::World): messages travel as UDP datagrams through the
// simulated network (loss, duplication, delay and so reordering, partitions both ways and one
// way), crashes destroy the process and restarts rebuild it. The disk is a raft::MemStorage per
// server, owned by the Fleet so it survives a crash: the host writes a Ready's persistence at
// once (unsynced), then "fsyncs" on the node's simulated worker pool (latency from SimConfig)
// and only in the completion syncs, sends and applies. A crash in between loses the unsynced
// writes and the messages that waited for them -- the window that the negative control
// debug_ack_before_persist opens. (SQLite over the simulated file system replaces MemStorage
// when raft/ gets its SQLite storage.)
//
// Checkers (Figure 3.2 of the dissertation), after every step:
//   Election Safety       at most one leader per term, over the whole run;
//   Leader Append-Only    while a server leads a term, the entry that ended its log at the last
//                         check is still there, unchanged (with Log Matching this covers the
//                         whole prefix);
//   Log Matching          an (index, term) pair names one entry everywhere, with one
//                         predecessor term: a registry of every (index, term) ever held, checked
//                         for each entry a server appended since the last check;
//   Leader Completeness   every entry any server has seen committed is in the log of every
//                         leader of a later term (checked when a leader appears and when an entry
//                         is first seen committed);
//   State-Machine Safety  no two servers apply different entries at one index; each server
//                         applies 1, 2, 3, ... in order.
// The first violation is recorded (with the step and time) and the run's test fails on it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/raft/mem_storage.h"
#include "agent/raft/raft.h"
#include "hal/sim/seeds.h"
#include "hal/sim/world.h"
#include "sim_helpers.h"  // WEFT_SIM_SEED_SCOPE

namespace rafttest {

inline constexpr uint16_t kRaftPort = 7710;

// Timing for simulations: the dissertation's proportions (heartbeat = election timeout / 10) on
// a LAN-fast scale, so a run covers many elections in a few simulated seconds.
raft::RaftConfig sim_config();

struct FleetOptions {
  raft::RaftConfig raft = sim_config();  // id and voters are filled in per server
  // The client proposes a command to the current leader every client_interval (zero: never).
  base::Duration client_interval = base::Duration::millis(20);
};

class RaftServer;

struct Fleet {
  Fleet(sim::World& w, FleetOptions o) : world(w), options(std::move(o)) {}
  sim::World& world;
  FleetOptions options;
  size_t servers = 0;  // voters s1..sN on nodes 0..N-1
  std::map<sim::NodeId, std::unique_ptr<raft::MemStorage>> disk;  // survives crashes
  std::map<sim::NodeId, std::vector<raft::Entry>> applied;         // this life's applies
  std::string violation;  // first invariant violation, "" if none
  uint64_t checks = 0;
  uint64_t proposed = 0;
  uint64_t crashes = 0;
  std::map<raft::Term, raft::ServerId> leader_of_term;

  static raft::ServerId server_id(sim::NodeId n) { return n + 1; }
  static sim::NodeId node_id(raft::ServerId s) { return static_cast<sim::NodeId>(s - 1); }

  // Adds `n` servers s1..sn (all voters); call once.
  void add_servers(size_t n);
  // The node's server, nullptr if it is down.
  RaftServer* server(sim::NodeId id);
  // Crash: the process dies and the disk loses what was not synced. Restart: a fresh process
  // from the disk.
  void crash(sim::NodeId id);
  void restart(sim::NodeId id);
  // The up server that leads the highest term, or nullptr.
  RaftServer* leader();
  // Proposes `cmd` to the leader if there is one (false if none or it refused).
  bool propose(const std::string& cmd);
  // Starts the client: a command "c<seq>" to the leader every client_interval.
  void start_client();

  // Installs check() after every step.
  void watch() {
    world.on_step([this] { check(); });
  }
  void check();
  // Called by servers for every applied entry.
  void on_apply(sim::NodeId id, const raft::Entry& e);

  // Heals every fault, restarts every down server, stops the client, and runs until a leader
  // commits a final command and every server applied it (at most `limit`). Returns whether it
  // did; on success every server's applied sequence is checked identical up to that command.
  bool settle(base::Duration limit);

  // Prints each up server's role, term, log and commit (for failures).
  void dump(FILE* out);

 private:
  struct Seen {
    uint64_t incarnation = 0;
    raft::Index checked_upto = 0;
    raft::Index commit_seen = 0;
    raft::Term lead_term = 0;
    raft::Index lead_last_index = 0;
    raft::Term lead_last_term = 0;
  };
  void fail(const std::string& what);
  void check_server(sim::NodeId id, RaftServer& s, std::vector<raft::Entry>& newly_committed);
  bool leader_holds(const raft::RaftCore& c, raft::Index i, raft::Term t, uint64_t h) const;

  std::map<sim::NodeId, Seen> seen_;
  // (index, term) -> (entry hash, term of the entry before it)
  std::map<std::pair<raft::Index, raft::Term>, std::pair<uint64_t, raft::Term>> registry_;
  std::map<raft::Index, std::pair<raft::Term, uint64_t>> committed_;  // index -> (term, hash)
  std::map<raft::Index, uint64_t> applied_global_;                    // index -> hash
  bool client_on_ = false;
  uint64_t client_seq_ = 0;
  void client_tick();
};

class RaftServer final : public sim::Process {
 public:
  RaftServer(sim::Node& node, Fleet& fleet);
  ~RaftServer() override;
  raft::RaftCore& core() { return *core_; }
  // Proposes through the core and performs what follows.
  base::Result<raft::Index> propose(std::string cmd);
  uint64_t decode_errors = 0;

 private:
  void on_udp();
  void pump();
  void finish_ready(raft::Ready rd);
  void send(const raft::Message& m);
  void arm();

  sim::Node& node_;
  Fleet& fleet_;
  std::unique_ptr<raft::RaftCore> core_;
  hal::Handle udp_ = hal::kInvalidHandle;
  bool syncing_ = false;
  runtime::TimerId timer_ = 0;
  bool timer_armed_ = false;
  base::MonoTime timer_at_ = base::MonoTime::never();
};

// Prints the seed and the trace tail when the current test failed.
void report_failure(const sim::World& world);

// FNV-1a over an entry's term, type and data.
uint64_t entry_hash(const raft::Entry& e);

}  // namespace rafttest
