#include "agent/server/raft_host.h"

#include <algorithm>
#include <utility>

#include "agent/base/bytes.h"
#include "agent/http/json.h"
#include "agent/server/autopilot.h"
#include "agent/wire/raft_message.h"
#include "agent/wire/snapshot_file.h"

namespace server {

namespace {

constexpr std::string_view kModule = "raft";
// Largest voters file read: kVotersMax node ids of 36 characters and newlines, with room.
constexpr size_t kVotersFileBytesMax = 4096;
// How often the leader's autopilot looks at gossip and the configuration (Consul reconciles every
// few seconds; half a second keeps a join or a removal prompt and costs a map walk).
constexpr base::Duration kAutopilotInterval = base::Duration::millis(500);
// Before bootstrapping, how long to wait for the peers' answers, and between rounds when one failed.
constexpr base::Duration kPeersRetry = base::Duration::seconds(1);
// A forwarded apply's answer: index, status code, message, value.
constexpr size_t kReplyBytesMax = 1024;

std::string encode_apply_reply(uint64_t index, const state::ApplyResult& r) {
  std::string out;
  base::ByteWriter w(&out, kReplyBytesMax);
  w.u64(index);
  w.u8(static_cast<uint8_t>(r.status.code()));
  std::string msg = r.status.message().substr(0, 512);
  w.str(msg);
  w.u8(r.value ? 1 : 0);
  return out;
}

base::Status decode_apply_reply(std::string_view body, uint64_t* index, state::ApplyResult* r) {
  base::ByteReader rd(base::as_bytes(body));
  *index = rd.u64();
  uint8_t code = rd.u8();
  std::string msg(rd.str(512));
  uint8_t value = rd.u8();
  if (!rd.at_end() || code > static_cast<uint8_t>(base::Code::kCancelled)) {
    return base::error(base::Code::kInvalidArgument, "malformed raft.apply reply");
  }
  r->status = code == 0 ? base::Status::ok() : base::error(static_cast<base::Code>(code), "%s", msg.c_str());
  r->value = value != 0;
  return base::Status::ok();
}

bool is_server_subject(const std::string& subject) { return subject.find("CN=server.") != std::string::npos; }

// The snapshot file's layout is wire/snapshot_file.h ("WEFTRSNP", format, index, term, the
// configuration as of index, the image).
constexpr size_t kSnapshotHeaderBytesMax = 8 + 4 + 8 + 8 + 4 + wire::kMembershipBytesMax;
// The largest snapshot file read at start: the core's snapshot_bytes_max (64 MiB) and the header.
constexpr size_t kSnapshotFileBytesMax = (size_t{64} << 20) + kSnapshotHeaderBytesMax;

std::string snapshot_file_bytes(const raft::SnapshotMeta& meta, const std::string& image) {
  return wire::encode_snapshot_file(wire::SnapshotFileHeader{meta.index, meta.term, meta.config}, image);
}

}  // namespace

raft::ServerId server_id_of(std::string_view node_id) {
  uint64_t v = 0;
  int digits = 0;
  for (char c : node_id) {
    if (digits == 16) break;
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      continue;  // the UUID's dashes
    }
    v = (v << 4) | static_cast<uint64_t>(d);
    ++digits;
  }
  return v == 0 ? 1 : v;
}

RaftHost::RaftHost(hal::Env& env, runtime::Loop& loop, runtime::Executor& executor, const config::Config& config,
                   base::Logger& log, std::string node_id, std::string node_name, HostLimits limits)
    : env_(env),
      loop_(loop),
      executor_(executor),
      config_(config),
      log_(log),
      node_id_(std::move(node_id)),
      node_name_(std::move(node_name)),
      limits_(limits),
      dir_(config.data_dir + "/raft") {}

RaftHost::~RaftHost() {
  *alive_ = false;
  shutdown();
}

void RaftHost::shutdown() {
  if (endpoint_) endpoint_->close();
  if (tick_timer_ != runtime::kNoTimer) loop_.cancel(tick_timer_);
  tick_timer_ = runtime::kNoTimer;
  if (sweep_timer_ != runtime::kNoTimer) loop_.cancel(sweep_timer_);
  sweep_timer_ = runtime::kNoTimer;
  if (autopilot_timer_ != runtime::kNoTimer) loop_.cancel(autopilot_timer_);
  autopilot_timer_ = runtime::kNoTimer;
  if (peers_retry_timer_ != runtime::kNoTimer) loop_.cancel(peers_retry_timer_);
  peers_retry_timer_ = runtime::kNoTimer;
}

base::Status RaftHost::start(const hal::tls::Identity& identity, const hal::SockAddr& rpc_bind) {
  AGENT_TRY(env_.fs->make_dirs(dir_, 0700));
  disk_ = std::make_shared<Disk>();
  std::string raft_path = dir_ + "/raft.db";
  raft::SqliteStorageOptions storage_options;
  storage_options.vfs = env_.sqlite_vfs;  // the simulator's disk in simulation, SQLite's own here
  auto storage = raft::SqliteStorage::open(raft_path, storage_options);
  if (!storage.is_ok()) return base::error(storage.status().code(), "%s: %s", raft_path.c_str(), storage.status().message().c_str());
  disk_->storage = std::move(storage).value();
  std::string state_path = dir_ + "/state.db";
  state::StoreOptions store_options;
  store_options.vfs = env_.sqlite_vfs;
  auto store = state::Store::open(state_path, store_options);
  if (!store.is_ok()) return base::error(store.status().code(), "%s: %s", state_path.c_str(), store.status().message().c_str());
  disk_->store = std::move(store).value();
  // Chapter 5 at start (raft.h): finish an install a crash cut, and bring the store up to the
  // log's start from the saved snapshot if it is behind it.
  raft::SnapshotMeta meta;
  std::shared_ptr<const std::string> image;
  base::Status loaded = load_snapshot_file(&meta, &image);
  if (loaded.is_ok()) {
    base::Status r = raft::recover_snapshot(*disk_->storage, meta);
    if (!r.is_ok()) return base::error(r.code(), "%s/snapshot: %s", dir_.c_str(), r.message().c_str());
    saved_meta_ = meta;
    saved_image_ = image;
    disk_->file_index = meta.index;
  } else if (loaded.code() != base::Code::kNotFound) {
    return loaded;
  }
  if (disk_->store->last_applied() < disk_->storage->snapshot_meta().index) {
    if (!saved_image_) {
      return base::error(base::Code::kFailedPrecondition, "%s starts after index %llu but there is no snapshot file to restore the state from",
                         raft_path.c_str(), static_cast<unsigned long long>(disk_->storage->snapshot_meta().index));
    }
    base::Status r = disk_->store->restore(*saved_image_);
    if (!r.is_ok()) return base::error(r.code(), "restoring %s from %s/snapshot: %s", state_path.c_str(), dir_.c_str(), r.message().c_str());
    AGENT_LOG_INFO(log_, kModule, "state restored from the snapshot at index %llu", static_cast<unsigned long long>(saved_meta_.index));
  }
  applied_ = disk_->store->last_applied();
  if (applied_ > disk_->storage->last_index()) {
    return base::error(base::Code::kFailedPrecondition,
                       "%s has applied index %llu but %s ends at %llu: the state is ahead of the log (was raft.db replaced?)",
                       state_path.c_str(), static_cast<unsigned long long>(applied_), raft_path.c_str(),
                       static_cast<unsigned long long>(disk_->storage->last_index()));
  }

  auto server_tls = hal::tls::TlsConfig::create(hal::tls::Role::kServer, identity);
  if (!server_tls.is_ok()) return base::error(server_tls.status().code(), "RPC TLS: %s", server_tls.status().message().c_str());
  server_tls_ = std::move(server_tls).value();
  auto client_tls = hal::tls::TlsConfig::create(hal::tls::Role::kClient, identity);
  if (!client_tls.is_ok()) return base::error(client_tls.status().code(), "RPC TLS: %s", client_tls.status().message().c_str());
  client_tls_ = std::move(client_tls).value();
  std::string server_name = "server." + config_.datacenter + "." + config_.domain;
  rpc::EndpointOptions options;
  // An AppendEntries batch (append_entries_bytes_max) or one 512 KiB KV value, with room.
  options.limits.body_bytes_max = 2u << 20;
  endpoint_ = std::make_unique<rpc::Endpoint>(loop_, *env_.net, server_tls_.get(), client_tls_.get(), server_name, log_, options);
  std::weak_ptr<bool> alive = alive_;
  endpoint_->add_method("raft.msg", [this, alive](std::string body, const std::string& subject, rpc::Endpoint::Respond r) {
    if (!alive.expired()) rpc_raft_message(std::move(body), subject, std::move(r));
  });
  endpoint_->add_method("raft.apply", [this, alive](std::string body, const std::string& subject, rpc::Endpoint::Respond r) {
    if (!alive.expired()) rpc_apply(std::move(body), subject, std::move(r));
  });
  endpoint_->add_method("raft.transfer", [this, alive](std::string body, const std::string& subject, rpc::Endpoint::Respond r) {
    if (!alive.expired()) rpc_transfer(std::move(body), subject, std::move(r));
  });
  endpoint_->add_method("raft.read_index", [this, alive](std::string body, const std::string& subject, rpc::Endpoint::Respond r) {
    if (!alive.expired()) rpc_read_index(std::move(body), subject, std::move(r));
  });
  endpoint_->add_method("raft.peers", [this, alive](std::string body, const std::string& subject, rpc::Endpoint::Respond r) {
    if (!alive.expired()) rpc_peers(std::move(body), subject, std::move(r));
  });
  endpoint_->add_method("raft.remove_peer", [this, alive](std::string body, const std::string& subject, rpc::Endpoint::Respond r) {
    if (!alive.expired()) rpc_remove_peer(std::move(body), subject, std::move(r));
  });
  base::Status s = endpoint_->listen(rpc_bind);
  if (!s.is_ok()) return base::error(s.code(), "RPC cannot listen on %s: %s", rpc_bind.to_string().c_str(), s.message().c_str());
  AGENT_LOG_INFO(log_, kModule, "RPC listening on %s (mutual TLS, peers verified as %s)", rpc_bind.to_string().c_str(),
                 server_name.c_str());

  AGENT_TRY(load_voters());
  arm_autopilot();
  const bool has_state = disk_->storage->hard_state().term > 0 || disk_->storage->last_index() > 0;
  if (!voters_.empty()) {
    std::vector<raft::ServerId> ids;
    for (const auto& v : voters_) ids.push_back(server_id_of(v));
    AGENT_TRY(start_core(ids));
  } else if (has_state) {
    // A server that joined earlier: its configuration is in its log or snapshot.
    AGENT_LOG_INFO(log_, kModule, "no voters file but raft.db holds state: starting with the configuration in the log");
    AGENT_TRY(start_core({}));
  } else if (config_.bootstrap_expect > 0) {
    AGENT_LOG_INFO(log_, kModule, "waiting for %d servers (bootstrap_expect) to form the cluster", config_.bootstrap_expect);
  } else {
    AGENT_LOG_INFO(log_, kModule, "no voters file and bootstrap_expect is 0: waiting to be added to a cluster by its leader");
    AGENT_TRY(start_core({}));
  }
  return base::Status::ok();
}

base::Status RaftHost::load_snapshot_file(raft::SnapshotMeta* meta, std::shared_ptr<const std::string>* image) {
  std::string path = dir_ + "/snapshot";
  auto bytes = env_.fs->read_file(path, kSnapshotFileBytesMax);
  if (!bytes.is_ok()) {
    if (bytes.status().code() == base::Code::kNotFound) return bytes.status();
    return base::error(bytes.status().code(), "%s: %s", path.c_str(), bytes.status().message().c_str());
  }
  wire::SnapshotFileHeader header;
  std::string_view data;
  base::Status st = wire::decode_snapshot_file(*bytes, &header, &data);
  if (!st.is_ok()) {
    return base::error(base::Code::kFailedPrecondition, "%s is not a snapshot file of this version: %s", path.c_str(),
                       st.message().c_str());
  }
  *meta = raft::SnapshotMeta{header.index, header.term, std::move(header.config)};
  *image = std::make_shared<const std::string>(data);
  return base::Status::ok();
}

base::Status RaftHost::load_voters() {
  std::string path = dir_ + "/voters";
  auto text = env_.fs->read_file(path, kVotersFileBytesMax);
  if (!text.is_ok()) {
    if (text.status().code() == base::Code::kNotFound) return base::Status::ok();
    return base::error(text.status().code(), "%s: %s", path.c_str(), text.status().message().c_str());
  }
  std::vector<std::string> voters;
  size_t start = 0;
  while (start < text->size()) {
    size_t nl = text->find('\n', start);
    if (nl == std::string::npos) nl = text->size();
    std::string line = text->substr(start, nl - start);
    start = nl + 1;
    if (line.empty()) continue;
    if (line.size() != 36) return base::error(base::Code::kFailedPrecondition, "%s: \"%s\" is not a node id", path.c_str(), line.c_str());
    voters.push_back(line);
  }
  if (voters.empty() || voters.size() > raft::kVotersMax) {
    return base::error(base::Code::kFailedPrecondition, "%s: %zu voters (want 1 to %zu)", path.c_str(), voters.size(), raft::kVotersMax);
  }
  if (std::find(voters.begin(), voters.end(), node_id_) == voters.end()) {
    return base::error(base::Code::kFailedPrecondition, "%s does not list this node (%s)", path.c_str(), node_id_.c_str());
  }
  voters_ = std::move(voters);
  return base::Status::ok();
}

void RaftHost::on_server(const ServerInfo& info) {
  if (info.id == raft::kNoServer) return;
  auto it = servers_.find(info.id);
  if (it == servers_.end() || it->second.alive != info.alive || it->second.left != info.left) {
    status_since_[info.id] = loop_.now();
  }
  servers_[info.id] = info;
  maybe_bootstrap();
}

void RaftHost::maybe_bootstrap() {
  if (core_ != nullptr || failed_ || config_.bootstrap_expect <= 0 || disk_ == nullptr || peers_check_ ||
      peers_retry_timer_ != runtime::kNoTimer) {
    return;
  }
  std::vector<std::string> ids;
  bool self = false;
  for (const auto& [id, s] : servers_) {
    if (!s.alive || !s.rpc) continue;
    ids.push_back(s.node_id);
    if (s.node_id == node_id_) self = true;
  }
  if (!self || ids.size() < static_cast<size_t>(config_.bootstrap_expect)) return;
  check_peers_then_bootstrap(std::move(ids));
}

// The bootstrap race guard (Consul's: before bootstrapping, ask the servers seen whether they
// already have a Raft configuration). Answers: u8 1 + u8 count + count x u64 voters when the
// server runs Raft with a configuration, u8 0 when it does not (yet).
void RaftHost::check_peers_then_bootstrap(std::vector<std::string> ids) {
  struct Round {
    size_t waiting = 0;
    bool failed = false;
    std::vector<raft::ServerId> voters;  // of a server already in a cluster
  };
  auto round = std::make_shared<Round>();
  std::weak_ptr<bool> alive = alive_;
  auto finish = [this, alive, round, ids] {
    if (alive.expired() || core_ != nullptr || failed_) return;
    peers_check_ = false;
    const raft::ServerId me = server_id_of(node_id_);
    if (!round->voters.empty()) {
      const bool listed = std::find(round->voters.begin(), round->voters.end(), me) != round->voters.end();
      AGENT_LOG_INFO(log_, kModule, "servers in gossip already run a cluster (%zu voters): %s", round->voters.size(),
                     listed ? "starting as one of its voters" : "not bootstrapping; starting as a non-voter for its leader to add");
      if (listed) {
        // One of the servers that formed together, a moment later than the first: record the same
        // bootstrap voters it would have written (when gossip names them all).
        std::vector<std::string> node_ids;
        for (raft::ServerId v : round->voters) {
          auto it = servers_.find(v);
          if (it != servers_.end()) node_ids.push_back(it->second.node_id);
        }
        if (node_ids.size() == round->voters.size()) {
          bootstrap(node_ids);
          return;
        }
      }
      base::Status s = start_core(listed ? round->voters : std::vector<raft::ServerId>{});
      if (!s.is_ok()) fail_fatal(s);
      return;
    }
    if (round->failed) {
      // Someone did not answer: it may be in a cluster. Ask again shortly (Consul retries too).
      auto t = loop_.arm_after(kPeersRetry, [this, alive] {
        if (alive.expired()) return;
        peers_retry_timer_ = runtime::kNoTimer;
        maybe_bootstrap();
      });
      if (t.is_ok()) peers_retry_timer_ = *t;
      return;
    }
    bootstrap(ids);
  };
  peers_check_ = true;
  for (const auto& [id, s] : servers_) {
    if (s.node_id == node_id_ || !s.alive || !s.rpc) continue;
    if (std::find(ids.begin(), ids.end(), s.node_id) == ids.end()) continue;
    ++round->waiting;
    endpoint_->call(*s.rpc, "raft.peers", std::string(), kPeersRetry, [round, finish](base::Result<std::string> r) {
      if (!r.is_ok()) {
        round->failed = true;
      } else {
        base::ByteReader rd(base::as_bytes(*r));
        const uint8_t in_cluster = rd.u8();
        if (in_cluster == 1) {
          const uint8_t n = rd.u8();
          std::vector<raft::ServerId> voters;
          for (uint8_t i = 0; i < n && rd.ok() && i < raft::kVotersMax; ++i) voters.push_back(rd.u64());
          if (!rd.at_end() || n == 0 || n > raft::kVotersMax) round->failed = true;  // malformed: ask again
          else if (round->voters.empty()) round->voters = std::move(voters);
        } else if (!rd.at_end() || in_cluster != 0) {
          round->failed = true;
        }
      }
      if (--round->waiting == 0) finish();
    });
  }
  if (round->waiting == 0) finish();
}

void RaftHost::bootstrap(const std::vector<std::string>& given) {
  std::vector<std::string> ids = given;
  if (ids.size() > raft::kVotersMax) ids.resize(raft::kVotersMax);
  std::sort(ids.begin(), ids.end());
  std::string text;
  for (const auto& id : ids) text += id + "\n";
  std::string path = dir_ + "/voters";
  base::Status s = env_.fs->write_file(path, base::as_bytes(text), 0600, /*durable=*/true);
  if (!s.is_ok()) {
    fail_fatal(base::error(s.code(), "%s: %s", path.c_str(), s.message().c_str()));
    return;
  }
  AGENT_LOG_INFO(log_, kModule, "forming the cluster with %zu voters (bootstrap_expect %d)", ids.size(), config_.bootstrap_expect);
  voters_ = ids;
  std::vector<raft::ServerId> voters;
  for (const auto& v : ids) voters.push_back(server_id_of(v));
  s = start_core(voters);
  if (!s.is_ok()) fail_fatal(s);
}

base::Status RaftHost::start_core(const std::vector<raft::ServerId>& voters) {
  raft::RaftConfig rc;
  rc.id = server_id_of(node_id_);
  rc.voters = voters;
  std::sort(rc.voters.begin(), rc.voters.end());
  rc.voters.erase(std::unique(rc.voters.begin(), rc.voters.end()), rc.voters.end());
  // Over TCP a batch may be larger than the simulator's datagram: 256 KiB, well inside the RPC
  // frame limit set in start().
  rc.append_entries_bytes_max = 256 * 1024;
  rc.leader_sends_before_persist = true;
  AGENT_TRY(rc.validate());
  uint64_t seed = 0;
  uint8_t b[8];
  AGENT_TRY(env_.entropy->fill(std::span<uint8_t>(b, sizeof b)));
  for (uint8_t x : b) seed = (seed << 8) | x;
  core_ = std::make_unique<raft::RaftCore>(rc, *disk_->storage, seed, loop_.now(), applied_);
  if (saved_image_) AGENT_TRY(core_->set_snapshot(saved_meta_, saved_image_));
  AGENT_LOG_INFO(log_, kModule, "raft started: id %016llx, %zu voters in use, term %llu, log ends at %llu, applied %llu",
                 static_cast<unsigned long long>(rc.id), core_->membership().voters.size(), static_cast<unsigned long long>(core_->term()),
                 static_cast<unsigned long long>(core_->last_index()), static_cast<unsigned long long>(applied_));
  pump();
  schedule();
  return base::Status::ok();
}

void RaftHost::schedule() {
  if (core_ == nullptr || failed_) return;
  base::MonoTime d = core_->next_deadline();
  if (tick_timer_ != runtime::kNoTimer && d == tick_at_) return;
  if (tick_timer_ != runtime::kNoTimer) loop_.cancel(tick_timer_);
  tick_timer_ = runtime::kNoTimer;
  tick_at_ = d;
  if (d == base::MonoTime::never()) return;
  auto t = loop_.arm(d, [this] {
    tick_timer_ = runtime::kNoTimer;
    core_->on_tick(loop_.now());
    pump();
    schedule();
  });
  if (t.is_ok()) tick_timer_ = *t;
}

void RaftHost::pump() {
  if (core_ == nullptr || busy_ || failed_ || !core_->has_ready()) return;
  auto job = std::make_shared<Job>();
  job->ready = core_->take_ready();
  // §10.2.1: the leader's replication goes out now, its own write in parallel on the worker.
  for (const auto& m : job->ready.messages_now) send(m);
  busy_ = true;
  submit_job(std::move(job));
}

void RaftHost::submit_job(std::shared_ptr<Job> job) {
  std::shared_ptr<Disk> disk = disk_;
  std::weak_ptr<bool> alive = alive_;
  hal::Fs* fs = env_.fs;
  std::string snapshot_path = dir_ + "/snapshot";
  base::Status s = executor_.submit(
      [disk, job, fs, snapshot_path] {
        // Step 0 (Figure 5.3): a leader's snapshot is saved as ours before step 1 deletes the
        // entries it covers.
        const std::optional<raft::Snapshot>& snap = job->ready.snapshot;
        if (snap) {
          std::string bytes = snapshot_file_bytes(snap->meta, *snap->data);
          std::lock_guard<std::mutex> lock(disk->file_mu);
          if (snap->meta.index > disk->file_index) {
            job->status = fs->write_file(snapshot_path, base::as_bytes(bytes), 0600, /*durable=*/true);
            if (!job->status.is_ok()) return;
            disk->file_index = snap->meta.index;
          }
        }
        // Step 1 of raft.h's Ready: persist and sync.
        if (job->ready.needs_sync()) {
          job->status = raft::write_ready(*disk->storage, job->ready);
          if (job->status.is_ok()) job->status = disk->storage->sync();
          if (!job->status.is_ok()) return;
        }
        // Step 2: restore a received snapshot (receiver 8), then apply the committed entries
        // after it, one transaction.
        auto& committed = job->ready.committed;
        job->results.assign(committed.size(), state::ApplyResult{});
        if (!snap && committed.empty()) return;
        std::lock_guard<std::mutex> lock(disk->store_mu);
        if (snap) {
          job->status = disk->store->restore(*snap->data);
          if (!job->status.is_ok()) return;
          if (disk->store->last_applied() != snap->meta.index) {
            job->status = base::error(base::Code::kFailedPrecondition, "the leader's snapshot for index %llu holds the state at %llu",
                                      static_cast<unsigned long long>(snap->meta.index),
                                      static_cast<unsigned long long>(disk->store->last_applied()));
            return;
          }
        }
        if (committed.empty()) return;
        size_t skip = 0;
        while (skip < committed.size() && committed[skip].index <= disk->store->last_applied()) ++skip;
        if (skip == committed.size()) return;
        std::vector<std::string> commands;
        commands.reserve(committed.size() - skip);
        for (size_t i = skip; i < committed.size(); ++i) {
          // A no-op entry applies as an empty command, which the store refuses harmlessly: every
          // index advances last_applied.
          commands.push_back(committed[i].type == wire::EntryType::kCommand ? std::move(committed[i].data) : std::string());
        }
        auto r = disk->store->apply(committed[skip].index, commands);
        if (!r.is_ok()) {
          job->status = r.status();
          return;
        }
        for (size_t i = 0; i < r->size(); ++i) job->results[skip + i] = std::move((*r)[i]);
      },
      [this, alive, job] {
        if (!alive.expired()) finish_job(job);
      });
  if (!s.is_ok()) {
    // The worker queue is full: the Ready is taken and must be performed, so try again shortly.
    auto t = loop_.arm_after(base::Duration::millis(5), [this, alive, job] {
      if (!alive.expired()) submit_job(job);
    });
    if (!t.is_ok()) fail_fatal(base::error(base::Code::kInternal, "cannot schedule a Raft write: %s", t.status().message().c_str()));
  }
}

void RaftHost::finish_job(const std::shared_ptr<Job>& job) {
  busy_ = false;
  if (failed_) return;
  if (!job->status.is_ok()) {
    fail_fatal(base::error(job->status.code(), "raft storage failed: %s", job->status.message().c_str()));
    return;
  }
  raft::Ready& ready = job->ready;
  for (const auto& m : ready.messages) send(m);

  std::vector<std::function<void()>> calls;
  if (ready.snapshot) {
    const raft::SnapshotMeta& meta = ready.snapshot->meta;
    applied_ = std::max(applied_, meta.index);
    saved_meta_ = meta;
    saved_image_ = ready.snapshot->data;
    ++snapshots_installed_;
    AGENT_LOG_INFO(log_, kModule, "installed the leader's snapshot at index %llu (term %llu, %zu bytes)",
                   static_cast<unsigned long long>(meta.index), static_cast<unsigned long long>(meta.term),
                   ready.snapshot->data->size());
    // Writes this server proposed at indexes the snapshot covers: whether they are in it is
    // unknown here.
    for (auto it = writes_.begin(); it != writes_.end() && it->first <= meta.index;) {
      uint64_t index = it->first;
      calls.push_back([done = std::move(it->second.done), index] {
        done(index, base::error(base::Code::kTimeout, "replaced by the leader's snapshot; the write's outcome is unknown"));
      });
      it = writes_.erase(it);
    }
  }
  for (size_t i = 0; i < ready.committed.size(); ++i) {
    const raft::Entry& e = ready.committed[i];
    applied_ = std::max(applied_, e.index);
    auto w = writes_.find(e.index);
    if (w == writes_.end()) continue;
    auto done = std::move(w->second.done);
    if (w->second.term == e.term && e.type == wire::EntryType::kCommand) {
      state::ApplyResult r = job->results[i];
      uint64_t index = e.index;
      calls.push_back([done = std::move(done), r, index] { done(index, r); });
    } else {
      uint64_t index = e.index;
      calls.push_back([done = std::move(done), index] {
        done(index, base::error(base::Code::kUnavailable, "leadership changed before the write committed; it was not applied"));
      });
    }
    writes_.erase(w);
  }
  for (const raft::ReadState& rs : ready.read_states) {
    auto it = read_rounds_.find(rs.ctx);
    if (it == read_rounds_.end()) continue;  // timed out meanwhile
    uint64_t index = rs.index;
    calls.push_back([done = std::move(it->second.done), index] { done(index); });
    read_rounds_.erase(it);
  }
  for (uint64_t ctx : ready.reads_aborted) {
    auto it = read_rounds_.find(ctx);
    if (it == read_rounds_.end()) continue;
    calls.push_back([done = std::move(it->second.done)] {
      done(base::error(base::Code::kUnavailable, "leadership lost before the read was confirmed"));
    });
    read_rounds_.erase(it);
  }
  while (!applied_waiters_.empty() && applied_waiters_.begin()->first <= applied_) {
    auto done = std::move(applied_waiters_.begin()->second.done);
    applied_waiters_.erase(applied_waiters_.begin());
    calls.push_back([done = std::move(done)] { done(base::Status::ok()); });
  }
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->second.first < applied_) {
      calls.push_back(std::move(it->second.second));
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
  core_->on_persisted(ready.id, loop_.now());
  maybe_snapshot();
  pump();
  schedule();
  for (auto& c : calls) c();
}

void RaftHost::maybe_snapshot() {
  if (snapshotting_ || failed_ || core_ == nullptr) return;
  const uint64_t threshold = static_cast<uint64_t>(config_.raft.snapshot_threshold);
  if (applied_ < saved_meta_.index + threshold || applied_ <= core_->log_start().index) return;
  snapshotting_ = true;
  // 1. A worker images the store at whatever it holds (>= applied_), between two batches.
  struct Taken {
    base::Status status;
    uint64_t index = 0;
    std::shared_ptr<const std::string> image;
  };
  auto taken = std::make_shared<Taken>();
  std::shared_ptr<Disk> disk = disk_;
  std::weak_ptr<bool> alive = alive_;
  base::Status s = executor_.submit(
      [disk, taken] {
        std::string image;
        {
          // The Ready pipeline's applies wait on this lock: hold it for the image only, and take
          // the digest (a SHA-256 over the whole image) after.
          std::lock_guard<std::mutex> lock(disk->store_mu);
          auto r = disk->store->snapshot_unsealed();
          if (!r.is_ok()) {
            taken->status = r.status();
            return;
          }
          taken->index = disk->store->last_applied();
          image = std::move(r).value();
        }
        state::Store::seal_snapshot(&image);
        taken->image = std::make_shared<const std::string>(std::move(image));
      },
      [this, alive, taken] {
        if (alive.expired()) return;
        if (!taken->status.is_ok()) {
          snapshotting_ = false;
          fail_fatal(base::error(taken->status.code(), "taking a snapshot: %s", taken->status.message().c_str()));
          return;
        }
        // 2. Its term, from the log (an install of a newer snapshot meanwhile makes it moot).
        if (core_ == nullptr || taken->index <= core_->log_start().index || taken->index > core_->last_index() ||
            taken->index <= saved_meta_.index) {
          snapshotting_ = false;
          return;
        }
        finish_snapshot(core_->snapshot_meta_at(taken->index), taken->image);  // index, term, configuration
      });
  if (!s.is_ok()) snapshotting_ = false;  // the worker queue is full: try again after the next Ready
}

void RaftHost::finish_snapshot(raft::SnapshotMeta meta, std::shared_ptr<const std::string> image) {
  if (meta.config.voters.empty()) {
    snapshotting_ = false;  // no configuration known at that index (cannot happen once we applied anything)
    return;
  }
  // 3. A worker writes the file durably (never over a newer one), 4. the loop hands it to the
  // core and compacts.
  auto status = std::make_shared<base::Status>();
  std::shared_ptr<Disk> disk = disk_;
  std::weak_ptr<bool> alive = alive_;
  hal::Fs* fs = env_.fs;
  std::string path = dir_ + "/snapshot";
  base::Status s = executor_.submit(
      [disk, status, meta, image, fs, path] {
        std::string bytes = snapshot_file_bytes(meta, *image);
        std::lock_guard<std::mutex> lock(disk->file_mu);
        if (meta.index <= disk->file_index) return;
        *status = fs->write_file(path, base::as_bytes(bytes), 0600, /*durable=*/true);
        if (status->is_ok()) disk->file_index = meta.index;
      },
      [this, alive, status, meta, image] {
        if (alive.expired()) return;
        snapshotting_ = false;
        if (!status->is_ok()) {
          fail_fatal(base::error(status->code(), "writing a snapshot: %s", status->message().c_str()));
          return;
        }
        if (core_ == nullptr || meta.index <= saved_meta_.index) return;
        saved_meta_ = meta;
        saved_image_ = image;
        ++snapshots_taken_;
        base::Status st = core_->set_snapshot(meta, image);
        const uint64_t trailing = static_cast<uint64_t>(config_.raft.trailing_logs);
        if (st.is_ok() && meta.index > trailing && meta.index - trailing > core_->log_start().index) {
          st = core_->compact(meta.index - trailing);
        }
        if (!st.is_ok()) AGENT_LOG_WARN(log_, kModule, "snapshot at %llu: %s", static_cast<unsigned long long>(meta.index), st.message().c_str());
        AGENT_LOG_DEBUG(log_, kModule, "snapshot at index %llu (%zu bytes); log now starts after %llu",
                        static_cast<unsigned long long>(meta.index), image->size(),
                        static_cast<unsigned long long>(core_->log_start().index));
        pump();
        schedule();
      });
  if (!s.is_ok()) snapshotting_ = false;
}

void RaftHost::send(const raft::Message& m) {
  auto it = servers_.find(m.to);
  if (it == servers_.end() || !it->second.rpc) {
    ++dropped_messages_;
    return;
  }
  endpoint_->call(*it->second.rpc, "raft.msg", wire::encode_raft_message(m), limits_.rpc_timeout,
                  [](base::Result<std::string>) {});
}

void RaftHost::fail_fatal(base::Status s) {
  if (failed_) return;
  failed_ = true;
  AGENT_LOG_ERROR(log_, kModule, "stopping: %s", s.message().c_str());
  if (fatal_) fatal_(s);
}

void RaftHost::arm_sweep() {
  if (sweep_timer_ != runtime::kNoTimer) return;
  std::weak_ptr<bool> alive = alive_;
  auto t = loop_.arm_after(base::Duration::seconds(1), [this, alive] {
    if (alive.expired()) return;
    sweep_timer_ = runtime::kNoTimer;
    sweep();
  });
  if (t.is_ok()) sweep_timer_ = *t;
}

void RaftHost::sweep() {
  base::MonoTime now = loop_.now();
  std::vector<std::function<void()>> calls;
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (it->second.deadline <= now) {
      uint64_t index = it->first;
      calls.push_back([done = std::move(it->second.done), index] {
        done(index, base::error(base::Code::kTimeout, "the write did not commit in time; its outcome is unknown"));
      });
      it = writes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = applied_waiters_.begin(); it != applied_waiters_.end();) {
    if (it->second.deadline <= now) {
      calls.push_back([done = std::move(it->second.done)] {
        done(base::error(base::Code::kTimeout, "this server did not catch up in time"));
      });
      it = applied_waiters_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = read_rounds_.begin(); it != read_rounds_.end();) {
    if (it->second.deadline <= now) {
      calls.push_back([done = std::move(it->second.done)] {
        done(base::error(base::Code::kTimeout, "the leader could not confirm its leadership in time"));
      });
      it = read_rounds_.erase(it);
    } else {
      ++it;
    }
  }
  if (!writes_.empty() || !applied_waiters_.empty() || !read_rounds_.empty()) arm_sweep();
  for (auto& c : calls) c();
}

void RaftHost::when_applied(uint64_t index, std::function<void(base::Status)> done) {
  if (applied_ >= index) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done)] { done(base::Status::ok()); });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a read is lost");
    return;
  }
  if (applied_waiters_.size() >= limits_.reads_max) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done)] {
      done(base::error(base::Code::kResourceExhausted, "too many requests waiting for this server to catch up"));
    });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a read is lost");
    return;
  }
  applied_waiters_.emplace(index, AppliedWaiter{index, loop_.now() + limits_.request_timeout, std::move(done)});
  arm_sweep();
}

base::Result<uint64_t> RaftHost::leader_read_index() const {
  if (core_ == nullptr || core_->role() != raft::Role::kLeader) {
    return base::error(base::Code::kUnavailable, "not the leader");
  }
  // §6.4 step 1: until an entry of its term is committed, a new leader does not know the
  // commit index of the term before.
  if (core_->term_at(core_->commit_index()) != core_->term()) {
    return base::error(base::Code::kFailedPrecondition, "the leader has not committed an entry of its term yet");
  }
  return core_->commit_index();
}

const ServerInfo* RaftHost::leader_info() const {
  if (core_ == nullptr || core_->leader() == raft::kNoServer) return nullptr;
  auto it = servers_.find(core_->leader());
  return it == servers_.end() ? nullptr : &it->second;
}

kv::ReadMeta RaftHost::meta() const {
  kv::ReadMeta m;
  m.known_leader = core_ != nullptr && core_->leader() != raft::kNoServer;
  if (m.known_leader && core_->role() != raft::Role::kLeader && leader_contact_ != base::MonoTime()) {
    m.last_contact_ms = static_cast<uint64_t>((loop_.now() - leader_contact_).ms());
  }
  return m;
}

void RaftHost::leader_read_index_round(std::function<void(base::Result<uint64_t>)> done) {
  if (read_rounds_.size() >= limits_.reads_max) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done)] {
      done(base::error(base::Code::kResourceExhausted, "too many consistent reads waiting"));
    });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a read is lost");
    return;
  }
  uint64_t ctx = next_read_ctx_++;
  base::Status s = core_->read_index(ctx, loop_.now());
  if (!s.is_ok()) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done), s] { done(s); });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a read is lost");
    return;
  }
  read_rounds_.emplace(ctx, ReadRound{loop_.now() + limits_.request_timeout, std::move(done)});
  arm_sweep();
  pump();
  schedule();
}

void RaftHost::get_read_index(bool consistent, std::function<void(base::Result<uint64_t>)> done) {
  std::weak_ptr<bool> alive = alive_;
  if (consistent && core_ != nullptr && !failed_ && core_->role() == raft::Role::kLeader) {
    leader_read_index_round(std::move(done));
    return;
  }
  if (core_ != nullptr && core_->role() == raft::Role::kLeader) {
    auto r = leader_read_index();
    if (r.is_ok() || r.status().code() != base::Code::kFailedPrecondition) {
      auto t = loop_.arm(loop_.now(), [done = std::move(done), r]() mutable { done(std::move(r)); });
      if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a read is lost");
      return;
    }
    // A new leader: once its log so far is applied, its no-op is committed; ask again then.
    when_applied(core_->last_index(), [this, alive, done = std::move(done)](base::Status s) mutable {
      if (alive.expired()) return;
      if (!s.is_ok()) {
        done(s);
        return;
      }
      auto again = leader_read_index();
      done(again.is_ok() ? again : base::Result<uint64_t>(base::error(base::Code::kUnavailable, "leadership changed")));
    });
    return;
  }
  const ServerInfo* leader = leader_info();
  if (leader == nullptr || !leader->rpc) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done)] {
      done(base::error(base::Code::kUnavailable, "no cluster leader"));
    });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a read is lost");
    return;
  }
  endpoint_->call(*leader->rpc, "raft.read_index", consistent ? std::string("c") : std::string(), limits_.rpc_timeout,
                  [done = std::move(done)](base::Result<std::string> r) {
                    if (!r.is_ok()) {
                      done(r.status());
                      return;
                    }
                    base::ByteReader rd(base::as_bytes(*r));
                    uint64_t index = rd.u64();
                    if (!rd.at_end()) {
                      done(base::error(base::Code::kInternal, "malformed raft.read_index reply"));
                      return;
                    }
                    done(index);
                  });
}

void RaftHost::propose_here(std::string command, std::function<void(uint64_t, base::Result<state::ApplyResult>)> done) {
  if (writes_.size() >= limits_.writes_max) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done)] {
      done(0, base::error(base::Code::kResourceExhausted, "too many writes in flight"));
    });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a write is lost");
    return;
  }
  auto index = core_->propose(std::move(command), loop_.now());
  if (!index.is_ok()) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done), s = index.status()] { done(0, s); });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a write is lost");
    return;
  }
  writes_[*index] = Waiter{core_->term(), loop_.now() + limits_.request_timeout, std::move(done)};
  arm_sweep();
  pump();
  schedule();
}

void RaftHost::write(std::string command, std::function<void(base::Result<state::ApplyResult>)> done) {
  std::weak_ptr<bool> alive = alive_;
  if (core_ != nullptr && !failed_ && core_->role() == raft::Role::kLeader) {
    propose_here(std::move(command), [done = std::move(done)](uint64_t, base::Result<state::ApplyResult> r) { done(std::move(r)); });
    return;
  }
  const ServerInfo* leader = failed_ ? nullptr : leader_info();
  if (leader == nullptr || !leader->rpc) {
    auto t = loop_.arm(loop_.now(), [done = std::move(done)] {
      done(base::error(base::Code::kUnavailable, "no cluster leader"));
    });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a write is lost");
    return;
  }
  endpoint_->call(*leader->rpc, "raft.apply", std::move(command), limits_.request_timeout,
                  [alive, done = std::move(done)](base::Result<std::string> r) mutable {
                    if (alive.expired()) return;
                    if (!r.is_ok()) {
                      done(r.status());
                      return;
                    }
                    uint64_t index = 0;
                    state::ApplyResult result;
                    base::Status s = decode_apply_reply(*r, &index, &result);
                    if (!s.is_ok()) {
                      done(s);
                      return;
                    }
                    // Answered when the leader applied it, as Consul does. Waiting for this server
                    // to apply it too would cost up to a heartbeat (followers learn the commit
                    // index from the next AppendEntries); reads other than stale get a read index
                    // from the leader, so they see the write anyway.
                    (void)index;
                    done(result);
                  });
}

void RaftHost::read(kv::Consistency mode, std::function<base::Status(const state::Store&)> fn,
                    std::function<void(base::Status, kv::ReadMeta)> done) {
  std::weak_ptr<bool> alive = alive_;
  auto fn_s = std::make_shared<std::function<base::Status(const state::Store&)>>(std::move(fn));
  auto done_s = std::make_shared<std::function<void(base::Status, kv::ReadMeta)>>(std::move(done));
  auto run = [this, alive, fn_s, done_s] {
    if (alive.expired()) return;
    auto status = std::make_shared<base::Status>();
    std::shared_ptr<Disk> disk = disk_;
    base::Status s = executor_.submit(
        [disk, status, fn_s] {
          std::lock_guard<std::mutex> lock(disk->store_mu);
          *status = (*fn_s)(*disk->store);
        },
        [this, alive, status, done_s] {
          if (!alive.expired()) (*done_s)(*status, meta());
        });
    if (!s.is_ok()) (*done_s)(base::error(base::Code::kResourceExhausted, "too many reads in flight"), meta());
  };
  if (mode == kv::Consistency::kStale) {
    auto t = loop_.arm(loop_.now(), run);
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: a read is lost");
    return;
  }
  get_read_index(mode == kv::Consistency::kConsistent, [this, alive, run, done_s](base::Result<uint64_t> index) {
    if (alive.expired()) return;
    if (!index.is_ok()) {
      (*done_s)(index.status(), meta());
      return;
    }
    when_applied(*index, [this, alive, run, done_s](base::Status s) {
      if (alive.expired()) return;
      if (!s.is_ok()) {
        (*done_s)(s, meta());
        return;
      }
      run();
    });
  });
}

base::Result<kv::WatchId> RaftHost::watch(uint64_t after, std::function<void()> fn) {
  if (watches_.size() >= limits_.watches_max) {
    return base::error(base::Code::kResourceExhausted, "too many blocking queries (%zu)", limits_.watches_max);
  }
  kv::WatchId id = next_watch_++;
  if (applied_ > after) {
    std::weak_ptr<bool> alive = alive_;
    auto t = loop_.arm(loop_.now(), [fn = std::move(fn)] { fn(); });
    if (!t.is_ok()) return t.status();
    return id;
  }
  watches_.emplace(id, std::make_pair(after, std::move(fn)));
  return id;
}

void RaftHost::unwatch(kv::WatchId id) { watches_.erase(id); }

// --- RPC methods -----------------------------------------------------------------------------------

void RaftHost::rpc_raft_message(std::string body, const std::string& subject, rpc::Endpoint::Respond respond) {
  if (!is_server_subject(subject)) {
    respond(base::error(base::Code::kPermissionDenied, "raft messages are taken only from server certificates"));
    return;
  }
  if (core_ == nullptr || failed_) {
    respond(base::error(base::Code::kUnavailable, "raft is not running on this server yet"));
    return;
  }
  wire::RaftMessage m;
  base::Status s = wire::decode_raft_message(base::as_bytes(body), &m);
  if (!s.is_ok()) {
    respond(s);
    return;
  }
  if (m.type == wire::RaftType::kAppendEntries && m.term >= core_->term()) leader_contact_ = loop_.now();
  core_->on_message(m, loop_.now());
  respond(std::string());
  pump();
  schedule();
}

void RaftHost::rpc_apply(std::string body, const std::string& subject, rpc::Endpoint::Respond respond) {
  (void)subject;  // any certificate of the cluster CA may write (client agents forward too)
  if (core_ == nullptr || failed_ || core_->role() != raft::Role::kLeader) {
    respond(base::error(base::Code::kUnavailable, "not the leader"));
    return;
  }
  propose_here(std::move(body), [respond = std::move(respond)](uint64_t index, base::Result<state::ApplyResult> r) {
    if (!r.is_ok()) {
      respond(r.status());
      return;
    }
    respond(encode_apply_reply(index, *r));
  });
}

void RaftHost::rpc_read_index(std::string body, const std::string& subject, rpc::Endpoint::Respond respond) {
  (void)subject;
  // Body: empty (the default mode's read index) or "c" (a confirmed ReadIndex round).
  if (!body.empty() && body != "c") {
    respond(base::error(base::Code::kInvalidArgument, "raft.read_index takes an empty body or \"c\""));
    return;
  }
  if (core_ == nullptr || failed_ || core_->role() != raft::Role::kLeader) {
    respond(base::error(base::Code::kUnavailable, "not the leader"));
    return;
  }
  get_read_index(body == "c", [respond = std::move(respond)](base::Result<uint64_t> index) {
    if (!index.is_ok()) {
      respond(index.status());
      return;
    }
    std::string out;
    base::ByteWriter w(&out, 16);
    w.u64(*index);
    respond(out);
  });
}

// --- membership: autopilot, the bootstrap guard's answers, remove-peer (chapter 4) ---------------

void RaftHost::arm_autopilot() {
  std::weak_ptr<bool> alive = alive_;
  auto t = loop_.arm_after(kAutopilotInterval, [this, alive] {
    if (alive.expired()) return;
    autopilot_timer_ = runtime::kNoTimer;
    autopilot();
    arm_autopilot();
  });
  if (t.is_ok()) autopilot_timer_ = *t;
}

void RaftHost::autopilot() {
  if (core_ == nullptr || failed_ || core_->role() != raft::Role::kLeader) {
    learner_since_.clear();
    return;
  }
  const base::MonoTime now = loop_.now();
  const raft::Membership& config = core_->membership();
  // When each learner was first seen as one by this leader (stabilization counts from then).
  for (auto it = learner_since_.begin(); it != learner_since_.end();) {
    if (!core_->is_learner(it->first)) it = learner_since_.erase(it);
    else ++it;
  }
  for (raft::ServerId l : config.learners) learner_since_.emplace(l, now);
  AutopilotInput in;
  in.now = now;
  in.self = core_->id();
  in.config = config;
  in.change_pending = core_->membership_index() > core_->commit_index();
  for (const auto& [id, info] : servers_) {
    auto since = status_since_.find(id);
    in.servers.push_back(AutopilotServer{id, info.alive, info.left, since == status_since_.end() ? now : since->second});
  }
  for (const auto& [id, t] : learner_since_) in.learner_since.emplace_back(id, t);
  for (const auto& [id, t] : removed_at_) in.removed_at.emplace_back(id, t);
  std::optional<AutopilotDecision> d = autopilot_next(in, config_.autopilot);
  if (!d) return;
  auto r = core_->change_membership(d->change, d->id, now);
  const char* what = d->change == raft::MembershipChange::kAddLearner ? "adding as a non-voter"
                     : d->change == raft::MembershipChange::kPromote  ? "promoting to voter"
                                                                      : "removing";
  if (r.is_ok()) {
    if (d->change == raft::MembershipChange::kRemove) removed_at_[d->id] = now;
    AGENT_LOG_INFO(log_, kModule, "autopilot: %s %s (%s), configuration entry %llu", what, node_id_of(d->id).c_str(),
                   d->reason.c_str(), static_cast<unsigned long long>(*r));
    pump();
    schedule();
  } else {
    // Not caught up yet, the term's first commit pending, a transfer under way: next round.
    AGENT_LOG_DEBUG(log_, kModule, "autopilot: %s %s refused for now: %s", what, node_id_of(d->id).c_str(),
                    r.status().message().c_str());
  }
}

std::string RaftHost::node_id_of(raft::ServerId id) const {
  auto it = servers_.find(id);
  if (it != servers_.end()) return it->second.node_id;
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

void RaftHost::rpc_peers(std::string body, const std::string& subject, rpc::Endpoint::Respond respond) {
  if (!is_server_subject(subject)) {
    respond(base::error(base::Code::kPermissionDenied, "raft.peers is answered only to server certificates"));
    return;
  }
  if (!body.empty()) {
    respond(base::error(base::Code::kInvalidArgument, "raft.peers takes an empty body"));
    return;
  }
  std::string out;
  base::ByteWriter w(&out, 2 + 8 * raft::kVotersMax);
  if (core_ == nullptr || core_->membership().voters.empty()) {
    w.u8(0);
  } else {
    const auto& voters = core_->membership().voters;
    w.u8(1);
    w.u8(static_cast<uint8_t>(voters.size()));
    for (raft::ServerId v : voters) w.u64(v);
  }
  respond(out);
}

void RaftHost::remove_peer(std::string node_id, std::function<void(base::Status)> done) {
  auto post = [this](std::function<void(base::Status)> d, base::Status s) {
    auto t = loop_.arm(loop_.now(), [d = std::move(d), s] { d(s); });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: an answer is lost");
  };
  if (core_ == nullptr || failed_) {
    post(std::move(done), base::error(base::Code::kUnavailable, "raft is not running on this server"));
    return;
  }
  if (core_->role() == raft::Role::kLeader) {
    const raft::ServerId id = server_id_of(node_id);
    auto r = core_->change_membership(raft::MembershipChange::kRemove, id, loop_.now());
    if (!r.is_ok()) {
      post(std::move(done), r.status());
      return;
    }
    removed_at_[id] = loop_.now();  // not added back by autopilot until its gossip status changes
    AGENT_LOG_INFO(log_, kModule, "operator: removing %s, configuration entry %llu", node_id.c_str(),
                   static_cast<unsigned long long>(*r));
    pump();
    schedule();
    when_applied(*r, std::move(done));
    return;
  }
  const ServerInfo* leader = leader_info();
  if (leader == nullptr || !leader->rpc) {
    post(std::move(done), base::error(base::Code::kUnavailable, "no cluster leader"));
    return;
  }
  endpoint_->call(*leader->rpc, "raft.remove_peer", std::move(node_id), limits_.request_timeout,
                  [done = std::move(done)](base::Result<std::string> r) { done(r.status()); });
}

void RaftHost::rpc_remove_peer(std::string body, const std::string& subject, rpc::Endpoint::Respond respond) {
  if (!is_server_subject(subject)) {
    respond(base::error(base::Code::kPermissionDenied, "raft.remove_peer is taken only from server certificates"));
    return;
  }
  if (core_ == nullptr || core_->role() != raft::Role::kLeader) {
    respond(base::error(base::Code::kUnavailable, "not the leader"));
    return;
  }
  if (body.empty() || body.size() > 64) {
    respond(base::error(base::Code::kInvalidArgument, "raft.remove_peer: bad node id"));
    return;
  }
  remove_peer(std::move(body), [respond = std::move(respond)](base::Status s) {
    if (s.is_ok()) {
      respond(std::string());
    } else {
      respond(s);
    }
  });
}

// --- HTTP ----------------------------------------------------------------------------------------

void RaftHost::add_routes(http::Router& router) {
  router.add("GET", "/v1/status/leader", [this](http::Request& q, http::Responder r) { handle_status_leader(q, std::move(r)); });
  router.add("GET", "/v1/status/peers", [this](http::Request& q, http::Responder r) { handle_status_peers(q, std::move(r)); });
  router.add("GET", "/v1/status/raft", [this](http::Request& q, http::Responder r) { handle_status_raft(q, std::move(r)); });
  router.add("GET", "/v1/operator/raft/configuration",
             [this](http::Request& q, http::Responder r) { handle_raft_configuration(q, std::move(r)); });
  router.add("POST", "/v1/operator/raft/transfer-leader",
             [this](http::Request& q, http::Responder r) { handle_transfer_leader(q, std::move(r)); });
  router.add("PUT", "/v1/operator/raft/transfer-leader",
             [this](http::Request& q, http::Responder r) { handle_transfer_leader(q, std::move(r)); });
  router.add("DELETE", "/v1/operator/raft/peer", [this](http::Request& q, http::Responder r) { handle_remove_peer(q, std::move(r)); });
  router.add("POST", "/v1/operator/raft/peer", [this](http::Request& q, http::Responder r) { handle_remove_peer(q, std::move(r)); });
}

void RaftHost::add_stats(http::Json& doc, cJSON* stats) const {
  cJSON* r = doc.add_object(stats, "raft");
  doc.add_string(r, "state", core_ == nullptr ? "not started" : raft::role_name(core_->role()));
  doc.add_u64(r, "applied_index", applied_);
  doc.add_u64(r, "writes_waiting", writes_.size());
  doc.add_u64(r, "reads_waiting", applied_waiters_.size());
  doc.add_u64(r, "watches", watches_.size());
  doc.add_u64(r, "dropped_messages", dropped_messages_);
  doc.add_u64(r, "snapshot_index", saved_meta_.index);
  doc.add_u64(r, "snapshots_taken", snapshots_taken_);
  doc.add_u64(r, "snapshots_installed", snapshots_installed_);
  if (core_ != nullptr) {
    const raft::RaftCounters& c = core_->counters();
    doc.add_u64(r, "term", core_->term());
    doc.add_u64(r, "commit_index", core_->commit_index());
    doc.add_u64(r, "last_log_index", core_->last_index());
    doc.add_u64(r, "messages_in", c.messages_in);
    doc.add_u64(r, "messages_out", c.messages_out);
    doc.add_u64(r, "invalid_messages", c.invalid_messages);
    doc.add_u64(r, "elections_started", c.elections_started);
    doc.add_u64(r, "leaderships", c.leaderships);
    doc.add_u64(r, "proposals", c.proposals);
    doc.add_u64(r, "readies", c.readies);
    doc.add_u64(r, "log_start_index", core_->log_start().index);
    doc.add_u64(r, "snapshots_sent", c.snapshots_sent);
    doc.add_u64(r, "compactions", c.compactions);
  }
  if (endpoint_) {
    const rpc::EndpointCounters& e = endpoint_->counters();
    cJSON* o = doc.add_object(stats, "rpc");
    doc.add_u64(o, "connections", endpoint_->connections());
    doc.add_u64(o, "accepted", e.accepted);
    doc.add_u64(o, "refused", e.refused);
    doc.add_u64(o, "dials", e.dials);
    doc.add_u64(o, "dial_failures", e.dial_failures);
    doc.add_u64(o, "connection_errors", e.connection_errors);
    doc.add_u64(o, "calls_in", e.calls_in);
    doc.add_u64(o, "calls_out", e.calls_out);
    doc.add_u64(o, "timeouts", e.timeouts);
  }
}

void RaftHost::handle_status_leader(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::array();
  const ServerInfo* l = leader_info();
  std::string addr = l != nullptr && l->rpc ? l->rpc->to_string() : "";
  // Consul answers a bare JSON string: "10.0.0.1:8300", or "" with no leader.
  std::string body = "\"" + addr + "\"";
  resp.send(http::Response::json(200, body));
}

void RaftHost::handle_status_peers(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::array();
  // Consul lists the voters of the configuration in use.
  if (core_ != nullptr) {
    for (raft::ServerId v : core_->membership().voters) {
      auto it = servers_.find(v);
      if (it != servers_.end() && it->second.rpc) doc.add_string(doc.get(), "", it->second.rpc->to_string());
    }
  }
  resp.send(http::json_response(200, doc));
}

void RaftHost::handle_status_raft(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::object();
  const ServerInfo* l = leader_info();
  doc.add_string("Role", core_ == nullptr ? (config_.bootstrap_expect > 0 ? "bootstrapping" : "waiting") : raft::role_name(core_->role()));
  doc.add_string("Leader", l != nullptr ? l->name : "");
  doc.add_string("LeaderAddr", l != nullptr && l->rpc ? l->rpc->to_string() : "");
  doc.add_u64("Term", core_ ? core_->term() : 0);
  doc.add_u64("CommitIndex", core_ ? core_->commit_index() : 0);
  doc.add_u64("AppliedIndex", applied_);
  doc.add_u64("LastIndex", core_ ? core_->last_index() : 0);
  cJSON* voters = doc.add_array(doc.get(), "Voters");
  cJSON* non_voters = doc.add_array(doc.get(), "NonVoters");
  if (core_ != nullptr) {
    for (const std::vector<raft::ServerId>* list : {&core_->membership().voters, &core_->membership().learners}) {
      for (raft::ServerId v : *list) {
        auto it = servers_.find(v);
        doc.add_string(list == &core_->membership().voters ? voters : non_voters, "",
                       it != servers_.end() ? it->second.name : node_id_of(v));
      }
    }
  }
  doc.add_u64("DroppedMessages", dropped_messages_);
  resp.send(http::json_response(200, doc));
}

void RaftHost::handle_raft_configuration(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::object();
  cJSON* servers = doc.add_array(doc.get(), "Servers");
  // The configuration in use (§4.1), voters then non-voters (Consul's "Voter": false).
  if (core_ != nullptr) {
    for (const std::vector<raft::ServerId>* list : {&core_->membership().voters, &core_->membership().learners}) {
      for (raft::ServerId id : *list) {
        auto it = servers_.find(id);
        cJSON* s = doc.add_object(servers, "");
        doc.add_string(s, "ID", node_id_of(id));
        doc.add_string(s, "Node", it != servers_.end() ? it->second.name : "");
        doc.add_string(s, "Address", it != servers_.end() && it->second.rpc ? it->second.rpc->to_string() : "");
        doc.add_bool(s, "Leader", core_->leader() == id);
        doc.add_bool(s, "Voter", list == &core_->membership().voters);
        doc.add_string(s, "RaftProtocol", "3");
      }
    }
  }
  doc.add_u64("Index", core_ ? core_->membership_index() : 0);
  resp.send(http::json_response(200, doc));
}

void RaftHost::transfer(std::string node_id, std::function<void(base::Status)> done) {
  auto post = [this](std::function<void(base::Status)> d, base::Status s) {
    auto t = loop_.arm(loop_.now(), [d = std::move(d), s] { d(s); });
    if (!t.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: an answer is lost");
  };
  if (core_ == nullptr || failed_) {
    post(std::move(done), base::error(base::Code::kUnavailable, "raft is not running on this server"));
    return;
  }
  if (core_->role() == raft::Role::kLeader) {
    raft::ServerId target = raft::kNoServer;
    if (!node_id.empty()) {
      if (!core_->is_voter(server_id_of(node_id))) {
        post(std::move(done), base::error(base::Code::kInvalidArgument, "%s is not a voter", node_id.c_str()));
        return;
      }
      target = server_id_of(node_id);
    }
    base::Status s = core_->transfer_leadership(target, loop_.now());
    if (s.is_ok()) AGENT_LOG_INFO(log_, kModule, "leadership transfer started (%s)", node_id.empty() ? "to the most up-to-date voter" : node_id.c_str());
    pump();
    schedule();
    post(std::move(done), s);
    return;
  }
  const ServerInfo* leader = leader_info();
  if (leader == nullptr || !leader->rpc) {
    post(std::move(done), base::error(base::Code::kUnavailable, "no cluster leader"));
    return;
  }
  endpoint_->call(*leader->rpc, "raft.transfer", std::move(node_id), limits_.rpc_timeout,
                  [done = std::move(done)](base::Result<std::string> r) { done(r.status()); });
}

void RaftHost::rpc_transfer(std::string body, const std::string& subject, rpc::Endpoint::Respond respond) {
  if (!is_server_subject(subject)) {
    respond(base::error(base::Code::kPermissionDenied, "raft.transfer is taken only from server certificates"));
    return;
  }
  if (core_ == nullptr || core_->role() != raft::Role::kLeader) {
    respond(base::error(base::Code::kUnavailable, "not the leader"));
    return;
  }
  if (body.size() > 64) {
    respond(base::error(base::Code::kInvalidArgument, "raft.transfer: bad node id"));
    return;
  }
  transfer(std::move(body), [respond = std::move(respond)](base::Status s) {
    if (s.is_ok()) {
      respond(std::string());
    } else {
      respond(s);
    }
  });
}

void RaftHost::handle_transfer_leader(http::Request& req, http::Responder resp) {
  std::string id;
  if (const std::string* v = req.query_value("id")) id = *v;
  if (id.size() > 64) {
    resp.send(http::Response::error(400, "id: not a node id"));
    return;
  }
  auto r = std::make_shared<http::Responder>(std::move(resp));
  transfer(id, [r](base::Status s) {
    if (!s.is_ok()) {
      int status = s.code() == base::Code::kInvalidArgument ? 400 : s.code() == base::Code::kUnavailable ? 503 : 500;
      r->send(http::Response::error(status, s.message()));
      return;
    }
    // Consul answers {"Success": true} once the transfer was started.
    r->send(http::Response::json(200, "{\"Success\":true}"));
  });
}

void RaftHost::handle_remove_peer(http::Request& req, http::Responder resp) {
  // Consul's shape: ?id=<node id> (its server ID). A node id is a UUID; 16 hex digits (the Raft
  // id list-peers shows for a member gossip does not know) are taken too.
  std::string id;
  if (const std::string* v = req.query_value("id")) id = *v;
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-');
  if (!ok) {
    resp.send(http::Response::error(400, "id: a node id (lowercase UUID) is required"));
    return;
  }
  auto r = std::make_shared<http::Responder>(std::move(resp));
  remove_peer(id, [r](base::Status s) {
    if (!s.is_ok()) {
      int status = s.code() == base::Code::kInvalidArgument ? 400
                   : s.code() == base::Code::kNotFound       ? 404
                   : s.code() == base::Code::kFailedPrecondition ? 409
                   : s.code() == base::Code::kUnavailable        ? 503
                                                                 : 500;
      r->send(http::Response::error(status, s.message()));
      return;
    }
    r->send(http::Response::json(200, "true"));
  });
}

}  // namespace server
