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
// debug_ack_before_persist opens. With FleetOptions::sqlite the disk is instead the real
// raft::SqliteStorage in /var/lib/weft/raft.db on the node's simulated disk, through the node's
// SQLite VFS (hal/sim/sqlite_vfs.h): the server process owns the open database, a crash kills
// it with the process and the disk keeps what a power cut would (torn writes included, when
// SimConfig::disk_tear_probability says so), and a restart reopens the file.
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
//
// Snapshots and log compaction (chapter 5; FleetOptions::compact_probability): after applying
// an entry a server sometimes snapshots its state machine -- the KV map, its applied index and
// the chain hash below, padded so an image takes several InstallSnapshot chunks -- saves it in
// its snapshot file (the Fleet's, surviving crashes; saving is durable at once), hands it to the
// core and compacts, keeping 0-8 entries below it. Lagging and restarted servers catch up by
// InstallSnapshot; the host performs a Ready's snapshot as raft.h says (save; persist and sync;
// then restore the state machine) and at start runs recover_snapshot() and restores its state
// machine from the saved snapshot. With compaction the checkers see only what the logs still
// hold: Log Matching and Leader Append-Only from each log's start, Leader Completeness counts an
// entry at or below a leader's log start as held (its snapshot holds it, and the chain check
// below checks the snapshot's content). State-Machine Safety is checked on a chain hash: each
// server's hash of everything it applied, in order, must equal every other server's at the same
// index -- also when a snapshot restores it (a snapshot carries its chain hash). A sixth check,
// Snapshot Durability: a restarted server's saved snapshot must reach its log's start (else
// entries were compacted before the snapshot covering them was durable: data loss); the negative
// control debug_compact_before_snapshot_saved (the host compacts first and saves the snapshot
// 50 ms later) must be caught by it. A seventh, at every restart:
//   Durability            the reopened storage holds exactly the hard state, log start and last
//                         log entry (index, term) that it held when its last sync() returned --
//                         or, if a sync() was cut by a power failure, what that sync would have
//                         made durable: nothing acknowledged is lost, nothing unsynced survives.
//
// KV clients and linearizability (FleetOptions::kv_clients): simulated clients, each with one
// operation at a time, put a value, compare-and-set, or read one of a few keys against a tiny
// state machine that every server rebuilds from its log ("kv put K V op" / "kv cas K A B op"
// commands; reads through RaftCore::read_index, §6.4, served once the server applied the read
// index). A client talks to the server it believes leads, learns the leader from refusals, and
// gives up on an operation after kv_timeout (then tries another server). Every operation is
// recorded with its real (virtual) invoke and completion times; kv_history() turns the record
// into a tests/lin history, whose check must find no anomaly. Outcomes are recorded as a client
// would know them: a write or cas that the server applied completes ok (a cas whose compare did
// not match: fail); one refused before it reached the log, or whose index was committed with
// another entry, had no effect and is left out; one that timed out (server crashed, cut off,
// deposed) is unknown (info). Clients reach servers directly, not through the simulated
// network: what is tested is the servers' answers, not the client transport.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/raft/mem_storage.h"
#include "agent/raft/raft.h"
#include "agent/raft/sqlite/sqlite_storage.h"
#include "hal/sim/seeds.h"
#include "hal/sim/world.h"
#include "sim_helpers.h"  // WEFT_SIM_SEED_SCOPE
#include "tests/lin/checker.h"
#include "tests/lin/history.h"

namespace rafttest {

inline constexpr uint16_t kRaftPort = 7710;

// Timing for simulations: the dissertation's proportions (heartbeat = election timeout / 10) on
// a LAN-fast scale, so a run covers many elections in a few simulated seconds.
raft::RaftConfig sim_config();

struct FleetOptions {
  raft::RaftConfig raft = sim_config();  // id and voters are filled in per server
  // The client proposes a command to the current leader every client_interval (zero: never).
  base::Duration client_interval = base::Duration::millis(20);
  // Servers beyond the initial voters (nodes after them) that start with no configuration
  // (RaftConfig::voters empty) and wait to be added by a membership change (chapter 4).
  size_t spare_servers = 0;
  // KV clients (see above); 0: none.
  size_t kv_clients = 0;
  size_t kv_keys = 3;
  base::Duration kv_think_max = base::Duration::millis(10);  // pause between a client's ops
  base::Duration kv_timeout = base::Duration::millis(300);   // then the outcome is unknown
  // Chapter 5: after each applied entry a server snapshots and compacts with this probability
  // (0: never).
  double compact_probability = 0;
  size_t snapshot_padding_bytes = 700;  // image padding: several chunks of sim_config()'s 256
  // Negative control: the host compacts at once but saves the snapshot only 50 ms later; a crash
  // in between leaves a log that starts after the saved snapshot.
  bool debug_compact_before_snapshot_saved = false;
  // Each server's disk: raft::SqliteStorage on the node's simulated disk (true) or a MemStorage
  // kept by the Fleet (false).
  bool sqlite = false;
  // The Durability check at every restart (off only to show that the Raft checkers alone catch
  // a lying disk).
  bool check_durability = true;
  // Negative control: every server's disk acknowledges fsync without making anything durable.
  bool lie_about_syncs = false;
};

// What a server's storage held when its last sync() returned (the Durability check).
struct SyncedState {
  raft::HardState hs;
  raft::Index start_index = 0;
  raft::Term start_term = 0;
  wire::RaftMembership start_config;  // the configuration as of the log start (chapter 4)
  raft::Index last_index = 0;
  raft::Term last_term = 0;
  bool operator==(const SyncedState&) const = default;
};

// What a server's state machine applied in this life: the last index and the chain hash of
// every entry applied up to it (a snapshot restore sets both).
struct Applied {
  raft::Index last = 0;
  uint64_t chain = 0;
};

// One KV operation as the client saw it.
struct KvOp {
  enum Kind : uint8_t { kRead, kPut, kCas };
  uint32_t client = 0;
  Kind kind = kRead;
  std::string key, value, to;  // read: the value read; put: the value; cas: expected and new
  int64_t call_ns = 0;
  int64_t ret_ns = -1;         // -1: pending (unknown outcome at the end)
  bool ok = false;             // completed ok (cas: swapped); false with ret_ns set: cas mismatch
  bool no_effect = false;      // certainly did nothing: left out of the history
};

class RaftServer;

struct Fleet {
  Fleet(sim::World& w, FleetOptions o) : world(w), options(std::move(o)) {}
  sim::World& world;
  FleetOptions options;
  size_t servers = 0;  // initial voters s1..sN on nodes 0..N-1 (spares follow them)
  std::map<sim::NodeId, std::unique_ptr<raft::MemStorage>> disk;  // survives crashes (not sqlite)
  std::map<sim::NodeId, SyncedState> synced;                       // the Durability check
  std::map<sim::NodeId, SyncedState> syncing;                      // a sync() under way
  uint64_t reopens = 0;                                            // restarts checked
  uint64_t power_cuts = 0;                                         // syncs that lost power
  std::map<sim::NodeId, Applied> applied;                          // this life's state machine
  std::map<sim::NodeId, std::optional<raft::Snapshot>> snapshot_file;  // survives crashes
  uint64_t compactions = 0;  // snapshots taken and compacted to (hosts)
  uint64_t installs = 0;     // leaders' snapshots installed by followers (Ready::snapshot)
  uint64_t restores = 0;     // state machines restored from a saved snapshot at start
  std::string violation;  // first invariant violation, "" if none
  uint64_t checks = 0;
  uint64_t proposed = 0;
  uint64_t crashes = 0;
  uint64_t transfers = 0;  // leadership transfers started (§3.10)
  std::map<raft::Term, raft::ServerId> leader_of_term;

  static raft::ServerId server_id(sim::NodeId n) { return n + 1; }
  static sim::NodeId node_id(raft::ServerId s) { return static_cast<sim::NodeId>(s - 1); }

  // Adds `n` servers s1..sn (all voters) and options.spare_servers more without a
  // configuration; call once.
  void add_servers(size_t n);
  size_t nodes() const { return world.node_count(); }
  // One membership step (chapter 4) on the leader, if there is one: promote a learner, add a
  // non-member as learner, or remove a member, keeping 3..5 voters. True if one was appended.
  bool change_membership(base::Prng& prng);
  uint64_t membership_changes = 0;
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
  // Called by servers for every applied entry, and when a snapshot (at `index`, with the chain
  // hash it carries) replaces the state machine.
  void on_apply(sim::NodeId id, const raft::Entry& e);
  void on_restore(sim::NodeId id, raft::Index index, uint64_t chain);
  // Records a violation found by a server (Snapshot Durability, Durability).
  void fail(const std::string& what);
  // Called by servers around every sync, and when they start (with what they read).
  void on_syncing(sim::NodeId id, const raft::Storage& st);
  void on_synced(sim::NodeId id, const raft::Storage& st);
  void on_start(sim::NodeId id, const raft::Storage& st);
  // A server whose sync failed (its disk lost power) stops: the node crashes at the end of its
  // loop iteration and restarts 50 ms - 1 s later.
  void crash_from_inside(sim::NodeId id);

  // Heals every fault, restarts every down server, stops the client, and runs until a leader
  // commits a final command and every server applied it (at most `limit`). Returns whether it
  // did; on success every server's applied sequence is checked identical up to that command.
  bool settle(base::Duration limit);

  // Prints each up server's role, term, log and commit (for failures).
  void dump(FILE* out);

  // KV clients: started by start_client() when options.kv_clients > 0, stopped by settle().
  // Completions from servers (op ids are indexes into kv_ops + 1).
  void kv_done(uint64_t op, bool ok, const std::string& read_value);
  void kv_no_effect(uint64_t op);
  // The record as a tests/lin history (pending operations: outcome unknown).
  lin::History kv_history() const;
  std::vector<KvOp> kv_ops;
  uint64_t kv_completed = 0, kv_timeouts = 0, kv_refused = 0;

 private:
  struct Seen {
    uint64_t incarnation = 0;
    raft::Index checked_upto = 0;
    raft::Index commit_seen = 0;
    raft::Term lead_term = 0;
    raft::Index lead_last_index = 0;
    raft::Term lead_last_term = 0;
  };
  void check_server(sim::NodeId id, RaftServer& s, std::vector<raft::Entry>& newly_committed);
  bool leader_holds(const raft::RaftCore& c, raft::Index i, raft::Term t, uint64_t h) const;

  std::map<sim::NodeId, Seen> seen_;
  // (index, term) -> (entry hash, term of the entry before it)
  std::map<std::pair<raft::Index, raft::Term>, std::pair<uint64_t, raft::Term>> registry_;
  std::map<raft::Index, std::pair<raft::Term, uint64_t>> committed_;  // index -> (term, hash)
  std::map<raft::Index, uint64_t> applied_global_;                    // index -> hash
  std::map<raft::Index, uint64_t> chain_global_;                      // index -> chain hash
  bool client_on_ = false;
  uint64_t client_seq_ = 0;
  void client_tick();

  struct KvClient {
    sim::NodeId target = 0;
    uint64_t pending = 0;  // op id, 0 if none
    std::map<std::string, std::string> last_seen;  // per key: a value to compare against
  };
  std::vector<KvClient> kv_clients_;
  std::unique_ptr<base::Prng> kv_prng_;
  bool kv_on_ = false;
  void kv_next(uint32_t client);
  void kv_invoke(uint32_t client);
  void kv_finish(uint64_t op);
};

class RaftServer final : public sim::Process {
 public:
  RaftServer(sim::Node& node, Fleet& fleet);
  ~RaftServer() override;
  raft::RaftCore& core() { return *core_; }
  // Proposes through the core and performs what follows.
  base::Result<raft::Index> propose(std::string cmd);
  // Chapter 4 through the core, and performs what follows.
  base::Result<raft::Index> change_membership(raft::MembershipChange change, raft::ServerId id);
  // §3.10 through the core, and performs what follows.
  base::Status transfer(raft::ServerId target);
  // KV client requests (op ids from the Fleet); the answer comes through Fleet::kv_done /
  // kv_no_effect, or never (crash, lost leadership). An error: refused, nothing happened.
  base::Status kv_write(uint64_t op, const std::string& cmd);
  base::Status kv_read(uint64_t op, const std::string& key);
  uint64_t decode_errors = 0;

 private:
  void on_udp();
  void pump();
  void finish_ready(raft::Ready rd);
  void kv_apply(const raft::Entry& e);
  // Chapter 5, the host's side (raft.h).
  std::string kv_image() const;
  void kv_restore(const raft::Snapshot& s);
  void maybe_compact();
  base::Prng prng_;
  void kv_serve_reads();
  void send(const raft::Message& m);
  void arm();
  raft::Storage& storage() { return *storage_; }

  sim::Node& node_;
  Fleet& fleet_;
  std::unique_ptr<raft::Storage> own_storage_;  // sqlite: the process's open database
  raft::Storage* storage_ = nullptr;
  bool dead_on_arrival_ = false;  // the disk lost power while the storage opened or recovered
  std::unique_ptr<raft::RaftCore> core_;
  hal::Handle udp_ = hal::kInvalidHandle;
  bool syncing_ = false;
  runtime::TimerId timer_ = 0;
  bool timer_armed_ = false;
  base::MonoTime timer_at_ = base::MonoTime::never();
  // The KV state machine of this life (rebuilt from the log) and the requests waiting on it.
  std::map<std::string, std::string> kv_;
  raft::Index kv_applied_ = 0;
  std::map<raft::Index, std::vector<uint64_t>> kv_writes_;   // log index -> ops proposed there
  std::map<uint64_t, std::string> kv_reads_;                 // op (= read ctx) -> key
  std::multimap<raft::Index, uint64_t> kv_reads_confirmed_;  // read index -> op
};

// --- runs under a random fault schedule (raft_safety_test.cc, raft_sqlite_test.cc) -----------------

struct Outcome {
  std::string violation;
  bool settled = false;
  uint64_t trace_hash = 0;
  uint64_t steps = 0;
  size_t applied = 0;
  uint64_t crashes = 0;
  size_t terms_with_leader = 0;
  // The KV clients' history (FleetOptions::kv_clients > 0).
  lin::Verdict verdict = lin::Verdict::kLinearizable;
  std::string lin_explanation;
  size_t kv_ops = 0, kv_reads_ok = 0, kv_unknown = 0;
  uint64_t transfers = 0;
  // FleetOptions::sqlite: restarts whose reopened log was checked, files a torn crash left
  // partly written, syncs that lost power.
  uint64_t reopens = 0;
  uint64_t torn_files = 0;
  uint64_t power_cuts = 0;
  uint64_t compactions = 0, installs = 0, restores = 0;  // chapter 5
  uint64_t membership_changes = 0;                      // chapter 4
};

struct FaultPlan {
  base::Duration span = base::Duration::seconds(6);      // faults for this long, then settle
  base::Duration gap_min = base::Duration::millis(100);  // between fault events
  base::Duration gap_max = base::Duration::millis(500);
  bool crashes = true;
  double crash_weight = 1.0;      // relative weight of crash events
  bool network = true;
  bool transfers = true;          // §3.10 leadership transfers among the events
  bool leader_cuts_only = false;  // every network event cuts the leader off
  bool membership = false;        // chapter 4 changes among the events (Fleet::change_membership)
};

// One random fault every [gap_min, gap_max], chosen from the seed's own stream: crashes (of the
// leader half the time) with a restart 50 ms - 1 s later, partitions (halves, one server, one
// way, the leader), link quality changes, leadership transfers, heals.
void schedule_faults(Fleet& f, const FaultPlan& plan, uint64_t seed);

// The World's configuration for fault runs: 2% loss, 0.1-2 ms delay, a 0.2-4 ms fsync.
sim::SimConfig fault_sim_config();

// One run: `servers` servers, the client, the fault plan, then settle (at most 30 s); with KV
// clients, the history is checked for linearizability (tests/lin). Prints the servers' state on
// a failure when one seed is replayed.
Outcome run_faults(uint64_t seed, size_t servers, FleetOptions opts, const FaultPlan& plan,
                   sim::SimConfig sc = fault_sim_config());

// Prints the seed and the trace tail when the current test failed.
void report_failure(const sim::World& world);

// FNV-1a over an entry's term, type and data.
uint64_t entry_hash(const raft::Entry& e);

}  // namespace rafttest
