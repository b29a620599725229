#include "raft_helpers.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace rafttest {

raft::RaftConfig sim_config() {
  raft::RaftConfig c;
  c.election_timeout = base::Duration::millis(150);
  c.heartbeat_interval = base::Duration::millis(15);
  c.append_entries_max = 16;  // small batches so runs exercise batching and pipelining
  c.inflight_max = 4;
  c.snapshot_chunk_bytes = 256;  // images of ~1 KiB go in several chunks, two at a time
  c.snapshot_chunks_inflight_max = 2;
  c.leader_sends_before_persist = true;  // as the agent's host runs it (§10.2.1)
  return c;
}

void report_failure(const sim::World& world) {
  if (!::testing::Test::HasFailure()) return;
  fprintf(stderr, "sim: failure with %s\n", sim::seed_banner(world.seed()).c_str());
  world.dump_trace(stderr, 40);
}

uint64_t entry_hash(const raft::Entry& e) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t b) { h = (h ^ b) * 1099511628211ull; };
  for (int i = 0; i < 8; ++i) mix(uint8_t(e.term >> (8 * i)));
  mix(uint8_t(e.type));
  for (char ch : e.data) mix(uint8_t(ch));
  return h;
}

namespace {

// "kv put K V op" / "kv cas K A B op": the KV commands in the log (space-separated tokens; keys
// and values never contain spaces). Returns false for any other entry.
struct KvCommand {
  bool cas = false;
  std::string key, value, to;
  uint64_t op = 0;
};

bool parse_kv(const std::string& data, KvCommand* out) {
  if (data.rfind("kv ", 0) != 0) return false;
  std::vector<std::string> t;
  size_t i = 3;
  while (i <= data.size()) {
    size_t j = data.find(' ', i);
    if (j == std::string::npos) j = data.size();
    t.push_back(data.substr(i, j - i));
    i = j + 1;
  }
  if (t.size() == 4 && t[0] == "put") {
    *out = KvCommand{false, t[1], t[2], "", std::stoull(t[3])};
    return true;
  }
  if (t.size() == 5 && t[0] == "cas") {
    *out = KvCommand{true, t[1], t[2], t[3], std::stoull(t[4])};
    return true;
  }
  AGENT_ASSERT_MSG(false, "malformed kv command");
  return false;
}

uint64_t chain_mix(uint64_t chain, uint64_t h) {
  for (int i = 0; i < 8; ++i) chain = (chain ^ uint8_t(h >> (8 * i))) * 1099511628211ull;
  return chain;
}

uint64_t entropy_seed(hal::Env& env) {
  uint8_t b[8];
  AGENT_ASSERT(env.entropy->fill(b).is_ok());
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

}  // namespace

// --- the server process ---------------------------------------------------------------------------

RaftServer::RaftServer(sim::Node& node, Fleet& fleet) : prng_(entropy_seed(node.env())), node_(node), fleet_(fleet) {
  raft::RaftConfig c = fleet.options.raft;
  c.id = Fleet::server_id(node.id());
  c.voters.clear();
  if (node.id() < fleet.servers) {
    for (size_t i = 0; i < fleet.servers; ++i) c.voters.push_back(Fleet::server_id(sim::NodeId(i)));
  }  // else a spare: no configuration until the log (or a snapshot) brings one
  // The state machine lives in memory: rebuilt in every life from the saved snapshot (if any)
  // and the log after it (raft.h, "At start").
  fleet.applied[node.id()] = Applied{};
  if (fleet.options.sqlite) {
    // What a host does at start: open raft.db under the data dir through the node's VFS.
    AGENT_ASSERT(node.env().fs->make_dirs("/var/lib/weft", 0700).is_ok());
    raft::SqliteStorageOptions so;
    so.vfs = node.env().sqlite_vfs;
    auto opened = raft::SqliteStorage::open("/var/lib/weft/raft.db", so);
    if (opened.is_ok()) {
      own_storage_ = std::move(opened).value();
    } else if (!node.fs().powered()) {
      // The disk lost power in an fsync while opening (creating the schema, say): the node
      // crashes as soon as this returns. An empty placeholder until then; nothing is checked.
      fleet.crash_from_inside(node.id());
      dead_on_arrival_ = true;
      own_storage_ = std::make_unique<raft::MemStorage>();
    } else {
      // A log that does not open after a crash is a durability failure; keep the run going on
      // an empty log so the checkers report it with its step.
      fleet.fail("Durability: s" + std::to_string(node.id() + 1) + " cannot reopen its log: " +
                 opened.status().to_string());
      own_storage_ = std::make_unique<raft::MemStorage>();
    }
    storage_ = own_storage_.get();
  } else {
    storage_ = fleet.disk.at(node.id()).get();
  }
  raft::Storage& disk = *storage_;
  if (!dead_on_arrival_) fleet.on_start(node.id(), disk);
  std::optional<raft::Snapshot>& saved = fleet.snapshot_file[node.id()];
  raft::Index applied = 0;
  if (saved) {
    base::Status st = raft::recover_snapshot(disk, saved->meta);
    if (!st.is_ok() && !node.fs().powered()) {
      // recover_snapshot's sync lost power: the node goes down again.
      if (!dead_on_arrival_) fleet.crash_from_inside(node.id());
      dead_on_arrival_ = true;
    } else if (!st.is_ok()) {
      fleet.fail("Snapshot Durability: s" + std::to_string(node.id() + 1) + ": " + st.message());
    } else if (!dead_on_arrival_) {
      fleet.on_synced(node.id(), disk);  // what recovery wrote, it synced
    }
  }
  if (dead_on_arrival_) {
    // Going down at the end of this step (World::crash from a StartFn): an empty core on an
    // empty log, never run.
    own_storage_ = std::make_unique<raft::MemStorage>();
    storage_ = own_storage_.get();
    core_ = std::make_unique<raft::RaftCore>(c, *storage_, entropy_seed(node.env()), node.loop().now(), 0);
    return;
  }
  const raft::SnapshotMeta start = disk.snapshot_meta();
  if (saved && saved->meta.index >= start.index) {
    kv_restore(*saved);
    applied = saved->meta.index;
    ++fleet.restores;
  } else if (start.index > 0) {
    // Negative control territory: the log starts after anything saved. Recorded as data loss;
    // the run goes on with a state machine that pretends to be at the log start.
    fleet.fail("Snapshot Durability: s" + std::to_string(node.id() + 1) + "'s log starts after index " +
               std::to_string(start.index) + " but its saved snapshot " +
               (saved ? "is at " + std::to_string(saved->meta.index) : std::string("does not exist")) +
               ": entries were compacted before a snapshot covering them was durable");
    applied = start.index;
    kv_applied_ = applied;
    fleet.applied[node.id()].last = applied;
  }
  core_ = std::make_unique<raft::RaftCore>(c, disk, entropy_seed(node.env()), node.loop().now(), applied);
  if (saved && saved->meta.index >= start.index) {
    base::Status st = core_->set_snapshot(saved->meta, saved->data);
    AGENT_ASSERT_MSG(st.is_ok(), st.to_string().c_str());
  }
  auto u = node.env().net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, kRaftPort));
  AGENT_ASSERT(u.is_ok());
  udp_ = *u;
  AGENT_ASSERT(node.loop().watch(udp_, hal::kReadable, [this](uint8_t) { on_udp(); }).is_ok());
  pump();
}

RaftServer::~RaftServer() {
  if (timer_armed_) node_.loop().cancel(timer_);
  if (udp_ != hal::kInvalidHandle) {
    node_.loop().unwatch(udp_);
    node_.env().net->close(udp_);
  }
}

base::Result<raft::Index> RaftServer::propose(std::string cmd) {
  auto r = core_->propose(std::move(cmd), node_.loop().now());
  pump();
  return r;
}

base::Result<raft::Index> RaftServer::change_membership(raft::MembershipChange change, raft::ServerId id) {
  auto r = core_->change_membership(change, id, node_.loop().now());
  pump();
  return r;
}

base::Status RaftServer::transfer(raft::ServerId target) {
  base::Status st = core_->transfer_leadership(target, node_.loop().now());
  pump();
  return st;
}

base::Status RaftServer::kv_write(uint64_t op, const std::string& cmd) {
  auto r = core_->propose(cmd, node_.loop().now());
  if (r.is_ok()) kv_writes_[*r].push_back(op);
  pump();
  return r.status();
}

base::Status RaftServer::kv_read(uint64_t op, const std::string& key) {
  base::Status st = core_->read_index(op, node_.loop().now());
  if (st.is_ok()) kv_reads_[op] = key;
  pump();
  return st;
}

// The state machine: apply one committed entry and answer the writes waiting on its index.
void RaftServer::kv_apply(const raft::Entry& e) {
  kv_applied_ = e.index;
  KvCommand cmd;
  bool swapped = false;
  const bool is_kv = parse_kv(e.data, &cmd);
  if (is_kv) {
    auto it = kv_.find(cmd.key);
    const std::string cur = it == kv_.end() ? "nil" : it->second;
    if (!cmd.cas) {
      kv_[cmd.key] = cmd.value;
    } else if (cur == cmd.value) {
      kv_[cmd.key] = cmd.to;
      swapped = true;
    }
  }
  auto w = kv_writes_.find(e.index);
  if (w == kv_writes_.end()) return;
  std::vector<uint64_t> ops = std::move(w->second);
  kv_writes_.erase(w);
  for (uint64_t op : ops) {
    // Index e.index committed with another entry: that proposal can never commit (State-Machine
    // Safety), so it had no effect.
    if (!is_kv || cmd.op != op) fleet_.kv_no_effect(op);
    else fleet_.kv_done(op, !cmd.cas || swapped, "");
  }
}

// The snapshot image: applied index and chain hash, the KV map, and padding (so that an image
// takes several InstallSnapshot chunks).
std::string RaftServer::kv_image() const {
  const Applied& a = fleet_.applied.at(node_.id());
  AGENT_ASSERT(a.last == kv_applied_);
  std::string out = std::to_string(a.last) + " " + std::to_string(a.chain) + "\n";
  for (const auto& [k, v] : kv_) out += k + " " + v + "\n";
  out += std::string(fleet_.options.snapshot_padding_bytes, '.');
  return out;
}

// Receiver 8 in the host: the state machine becomes the snapshot's. Writes waiting on indexes
// the snapshot covers can no longer be told apart: their clients time out (unknown outcome).
void RaftServer::kv_restore(const raft::Snapshot& s) {
  const std::string& img = *s.data;
  size_t nl = img.find('\n');
  AGENT_ASSERT(nl != std::string::npos);
  const raft::Index idx = std::stoull(img.substr(0, img.find(' ')));
  const uint64_t chain = std::stoull(img.substr(img.find(' ') + 1, nl - img.find(' ') - 1));
  AGENT_ASSERT(idx == s.meta.index);
  kv_.clear();
  size_t i = nl + 1;
  while (i < img.size() && img[i] != '.') {
    const size_t sp = img.find(' ', i), end = img.find('\n', i);
    kv_[img.substr(i, sp - i)] = img.substr(sp + 1, end - sp - 1);
    i = end + 1;
  }
  kv_applied_ = idx;
  kv_writes_.erase(kv_writes_.begin(), kv_writes_.upper_bound(idx));
  fleet_.on_restore(node_.id(), idx, chain);
}

// §5.1.2 "when to snapshot": here at random points, so that runs compact at every phase.
void RaftServer::maybe_compact() {
  if (fleet_.options.compact_probability <= 0 || kv_applied_ == 0) return;
  if (!prng_.chance(fleet_.options.compact_probability)) return;
  if (kv_applied_ <= core_->log_start().index) return;
  const raft::SnapshotMeta meta = core_->snapshot_meta_at(kv_applied_);  // index, term, configuration (§5.1)
  raft::Snapshot snap{meta, std::make_shared<const std::string>(kv_image())};
  const raft::Index keep = prng_.uniform(9);
  const raft::Index upto = meta.index > keep ? meta.index - keep : meta.index;
  if (fleet_.options.debug_compact_before_snapshot_saved) {
    // The deliberate bug: compact now, save later.
    const sim::NodeId id = node_.id();
    const uint64_t inc = node_.incarnation();
    Fleet* f = &fleet_;
    fleet_.world.after(base::Duration::millis(50), [f, id, inc, snap] {
      if (f->world.node(id).up() && f->world.node(id).incarnation() == inc) f->snapshot_file[id] = snap;
    });
  } else {
    fleet_.snapshot_file[node_.id()] = snap;  // step 0 of taking one: durable first
  }
  base::Status st = core_->set_snapshot(meta, snap.data);
  AGENT_ASSERT_MSG(st.is_ok(), st.to_string().c_str());
  st = core_->compact(upto);
  AGENT_ASSERT_MSG(st.is_ok(), st.to_string().c_str());
  ++fleet_.compactions;
}

// §6.4 step 4: a confirmed read is served once the state machine applied its read index.
void RaftServer::kv_serve_reads() {
  while (!kv_reads_confirmed_.empty() && kv_reads_confirmed_.begin()->first <= kv_applied_) {
    const uint64_t op = kv_reads_confirmed_.begin()->second;
    kv_reads_confirmed_.erase(kv_reads_confirmed_.begin());
    auto r = kv_reads_.find(op);
    if (r == kv_reads_.end()) continue;
    auto v = kv_.find(r->second);
    fleet_.kv_done(op, true, v == kv_.end() ? "nil" : v->second);
    kv_reads_.erase(r);
  }
}

void RaftServer::on_udp() {
  static uint8_t buf[65536];
  hal::SockAddr from;
  while (true) {
    auto r = node_.env().net->udp_recv(udp_, buf, &from);
    if (!r.is_ok()) break;
    raft::Message m;
    if (!wire::decode_raft_message(base::ByteSpan(buf, *r), &m).is_ok()) {
      ++decode_errors;
      continue;
    }
    core_->on_message(m, node_.loop().now());
  }
  pump();
}

void RaftServer::send(const raft::Message& m) {
  std::string bytes = wire::encode_raft_message(m);
  const sim::NodeId to = Fleet::node_id(m.to);
  AGENT_ASSERT(node_.env().net->udp_send(udp_, fleet_.world.node(to).address(kRaftPort), base::as_bytes(bytes)).is_ok());
}

// Performs Readies one at a time, as raft.h prescribes: write, sync on the worker pool, then
// send and apply, then on_persisted.
void RaftServer::pump() {
  while (!syncing_ && core_->has_ready()) {
    raft::Ready rd = core_->take_ready();
    for (const raft::Message& m : rd.messages_before_persist) send(m);  // negative control only
    for (const raft::Message& m : rd.messages_now) send(m);              // §10.2.1
    // Step 0 (raft.h): a leader's snapshot is saved durably before the log forgets what it covers.
    if (rd.snapshot) fleet_.snapshot_file[node_.id()] = *rd.snapshot;
    base::Status st = raft::write_ready(storage(), rd);
    AGENT_ASSERT_MSG(st.is_ok(), st.to_string().c_str());
    if (!rd.needs_sync()) {
      finish_ready(std::move(rd));
      continue;
    }
    syncing_ = true;
    auto shared = std::make_shared<raft::Ready>(std::move(rd));
    base::Status sub = node_.executor().submit([] {}, [this, shared] {
      fleet_.on_syncing(node_.id(), storage());
      base::Status s = storage().sync();
      if (!s.is_ok()) {
        // The host must stop on a failed fsync; here the disk lost power in the middle of it
        // (SimConfig::disk_crash_in_sync_probability) and the node is going down.
        AGENT_ASSERT_MSG(!node_.fs().powered(), "fsync failed without a power cut");
        fleet_.crash_from_inside(node_.id());
        return;
      }
      fleet_.on_synced(node_.id(), storage());
      syncing_ = false;
      finish_ready(std::move(*shared));
      pump();
    });
    AGENT_ASSERT(sub.is_ok());
  }
  arm();
}

void RaftServer::finish_ready(raft::Ready rd) {
  if (rd.snapshot) {
    // Step 2: the state machine becomes the snapshot's, then applies what follows it.
    kv_restore(*rd.snapshot);
    ++fleet_.installs;
  }
  for (const raft::Message& m : rd.messages) send(m);
  for (const raft::Entry& e : rd.committed) {
    fleet_.on_apply(node_.id(), e);
    kv_apply(e);
  }
  if (!rd.committed.empty()) maybe_compact();
  for (const raft::ReadState& r : rd.read_states) kv_reads_confirmed_.emplace(r.index, r.ctx);
  for (uint64_t op : rd.reads_aborted) {
    if (kv_reads_.erase(op) != 0) fleet_.kv_no_effect(op);
  }
  kv_serve_reads();
  core_->on_persisted(rd.id, node_.loop().now());
}

void RaftServer::arm() {
  const base::MonoTime at = core_->next_deadline();
  if (timer_armed_ && at == timer_at_) return;
  if (timer_armed_) node_.loop().cancel(timer_);
  timer_armed_ = false;
  timer_at_ = at;
  if (at.is_never()) return;
  auto t = node_.loop().arm(at, [this] {
    timer_armed_ = false;
    core_->on_tick(node_.loop().now());
    pump();
  });
  AGENT_ASSERT(t.is_ok());
  timer_ = *t;
  timer_armed_ = true;
}

// --- the fleet ------------------------------------------------------------------------------------

void Fleet::add_servers(size_t n) {
  AGENT_ASSERT(world.node_count() == 0 && servers == 0);
  servers = n;
  const size_t total = n + options.spare_servers;
  if (!options.sqlite) {
    for (size_t i = 0; i < total; ++i) disk[sim::NodeId(i)] = std::make_unique<raft::MemStorage>();
  }
  for (size_t i = 0; i < total; ++i) {
    world.add_node("s" + std::to_string(i + 1), [this](sim::Node& node) -> std::unique_ptr<sim::Process> {
      return std::make_unique<RaftServer>(node, *this);
    });
  }
  if (options.lie_about_syncs) {
    for (size_t i = 0; i < n; ++i) world.node(sim::NodeId(i)).fs().lie_about_syncs(true);
  }
}

RaftServer* Fleet::server(sim::NodeId id) {
  sim::Node& n = world.node(id);
  if (!n.up() || n.process() == nullptr) return nullptr;
  return &n.process_as<RaftServer>();
}

void Fleet::crash(sim::NodeId id) {
  if (!world.node(id).up()) return;
  world.crash(id);
  if (auto it = disk.find(id); it != disk.end()) it->second->crash();  // sqlite: died with the process
  ++crashes;
}

void Fleet::restart(sim::NodeId id) {
  if (world.node(id).up()) return;
  world.restart(id);
}

RaftServer* Fleet::leader() {
  RaftServer* best = nullptr;
  for (sim::NodeId i = 0; i < world.node_count(); ++i) {
    RaftServer* s = server(i);
    if (s && s->core().role() == raft::Role::kLeader && (!best || s->core().term() > best->core().term())) best = s;
  }
  return best;
}

bool Fleet::propose(const std::string& cmd) {
  RaftServer* l = leader();
  if (!l) return false;
  if (!l->propose(cmd).is_ok()) return false;
  ++proposed;
  return true;
}

void Fleet::start_client() {
  if (options.kv_clients > 0 && !kv_on_) {
    kv_on_ = true;
    kv_prng_ = std::make_unique<base::Prng>(world.derive_seed(0x6b76636c69, options.kv_clients));
    kv_clients_.resize(options.kv_clients);
    for (uint32_t c = 0; c < options.kv_clients; ++c) {
      kv_clients_[c].target = sim::NodeId(kv_prng_->uniform(nodes()));
      kv_next(c);
    }
  }
  if (options.client_interval <= base::Duration::zero()) return;
  client_on_ = true;
  world.after(options.client_interval, [this] { client_tick(); });
}

void Fleet::client_tick() {
  if (!client_on_) return;
  (void)propose("c" + std::to_string(++client_seq_));
  world.after(options.client_interval, [this] { client_tick(); });
}

// --- KV clients -------------------------------------------------------------------------------------

void Fleet::kv_next(uint32_t client) {
  if (!kv_on_) return;
  const int64_t think = kv_prng_->range(0, options.kv_think_max.ns());
  world.after(base::Duration::nanos(think), [this, client] { kv_invoke(client); });
}

void Fleet::kv_invoke(uint32_t client) {
  KvClient& c = kv_clients_[client];
  if (!kv_on_ || c.pending != 0) return;
  RaftServer* s = server(c.target);
  if (!s) {  // its server is down: try another
    c.target = sim::NodeId(kv_prng_->uniform(nodes()));
    kv_next(client);
    return;
  }
  KvOp o;
  o.client = client;
  o.key = "k" + std::to_string(kv_prng_->uniform(options.kv_keys));
  o.call_ns = world.now().ns();
  const uint64_t op = kv_ops.size() + 1;
  const double roll = kv_prng_->unit();
  std::string cmd;
  if (roll < 0.5) {
    o.kind = KvOp::kRead;
  } else if (roll < 0.8) {
    o.kind = KvOp::kPut;
    o.value = "v" + std::to_string(op);
    cmd = "kv put " + o.key + " " + o.value + " " + std::to_string(op);
  } else {
    o.kind = KvOp::kCas;
    auto seen = c.last_seen.find(o.key);
    o.value = seen == c.last_seen.end() ? "nil" : seen->second;
    o.to = "v" + std::to_string(op);
    cmd = "kv cas " + o.key + " " + o.value + " " + o.to + " " + std::to_string(op);
  }
  kv_ops.push_back(o);
  c.pending = op;
  base::Status st = o.kind == KvOp::kRead ? s->kv_read(op, o.key) : s->kv_write(op, cmd);
  if (!st.is_ok()) {
    // Refused before anything happened: follow the leader it names, or try another server.
    ++kv_refused;
    const raft::ServerId l = s->core().leader();
    c.target = l != raft::kNoServer && l != s->core().id() ? Fleet::node_id(l)
                                                          : sim::NodeId(kv_prng_->uniform(nodes()));
    kv_no_effect(op);
    return;
  }
  world.after(options.kv_timeout, [this, client, op] {
    KvClient& cl = kv_clients_[client];
    if (cl.pending != op) return;
    // No answer: the outcome stays unknown; the client tries another server.
    ++kv_timeouts;
    cl.pending = 0;
    cl.target = sim::NodeId(kv_prng_->uniform(nodes()));
    kv_next(client);
  });
}

void Fleet::kv_finish(uint64_t op) {
  KvOp& o = kv_ops[op - 1];
  KvClient& c = kv_clients_[o.client];
  if (c.pending != op) return;
  c.pending = 0;
  kv_next(o.client);
}

void Fleet::kv_done(uint64_t op, bool ok, const std::string& read_value) {
  AGENT_ASSERT(op >= 1 && op <= kv_ops.size());
  KvOp& o = kv_ops[op - 1];
  if (kv_clients_[o.client].pending != op) return;  // the client gave up already: unknown
  o.ret_ns = world.now().ns();
  o.ok = ok;
  if (o.kind == KvOp::kRead) o.value = read_value;
  ++kv_completed;
  // What the client now knows of the key, for its next cas.
  if (o.kind == KvOp::kRead) kv_clients_[o.client].last_seen[o.key] = o.value;
  else if (o.kind == KvOp::kPut) kv_clients_[o.client].last_seen[o.key] = o.value;
  else if (ok) kv_clients_[o.client].last_seen[o.key] = o.to;
  kv_finish(op);
}

void Fleet::kv_no_effect(uint64_t op) {
  AGENT_ASSERT(op >= 1 && op <= kv_ops.size());
  KvOp& o = kv_ops[op - 1];
  if (kv_clients_[o.client].pending != op) return;
  o.no_effect = true;
  o.ret_ns = world.now().ns();
  kv_finish(op);
}

lin::History Fleet::kv_history() const {
  lin::History h;
  for (const KvOp& o : kv_ops) {
    if (o.no_effect) continue;
    lin::Operation op;
    op.client = h.intern_client("c" + std::to_string(o.client));
    op.key = h.intern_key(o.key);
    op.call = o.call_ns;
    op.call_line = uint32_t(&o - kv_ops.data() + 1);  // the op id, for explanations
    switch (o.kind) {
      case KvOp::kRead:
        if (o.ret_ns < 0) continue;  // an unknown read constrains nothing
        op.kind = lin::OpKind::kRead;
        op.value = h.intern_value(o.value);
        break;
      case KvOp::kPut:
        op.kind = lin::OpKind::kWrite;
        op.value = h.intern_value(o.value);
        break;
      case KvOp::kCas:
        op.kind = lin::OpKind::kCas;
        op.value = h.intern_value(o.value);
        op.to = h.intern_value(o.to);
        break;
    }
    if (o.ret_ns < 0) {
      op.outcome = lin::Outcome::kInfo;
      op.ret = lin::kNever;
    } else {
      op.outcome = o.ok ? lin::Outcome::kOk : lin::Outcome::kFail;
      op.ret = o.ret_ns;
      op.ret_line = op.call_line;
    }
    h.ops.push_back(op);
  }
  return h;
}

namespace {

SyncedState state_of(const raft::Storage& st) {
  SyncedState s;
  s.hs = st.hard_state();
  const raft::SnapshotMeta start = st.snapshot_meta();
  s.start_index = start.index;
  s.start_term = start.term;
  s.start_config = start.config;
  s.last_index = st.last_index();
  s.last_term = start.term;
  if (s.last_index > start.index) {
    std::vector<raft::Entry> last = st.entries(s.last_index);
    AGENT_ASSERT(last.size() == 1);
    s.last_term = last[0].term;
  }
  return s;
}

std::string describe(const SyncedState& s) {
  return "term " + std::to_string(s.hs.term) + " vote " + std::to_string(s.hs.voted_for) + " log (" +
         std::to_string(s.start_index) + ", " + std::to_string(s.start_term) + ") .. (" + std::to_string(s.last_index) +
         ", " + std::to_string(s.last_term) + ")";
}

}  // namespace

void Fleet::on_syncing(sim::NodeId id, const raft::Storage& st) { syncing[id] = state_of(st); }

void Fleet::on_synced(sim::NodeId id, const raft::Storage& st) {
  synced[id] = state_of(st);
  syncing.erase(id);
}

void Fleet::on_start(sim::NodeId id, const raft::Storage& st) {
  const SyncedState now = state_of(st);
  auto it = synced.find(id);
  const SyncedState expected = it == synced.end() ? SyncedState{} : it->second;
  // A sync that was cut by a power failure may or may not have reached the disk: either is legal.
  auto in_flight = syncing.find(id);
  const bool was_in_flight = in_flight != syncing.end() && in_flight->second == now;
  if (world.node(id).incarnation() > 1) ++reopens;
  if (options.check_durability && !(now == expected) && !was_in_flight) {
    fail("Durability: s" + std::to_string(id + 1) + " restarted with " + describe(now) + " but its last sync left " +
         describe(expected));
  }
  synced[id] = now;
  syncing.erase(id);
}

void Fleet::crash_from_inside(sim::NodeId id) {
  world.crash(id);  // deferred to the end of the node's loop iteration (or StartFn)
  ++crashes;
  ++power_cuts;
  world.after(base::Duration::millis(50 + static_cast<int64_t>(world.derive_seed(0x706f776572, id, crashes) % 950)),
              [this, id] { restart(id); });
}

bool Fleet::change_membership(base::Prng& prng) {
  RaftServer* l = leader();
  if (!l) return false;
  const raft::Membership& m = l->core().membership();
  std::vector<raft::ServerId> outsiders;
  for (sim::NodeId i = 0; i < nodes(); ++i) {
    const raft::ServerId id = server_id(i);
    if (!l->core().is_voter(id) && !l->core().is_learner(id)) outsiders.push_back(id);
  }
  raft::MembershipChange change;
  raft::ServerId id;
  if (!m.learners.empty() && m.voters.size() < 5 && prng.chance(0.7)) {
    change = raft::MembershipChange::kPromote;
    id = m.learners[prng.uniform(m.learners.size())];
  } else if (!outsiders.empty() && prng.chance(0.5)) {
    change = raft::MembershipChange::kAddLearner;
    id = outsiders[prng.uniform(outsiders.size())];
  } else {
    std::vector<raft::ServerId> removable = m.learners;
    if (m.voters.size() > 3) removable.insert(removable.end(), m.voters.begin(), m.voters.end());
    if (removable.empty()) return false;
    change = raft::MembershipChange::kRemove;
    id = removable[prng.uniform(removable.size())];
  }
  if (!l->change_membership(change, id).is_ok()) return false;
  ++membership_changes;
  return true;
}

void Fleet::fail(const std::string& what) {
  if (!violation.empty()) return;
  char head[96];
  snprintf(head, sizeof head, "step %" PRIu64 " t=%" PRId64 "ms: ", world.steps(), world.now().ns() / 1000000);
  violation = head + what;
}

void Fleet::on_apply(sim::NodeId id, const raft::Entry& e) {
  Applied& mine = applied[id];
  if (e.index != mine.last + 1) {
    fail("s" + std::to_string(id + 1) + " applied index " + std::to_string(e.index) + " after " +
         std::to_string(mine.last));
  }
  const uint64_t h = entry_hash(e);
  mine.last = e.index;
  mine.chain = chain_mix(mine.chain, h);
  auto [c, cfresh] = chain_global_.emplace(e.index, mine.chain);
  if (!cfresh && c->second != mine.chain) {
    fail("State-Machine Safety: s" + std::to_string(id + 1) + "'s applied sequence up to index " +
         std::to_string(e.index) + " differs from another server's");
  }
  auto [it, fresh] = applied_global_.emplace(e.index, h);
  if (!fresh && it->second != h) {
    fail("State-Machine Safety: s" + std::to_string(id + 1) + " applied a different entry at index " +
         std::to_string(e.index));
  }
}

void Fleet::on_restore(sim::NodeId id, raft::Index index, uint64_t chain) {
  Applied& mine = applied[id];
  if (index < mine.last) {
    fail("s" + std::to_string(id + 1) + " restored a snapshot at " + std::to_string(index) + " after applying " +
         std::to_string(mine.last));
  }
  mine.last = index;
  mine.chain = chain;
  // A snapshot is made from an applied state, so some server applied up to its index before.
  auto it = chain_global_.find(index);
  if (it == chain_global_.end() || it->second != chain) {
    fail("State-Machine Safety: s" + std::to_string(id + 1) + " restored a snapshot at index " +
         std::to_string(index) + " whose state no server applied");
  }
}

// An entry at or below the leader's log start is in its snapshot (checked by the chain hash).
bool Fleet::leader_holds(const raft::RaftCore& c, raft::Index i, raft::Term t, uint64_t h) const {
  if (i < c.log_start().index) return true;
  if (i == c.log_start().index) return c.log_start().term == t;
  return i <= c.last_index() && c.term_at(i) == t && entry_hash(c.entry(i)) == h;
}

void Fleet::check_server(sim::NodeId id, RaftServer& s, std::vector<raft::Entry>& newly_committed) {
  raft::RaftCore& c = s.core();
  Seen& sn = seen_[id];
  const uint64_t inc = world.node(id).incarnation();
  if (sn.incarnation != inc) sn = Seen{inc};
  const std::string who = "s" + std::to_string(id + 1);

  // Log Matching: entries appended (or rewritten) since the last check.
  const raft::Index low = c.take_log_rewrite_low();
  if (low <= sn.checked_upto) sn.checked_upto = low - 1;
  sn.checked_upto = std::min(sn.checked_upto, c.last_index());
  for (raft::Index i = std::max(sn.checked_upto + 1, c.first_index()); i <= c.last_index(); ++i) {
    const raft::Entry& e = c.entry(i);
    std::pair<uint64_t, raft::Term> v{entry_hash(e), c.term_at(i - 1)};
    auto [it, fresh] = registry_.emplace(std::make_pair(i, e.term), v);
    if (!fresh && it->second != v) {
      fail("Log Matching: " + who + " holds a different entry (or predecessor) at index " + std::to_string(i) +
           " term " + std::to_string(e.term));
    }
  }
  sn.checked_upto = c.last_index();

  // Election Safety and Leader Append-Only.
  if (c.role() == raft::Role::kLeader) {
    auto [it, fresh] = leader_of_term.emplace(c.term(), c.id());
    if (!fresh && it->second != c.id()) {
      fail("Election Safety: s" + std::to_string(it->second) + " and " + who + " both lead term " +
           std::to_string(c.term()));
    }
    if (sn.lead_term == c.term()) {
      if (c.last_index() < sn.lead_last_index ||
          (sn.lead_last_index >= c.log_start().index && c.term_at(sn.lead_last_index) != sn.lead_last_term)) {
        fail("Leader Append-Only: " + who + " lost or replaced entry " + std::to_string(sn.lead_last_index));
      }
    } else {
      // A new leader: Leader Completeness for everything committed so far in earlier terms.
      for (auto& [i, th] : committed_) {
        if (th.first < c.term() && !leader_holds(c, i, th.first, th.second)) {
          fail("Leader Completeness: " + who + " leads term " + std::to_string(c.term()) +
               " without committed entry " + std::to_string(i));
          break;
        }
      }
    }
    sn.lead_term = c.term();
    sn.lead_last_index = c.last_index();
    sn.lead_last_term = c.term_at(c.last_index());
  } else {
    sn.lead_term = 0;
  }

  // Newly committed entries: one entry per index across the fleet, ever.
  for (raft::Index i = std::max(sn.commit_seen + 1, c.first_index()); i <= c.commit_index(); ++i) {
    const raft::Entry& e = c.entry(i);
    const uint64_t h = entry_hash(e);
    auto [it, fresh] = committed_.emplace(i, std::make_pair(e.term, h));
    if (fresh) newly_committed.push_back(e);
    else if (it->second != std::make_pair(e.term, h)) {
      fail("State-Machine Safety: " + who + " committed a different entry at index " + std::to_string(i));
    }
  }
  sn.commit_seen = std::max(sn.commit_seen, c.commit_index());
}

void Fleet::check() {
  if (!violation.empty()) return;
  ++checks;
  std::vector<raft::Entry> newly_committed;
  for (sim::NodeId i = 0; i < world.node_count(); ++i) {
    RaftServer* s = server(i);
    if (s) check_server(i, *s, newly_committed);
  }
  // Leader Completeness for entries first seen committed now: every leader of a later term.
  for (const raft::Entry& e : newly_committed) {
    for (sim::NodeId i = 0; i < world.node_count(); ++i) {
      RaftServer* s = server(i);
      if (!s || s->core().role() != raft::Role::kLeader || s->core().term() <= e.term) continue;
      if (!leader_holds(s->core(), e.index, e.term, entry_hash(e))) {
        fail("Leader Completeness: s" + std::to_string(i + 1) + " leads term " + std::to_string(s->core().term()) +
             " without committed entry " + std::to_string(e.index));
      }
    }
  }
}

bool Fleet::settle(base::Duration limit) {
  client_on_ = false;
  kv_on_ = false;
  world.heal();
  world.set_link_faults(sim::LinkFaults{});
  for (sim::NodeId i = 0; i < world.node_count(); ++i) restart(i);
  const base::MonoTime deadline = world.now() + limit;
  std::string final_cmd;
  raft::Index final_index = 0;
  uint64_t final_hash = 0;
  int attempts = 0;
  // Every member of the final leader's configuration (voters and learners) applied up to the
  // final command, and the entry applied there is it; servers outside it (spares never added,
  // removed ones) receive nothing. (The chain hashes, checked at every apply and restore, make
  // the sequences before it identical.)
  std::vector<sim::NodeId> members;
  auto applied_everywhere = [&] {
    if (members.empty()) return false;
    for (sim::NodeId i : members) {
      if (applied[i].last < final_index) return false;
    }
    auto it = applied_global_.find(final_index);
    return it != applied_global_.end() && it->second == final_hash;
  };
  while (world.now() < deadline && violation.empty()) {
    // (Re)propose the final command while no leader's log holds it: a leader that lost its
    // office may have lost it too.
    RaftServer* l = leader();
    if (l) {
      raft::RaftCore& c = l->core();
      members.clear();
      for (sim::NodeId i = 0; i < nodes(); ++i) {
        if (c.is_voter(server_id(i)) || c.is_learner(server_id(i))) members.push_back(i);
      }
      const bool held = final_index != 0 && final_index <= c.last_index() &&
                        (final_index <= c.log_start().index ? applied_global_.count(final_index) != 0 &&
                                                                  applied_global_.at(final_index) == final_hash
                                                            : entry_hash(c.entry(final_index)) == final_hash);
      if (!held) {
        final_cmd = "final-" + std::to_string(++attempts);
        auto r = l->propose(final_cmd);
        final_index = r.is_ok() ? *r : 0;
        final_hash = entry_hash(raft::Entry{final_index, c.term(), raft::EntryType::kCommand, final_cmd});
      }
    }
    world.run_for(base::Duration::millis(10));
    if (final_index != 0 && applied_everywhere()) break;
  }
  if (final_index == 0 || !applied_everywhere()) return false;
  return violation.empty();
}

// --- runs under a random fault schedule -------------------------------------------------------------

using base::Duration;

void schedule_faults(Fleet& f, const FaultPlan& plan, uint64_t seed) {
  auto prng = std::make_shared<base::Prng>(f.world.derive_seed(0x7261667466, seed));
  const size_t n = f.nodes();  // spares included
  base::MonoTime t = f.world.now();
  const base::MonoTime end = t + plan.span;
  while (true) {
    t = t + Duration::nanos(prng->range(plan.gap_min.ns(), plan.gap_max.ns()));
    if (t >= end) break;
    const double crash_w = plan.crashes ? plan.crash_weight : 0;
    const double net_w = plan.network ? (plan.transfers ? 6 : 5) : 0;
    const double mem_w = plan.membership ? 8 : 0;
    const double roll = prng->unit() * (crash_w * 2 + net_w + mem_w + 1);
    const bool leader_cuts_only = plan.leader_cuts_only;
    f.world.at(t, [&f, prng, roll, crash_w, net_w, mem_w, n, leader_cuts_only] {
      auto pick = [&] { return sim::NodeId(prng->uniform(n)); };
      if (roll < crash_w * 2) {
        // Crash a random server, or the leader (half the time); restart it 50 ms - 1 s later.
        sim::NodeId v = pick();
        RaftServer* l = f.leader();
        if (roll < crash_w && l) v = Fleet::node_id(l->core().id());
        f.crash(v);
        f.world.after(Duration::millis(prng->range(50, 1000)), [&f, v] { f.restart(v); });
        return;
      }
      const double r = roll - crash_w * 2;
      if (r < net_w) {
        switch (leader_cuts_only ? 3 : prng->uniform(net_w > 5 ? 6 : 5)) {
          case 0: {  // halves
            std::vector<sim::NodeId> a, b;
            for (sim::NodeId i = 0; i < n; ++i) (prng->chance(0.5) ? a : b).push_back(i);
            if (!a.empty() && !b.empty()) f.world.partition(a, b);
            break;
          }
          case 1: f.world.isolate(pick()); break;
          case 2: {  // one way: one server's messages to the others are lost, or theirs to it
            sim::NodeId v = pick();
            std::vector<sim::NodeId> rest;
            for (sim::NodeId i = 0; i < n; ++i) if (i != v) rest.push_back(i);
            if (prng->chance(0.5)) f.world.partition_oneway({v}, rest);
            else f.world.partition_oneway(rest, {v});
            break;
          }
          case 3: {  // the leader cut off
            RaftServer* l = f.leader();
            if (l) f.world.isolate(Fleet::node_id(l->core().id()));
            break;
          }
          case 4: {  // link quality
            sim::LinkFaults lf;
            lf.loss_probability = prng->unit() * 0.2;
            lf.duplicate_probability = prng->unit() * 0.05;
            lf.delay_min = Duration::micros(100);
            lf.delay_max = Duration::micros(prng->range(200, 10000));
            f.world.set_link_faults(lf);
            break;
          }
          case 5: {  // §3.10: the leader hands over, to a random voter or the most up to date
            RaftServer* l = f.leader();
            if (!l) break;
            const raft::ServerId target = prng->chance(0.5) ? raft::kNoServer : raft::ServerId(pick() + 1);
            if (l->transfer(target).is_ok()) ++f.transfers;
            break;
          }
        }
        return;
      }
      if (r < net_w + mem_w) {
        (void)f.change_membership(*prng);
        return;
      }
      f.world.heal();
    });
  }
}

sim::SimConfig fault_sim_config() {
  sim::SimConfig c;
  c.link.loss_probability = 0.02;
  c.link.delay_min = Duration::micros(100);
  c.link.delay_max = Duration::millis(2);
  c.executor_latency_min = Duration::micros(200);
  c.executor_latency_max = Duration::millis(4);
  return c;
}

namespace {
bool opts_kv(const Fleet& f) { return f.options.kv_clients > 0; }
}  // namespace

Outcome run_faults(uint64_t seed, size_t servers, FleetOptions opts, const FaultPlan& plan, sim::SimConfig sc) {
  Outcome o;
  sim::World w(seed, sc);
  Fleet f(w, std::move(opts));
  f.add_servers(servers);
  f.watch();
  f.start_client();
  schedule_faults(f, plan, seed);
  w.run_for(plan.span);
  o.settled = f.violation.empty() && f.settle(Duration::seconds(30));
  o.violation = f.violation;
  o.trace_hash = w.trace_hash();
  o.steps = w.steps();
  o.applied = f.applied[0].last;
  o.crashes = f.crashes;
  o.reopens = f.reopens;
  o.power_cuts = f.power_cuts;
  for (sim::NodeId i = 0; i < w.node_count(); ++i) o.torn_files += w.node(i).fs().torn_files();
  o.terms_with_leader = f.leader_of_term.size();
  o.transfers = f.transfers;
  o.compactions = f.compactions;
  o.installs = f.installs;
  o.restores = f.restores;
  o.membership_changes = f.membership_changes;
  if (opts_kv(f)) {
    lin::History h = f.kv_history();
    lin::CheckOptions co;
    co.time_budget_ms = 20'000;
    lin::CheckResult r = lin::check_registers(h, co);
    o.verdict = r.verdict;
    o.lin_explanation = r.explanation;
    o.kv_ops = h.ops.size();
    for (const lin::Operation& op : h.ops) {
      o.kv_reads_ok += op.kind == lin::OpKind::kRead;
      o.kv_unknown += op.outcome == lin::Outcome::kInfo;
    }
  }
  if (::testing::Test::HasFailure() || !o.violation.empty() || !o.settled) {
    if (sim::replaying_one_seed()) f.dump(stderr);
  }
  return o;
}

void Fleet::dump(FILE* out) {
  for (sim::NodeId i = 0; i < world.node_count(); ++i) {
    RaftServer* s = server(i);
    if (!s) {
      fprintf(out, "  s%u: down\n", i + 1);
      continue;
    }
    raft::RaftCore& c = s->core();
    fprintf(out, "  s%u: %s term %" PRIu64 " vote %" PRIu64 " leader %" PRIu64 " last %" PRIu64 " commit %" PRIu64
            " applied %zu\n", i + 1, raft::role_name(c.role()), c.term(), c.voted_for(), c.leader(), c.last_index(),
            c.commit_index(), static_cast<size_t>(applied[i].last));
  }
}

}  // namespace rafttest
