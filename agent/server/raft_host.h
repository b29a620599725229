// server::RaftHost: server mode -- the Raft core (raft/raft.h) on this node's loop, its log in
// SQLite (raft/sqlite), the state machine (state/store.h), and the RPC that carries Raft messages,
// forwarded writes and read-index requests between foundations (rpc/endpoint.h).
//
// Files, under <data_dir>/raft/: raft.db (term, vote, log: WAL, synchronous=FULL), state.db (the
// state machine, synchronous=NORMAL: re-applied from the log after a power cut), voters (the node
// ids of the voting members, one per line, written durably once when the cluster forms), and
// snapshot (the latest snapshot, wire/snapshot_file.h: "WEFTRSNP", u32 format 2, u64 index, u64
// term, the cluster configuration as of index, then the state store's image --
// state::Store::snapshot(), which carries its own SHA-256; written durably, replacing the
// previous one in one rename; format 1, without the configuration, is still read).
//
// Snapshots (dissertation chapter 5; raft.h "Snapshots, the host's side"): once
// raft.snapshot_threshold entries were applied since the last snapshot, a worker images the store
// at its applied index A (under the store's lock, so between two batches), the loop looks up A's
// term, a worker writes the snapshot file durably, and the loop hands it to the core
// (set_snapshot) and compacts the log up to A - raft.trailing_logs. The Ready pipeline keeps
// running meanwhile; only one snapshot is taken at a time. A leader sends the
// image to a follower that needs compacted entries (InstallSnapshot, in chunks, in the core); the
// follower's Ready then carries it, and the host saves it as its snapshot file first, persists the
// Ready, and restores the store from it before applying anything after it. At start the host
// recovers a cut install (raft::recover_snapshot), restores the store from the file if the store
// is behind the log's start, and gives the core the saved snapshot.
//
// Forming the cluster (issue 4 item 4, like Consul's bootstrap_expect): servers find each other
// in gossip -- members in this datacenter whose role tag includes "foundation" and whose tags
// carry rpc_addr and id. A server with no voters file and bootstrap_expect = N waits until it sees
// at least N alive servers (itself included), then writes them as the voters and starts Raft; every
// server of a fleet that starts together sees the same set. A server restarted with a voters file
// starts Raft at once. A server's Raft id is the first 64 bits of its node id.
//
// Joining a formed cluster (chapter 4, like Consul): before bootstrapping, a server asks every
// server it sees over RPC ("raft.peers") for its Raft configuration, as Consul does before its
// bootstrap (it will not bootstrap when a peer already has one). If some server is in a cluster,
// this one does not bootstrap: listed as a voter there (the servers that formed together), it
// starts with that configuration; otherwise it starts as a joiner (no configuration, never
// campaigns) and waits for the leader to add it. A server with no voters file whose raft.db
// holds state, or with bootstrap_expect 0, starts as a joiner at once. The leader's autopilot
// (autopilot.h, every kAutopilotInterval) adds foundations it sees in gossip as learners,
// promotes them once caught up and stable (autopilot.server_stabilization_time), removes members
// that left at once and voters failed for autopilot.dead_server_grace (cleanup_dead_servers)
// while the live voters are a majority. `operator raft remove-peer` (POST or DELETE
// /v1/operator/raft/peer?id=NODE-ID) removes a member through the leader ("raft.remove_peer"
// from a follower) and answers once the change is applied here; the core refuses the last voter.
// The voters file keeps the bootstrap configuration only; the configuration in use is the core's
// (log or snapshot), which list-peers and /v1/operator/raft/configuration show with non-voters
// ("Voter": false).
//
// The Ready pipeline (raft.h's contract): the loop takes one Ready at a time and hands it to the
// executor, which writes and syncs it (raft.db) and applies its committed entries (state.db, one
// transaction per Ready); back on the loop the host sends the Ready's messages, answers the
// writes and reads waiting for those indexes, and calls on_persisted(). Nothing goes out before
// the sync returned. A failed write or sync is fatal: the host reports it through the fatal
// callback and does nothing more (the agent stops; STYLE.md: never retry a failed fsync).
//
// Writes (kv::Backend::write): on the leader, propose() and answer when the entry is applied
// here with the command's result (an entry of another term at that index -- the write lost its
// leader -- answers kUnavailable: it was not applied). On a follower, forward to the leader over
// RPC ("raft.apply") and answer with the leader's result once the leader applied it (as Consul
// does); a read other than stale then gets a read index at least that high.
// Reads (kv::Backend::read): kStale runs at once on the local state. kDefault and kConsistent get
// a read index from the leader ("raft.read_index", or locally on the leader) and run once this
// server has applied it:
//   - kConsistent: the core's ReadIndex (§6.4) -- the leader's commit index, confirmed by a
//     round of heartbeats answered by a majority -- so the read is linearizable;
//   - kDefault (Consul's default mode): the leader's commit index once an entry of its own term
//     is committed (§6.4 step 1), without the heartbeat round. A deposed leader that has not yet
//     noticed may serve it for up to an election timeout (check-quorum, §6.2, bounds that), as
//     Consul's default mode may.
// Leadership transfer (§3.10): POST /v1/operator/raft/transfer-leader[?id=NODE-ID] on any server;
// a follower passes it to the leader ("raft.transfer").
//
// Bounds: writes waiting (writes_max), reads waiting (reads_max), watches (watches_max); a write
// or read that waits longer than request_timeout answers kTimeout (its outcome is then unknown).
// Threading: the loop thread, except the executor jobs, which touch only the Disk (storage and
// store, the store behind a mutex shared with read jobs). Ownership: borrows env, loop, executor,
// config and logger; owns the rest; the Disk lives until the last job that uses it ends.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/status.h"
#include "agent/config/config.h"
#include "agent/http/json.h"
#include "agent/http/router.h"
#include "agent/kv/backend.h"
#include "agent/raft/raft.h"
#include "agent/raft/sqlite/sqlite_storage.h"
#include "agent/rpc/endpoint.h"
#include "agent/runtime/loop.h"
#include "agent/runtime/worker_pool.h"
#include "agent/state/store.h"
#include "hal/env.h"
#include "hal/tls.h"

namespace server {

struct HostLimits {
  size_t writes_max = 8192;
  size_t reads_max = 8192;
  size_t watches_max = 16384;
  base::Duration request_timeout = base::Duration::seconds(30);
  base::Duration rpc_timeout = base::Duration::seconds(10);
};

// A foundation as gossip shows it.
struct ServerInfo {
  std::string node_id;
  std::string name;
  raft::ServerId id = raft::kNoServer;
  std::optional<hal::SockAddr> rpc;
  bool alive = false;  // alive or suspect in gossip
  bool left = false;   // left gracefully (agentctl leave)
};

// The Raft id of a node id: its first 16 hex digits as a number (1 if that is 0).
raft::ServerId server_id_of(std::string_view node_id);

class RaftHost final : public kv::Backend {
 public:
  RaftHost(hal::Env& env, runtime::Loop& loop, runtime::Executor& executor, const config::Config& config,
           base::Logger& log, std::string node_id, std::string node_name, HostLimits limits = {});
  ~RaftHost() override;
  RaftHost(const RaftHost&) = delete;
  RaftHost& operator=(const RaftHost&) = delete;

  // Opens raft.db and state.db (blocking: called once at start, before the loop serves anything),
  // makes the TLS configs from `identity`, listens for RPC on `rpc_bind`, and starts Raft now if
  // the voters file exists. Errors name the file or address.
  [[nodiscard]] base::Status start(const hal::tls::Identity& identity, const hal::SockAddr& rpc_bind);
  // Called with a non-OK Status when storage failed; the agent must stop.
  void on_fatal(std::function<void(base::Status)> fn) { fatal_ = std::move(fn); }
  // What gossip says about a foundation (this node included). `rpc` empty when not advertised.
  void on_server(const ServerInfo& info);
  void add_routes(http::Router& router);
  // Adds "raft" and "rpc" objects to /v1/agent/self's Stats: role, term, indexes, the core's
  // counters, messages dropped for want of an address, the RPC endpoint's counters.
  void add_stats(http::Json& doc, cJSON* stats) const;
  base::Result<hal::SockAddr> rpc_addr() const { return endpoint_->listen_addr(); }
  // Adds an RPC method on the server's endpoint (after start()): the agent's http.forward.
  void add_rpc_method(std::string name, rpc::Endpoint::Method method) { endpoint_->add_method(std::move(name), std::move(method)); }
  void shutdown();

  // kv::Backend
  void write(std::string command, std::function<void(base::Result<state::ApplyResult>)> done) override;
  void read(kv::Consistency mode, std::function<base::Status(const state::Store&)> fn,
            std::function<void(base::Status, kv::ReadMeta)> done) override;
  uint64_t applied_index() const override { return applied_; }
  base::Result<kv::WatchId> watch(uint64_t after, std::function<void()> fn) override;
  void unwatch(kv::WatchId id) override;

  // For status and tests.
  bool running() const { return core_ != nullptr; }
  const raft::RaftCore* core() const { return core_.get(); }

 private:
  // What the executor's jobs use; shared so a job outlives the host safely.
  struct Disk {
    std::unique_ptr<raft::SqliteStorage> storage;
    std::mutex store_mu;
    std::unique_ptr<state::Store> store;
    // Serializes writes of <dir>/snapshot between a Ready's install and the host's own snapshot
    // job, which run on different workers; a write never replaces a newer snapshot.
    std::mutex file_mu;
    uint64_t file_index = 0;  // index of the snapshot in the file (guarded by file_mu)
  };
  struct Job {
    raft::Ready ready;
    base::Status status;
    std::vector<state::ApplyResult> results;  // one per committed entry
  };
  struct Waiter {
    raft::Term term;
    base::MonoTime deadline;
    std::function<void(uint64_t index, base::Result<state::ApplyResult>)> done;
  };
  struct AppliedWaiter {
    uint64_t index;
    base::MonoTime deadline;
    std::function<void(base::Status)> done;  // OK once applied_ >= index; kTimeout otherwise
  };

  base::Status load_voters();
  // Reads <dir>/snapshot if it exists (kNotFound if not); checks the header.
  base::Status load_snapshot_file(raft::SnapshotMeta* meta, std::shared_ptr<const std::string>* image);
  // Takes a snapshot if enough was applied since the last one, beside the Ready pipeline.
  void maybe_snapshot();
  void finish_snapshot(raft::SnapshotMeta meta, std::shared_ptr<const std::string> image);
  void maybe_bootstrap();
  // Starts the core with these bootstrap voters (empty: a joiner).
  base::Status start_core(const std::vector<raft::ServerId>& voters);
  // Bootstrap race guard: asks the servers seen for their configuration, then bootstraps, joins
  // the configuration that lists us, or starts as a joiner.
  void check_peers_then_bootstrap(std::vector<std::string> ids);
  void bootstrap(const std::vector<std::string>& ids);
  void arm_autopilot();
  void autopilot();
  // Removes a member on the leader, or asks the leader to; `done` once applied here.
  void remove_peer(std::string node_id, std::function<void(base::Status)> done);
  void pump();
  void submit_job(std::shared_ptr<Job> job);
  void finish_job(const std::shared_ptr<Job>& job);
  void schedule();
  void send(const raft::Message& m);
  void fail_fatal(base::Status s);
  void arm_sweep();
  void sweep();
  // Runs `done` once this server has applied `index` (or kTimeout at `deadline`).
  void when_applied(uint64_t index, std::function<void(base::Status)> done);
  // The leader's read index (§6.4): kUnavailable when not leader or before its term's first commit.
  base::Result<uint64_t> leader_read_index() const;
  // Gets a read index (locally on the leader, else from it over RPC) and calls `done`.
  void get_read_index(bool consistent, std::function<void(base::Result<uint64_t>)> done);
  // The leader's part of get_read_index(consistent=true): a ReadIndex round in the core.
  void leader_read_index_round(std::function<void(base::Result<uint64_t>)> done);
  // Starts a transfer on the leader, or asks the leader to.
  void transfer(std::string node_id, std::function<void(base::Status)> done);
  void propose_here(std::string command, std::function<void(uint64_t index, base::Result<state::ApplyResult>)> done);
  const ServerInfo* leader_info() const;
  kv::ReadMeta meta() const;

  void rpc_raft_message(std::string body, const std::string& subject, rpc::Endpoint::Respond respond);
  void rpc_apply(std::string body, const std::string& subject, rpc::Endpoint::Respond respond);
  void rpc_read_index(std::string body, const std::string& subject, rpc::Endpoint::Respond respond);
  void rpc_transfer(std::string body, const std::string& subject, rpc::Endpoint::Respond respond);
  void rpc_peers(std::string body, const std::string& subject, rpc::Endpoint::Respond respond);
  void rpc_remove_peer(std::string body, const std::string& subject, rpc::Endpoint::Respond respond);
  // A member's node id as gossip tells it (16 hex digits of the Raft id when unknown).
  std::string node_id_of(raft::ServerId id) const;

  void handle_status_leader(http::Request& req, http::Responder resp);
  void handle_status_peers(http::Request& req, http::Responder resp);
  void handle_status_raft(http::Request& req, http::Responder resp);
  void handle_raft_configuration(http::Request& req, http::Responder resp);
  void handle_transfer_leader(http::Request& req, http::Responder resp);
  void handle_remove_peer(http::Request& req, http::Responder resp);

  hal::Env& env_;
  runtime::Loop& loop_;
  runtime::Executor& executor_;
  const config::Config& config_;
  base::Logger& log_;
  std::string node_id_;
  std::string node_name_;
  HostLimits limits_;
  std::string dir_;  // <data_dir>/raft

  std::shared_ptr<Disk> disk_;
  std::unique_ptr<hal::tls::TlsConfig> server_tls_;
  std::unique_ptr<hal::tls::TlsConfig> client_tls_;
  std::unique_ptr<rpc::Endpoint> endpoint_;
  std::unique_ptr<raft::RaftCore> core_;
  std::vector<std::string> voters_;  // node ids, once formed
  std::map<raft::ServerId, ServerInfo> servers_;
  std::map<raft::ServerId, base::MonoTime> status_since_;   // when each server's gossip status last changed
  std::map<raft::ServerId, base::MonoTime> learner_since_;  // leader: when each learner was first seen as one
  std::map<raft::ServerId, base::MonoTime> removed_at_;     // when this host last removed each server
  runtime::TimerId autopilot_timer_ = runtime::kNoTimer;
  bool peers_check_ = false;  // a bootstrap guard round is out
  runtime::TimerId peers_retry_timer_ = runtime::kNoTimer;

  bool busy_ = false;      // a Ready is with the executor
  bool failed_ = false;    // storage failed: do nothing more
  uint64_t applied_ = 0;   // last index applied to the store (loop thread's copy)
  runtime::TimerId tick_timer_ = runtime::kNoTimer;
  base::MonoTime tick_at_ = base::MonoTime::never();
  runtime::TimerId sweep_timer_ = runtime::kNoTimer;
  base::MonoTime leader_contact_;  // when a message from the leader last arrived (followers)

  std::map<raft::Index, Waiter> writes_;
  std::multimap<uint64_t, AppliedWaiter> applied_waiters_;
  struct ReadRound {
    base::MonoTime deadline;
    std::function<void(base::Result<uint64_t>)> done;
  };
  std::map<uint64_t, ReadRound> read_rounds_;  // by ctx: ReadIndex requests in the core
  uint64_t next_read_ctx_ = 1;
  std::map<kv::WatchId, std::pair<uint64_t, std::function<void()>>> watches_;
  kv::WatchId next_watch_ = 1;
  uint64_t dropped_messages_ = 0;  // to servers with no known address
  // The latest snapshot saved in <dir>/snapshot (index 0: none yet).
  raft::SnapshotMeta saved_meta_;
  std::shared_ptr<const std::string> saved_image_;
  uint64_t snapshots_taken_ = 0;
  bool snapshotting_ = false;  // a snapshot job is out
  uint64_t snapshots_installed_ = 0;

  std::function<void(base::Status)> fatal_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace server
