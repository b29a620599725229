#include "sim_helpers.h"

#include <cstdio>
#include <cstring>

namespace simtest {

void report_failure(const sim::World& world) {
  if (!::testing::Test::HasFailure()) return;
  fprintf(stderr, "sim: failure with %s\n", sim::seed_banner(world.seed()).c_str());
  world.dump_trace(stderr, 60);
}

namespace {

uint64_t entropy_seed(hal::Env& env) {
  uint8_t b[8];
  AGENT_ASSERT(env.entropy->fill(b).is_ok());
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

// A random node other than `self` (or self if it is alone).
sim::NodeId random_peer(sim::Node& node, base::Prng& prng) {
  const size_t n = node.world().node_count();
  if (n <= 1) return node.id();
  sim::NodeId p = static_cast<sim::NodeId>(prng.uniform(n - 1));
  return p >= node.id() ? p + 1 : p;
}

// One side of a stream connection with a pending-output buffer; used by both echo roles.
struct Conn {
  hal::Handle h = hal::kInvalidHandle;
  std::string in;
  std::string out;
  bool out_fin = false;  // shut down writing once `out` drains
  bool fin_done = false;
  bool eof = false;
};

class PingPong final : public sim::Process {
 public:
  PingPong(sim::Node& node, PingPongStats* stats, base::Duration ping_interval, base::Duration stream_interval)
      : node_(node), env_(node.env()), loop_(node.loop()), stats_(stats), prng_(entropy_seed(node.env())),
        ping_interval_(ping_interval), stream_interval_(stream_interval) {
    auto u = env_.net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, kPingPort));
    AGENT_ASSERT(u.is_ok());
    udp_ = *u;
    AGENT_ASSERT(loop_.watch(udp_, hal::kReadable, [this](uint8_t) { on_udp(); }).is_ok());
    auto l = env_.net->listen(hal::SockAddr::ipv4(0, 0, 0, 0, kEchoPort), {});
    AGENT_ASSERT(l.is_ok());
    listener_ = *l;
    AGENT_ASSERT(loop_.watch(listener_, hal::kReadable, [this](uint8_t) { on_accept(); }).is_ok());
    AGENT_ASSERT(env_.fs->make_dirs("/var/lib/pp", 0700).is_ok());
    arm_ping();
    arm_stream();
  }

  ~PingPong() override {
    // A clean shutdown path (the World's destructor); a crash ignores these closes.
    for (auto& [h, c] : conns_) {
      loop_.unwatch(h);
      env_.net->close(h);
    }
    loop_.unwatch(udp_);
    env_.net->close(udp_);
    loop_.unwatch(listener_);
    env_.net->close(listener_);
  }

 private:
  void arm_ping() {
    AGENT_ASSERT(loop_.arm_after(ping_interval_, [this] { ping(); }).is_ok());
  }
  void arm_stream() {
    AGENT_ASSERT(loop_.arm_after(stream_interval_, [this] { open_stream(); }).is_ok());
  }

  void ping() {
    arm_ping();
    const sim::NodeId peer = random_peer(node_, prng_);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "ping %u %llu", node_.id(), static_cast<unsigned long long>(++seq_));
    AGENT_ASSERT(env_.net->udp_send(udp_, node_.world().node(peer).address(kPingPort),
                                    base::ByteSpan(reinterpret_cast<uint8_t*>(msg), static_cast<size_t>(n))).is_ok());
    ++stats_->pings_sent;
    std::string counter = std::to_string(seq_);
    AGENT_ASSERT(env_.fs->write_file("/var/lib/pp/plain", base::as_bytes(counter), 0600, false).is_ok());
    if (seq_ % 10 == 0) {
      AGENT_ASSERT(env_.fs->write_file("/var/lib/pp/durable", base::as_bytes(counter), 0600, true).is_ok());
    }
  }

  void on_udp() {
    uint8_t buf[256];
    hal::SockAddr from;
    while (true) {
      auto r = env_.net->udp_recv(udp_, buf, &from);
      if (!r.is_ok()) return;
      std::string_view m(reinterpret_cast<char*>(buf), *r);
      if (m.substr(0, 5) == "ping ") {
        std::string reply = "pong " + std::string(m.substr(5));
        AGENT_ASSERT(env_.net->udp_send(udp_, from, base::as_bytes(reply)).is_ok());
      } else if (m.substr(0, 5) == "pong ") {
        ++stats_->pongs_received;
      }
    }
  }

  void open_stream() {
    arm_stream();
    if (client_ != hal::kInvalidHandle) return;  // one at a time
    const sim::NodeId peer = random_peer(node_, prng_);
    auto c = env_.net->connect(node_.world().node(peer).address(kEchoPort));
    AGENT_ASSERT(c.is_ok());
    client_ = *c;
    Conn& conn = conns_[client_];
    conn.h = client_;
    char line[64];
    snprintf(line, sizeof line, "echo %u->%u #%llu\n", node_.id(), peer, static_cast<unsigned long long>(++streams_));
    expected_ = line;
    conn.out = line;
    conn.out_fin = true;
    watch(conn, /*connecting=*/true);
  }

  void on_accept() {
    while (true) {
      auto s = env_.net->accept(listener_, nullptr);
      if (!s.is_ok()) return;
      Conn& conn = conns_[*s];
      conn.h = *s;
      watch(conn, false);
    }
  }

  void watch(Conn& c, bool connecting) {
    const hal::Handle h = c.h;
    AGENT_ASSERT(loop_.watch(h, hal::kReadable | (connecting || !c.out.empty() ? hal::kWritable : 0),
                             [this, h](uint8_t ready) { on_conn(h, ready); }).is_ok());
  }

  void finish(hal::Handle h, bool ok) {
    if (h == client_) {
      if (ok) ++stats_->echoes_ok;
      else ++stats_->echoes_failed;
      client_ = hal::kInvalidHandle;
    }
    loop_.unwatch(h);
    env_.net->close(h);
    conns_.erase(h);
  }

  void on_conn(hal::Handle h, uint8_t ready) {
    auto it = conns_.find(h);
    AGENT_ASSERT(it != conns_.end());
    Conn& c = it->second;
    if (!env_.net->connect_result(h).is_ok()) {
      if (env_.net->connect_result(h).code() == base::Code::kUnavailable) return;
      return finish(h, false);
    }
    // Read everything available.
    uint8_t buf[512];
    while (!c.eof) {
      auto r = env_.net->read(h, buf);
      if (!r.is_ok()) {
        if (r.status().code() == base::Code::kUnavailable) break;
        return finish(h, false);
      }
      if (*r == 0) {
        c.eof = true;
        break;
      }
      c.in.append(reinterpret_cast<char*>(buf), *r);
      if (h != client_) {  // the echo server echoes what it reads
        c.out.append(reinterpret_cast<char*>(buf), *r);
      }
    }
    if (h != client_ && c.eof) c.out_fin = true;
    // Write what is pending.
    while (!c.out.empty()) {
      auto w = env_.net->write(h, base::as_bytes(c.out));
      if (!w.is_ok()) {
        if (w.status().code() == base::Code::kUnavailable) break;
        return finish(h, false);
      }
      c.out.erase(0, *w);
    }
    if (c.out.empty() && c.out_fin && !c.fin_done) {
      env_.net->shutdown_write(h);
      c.fin_done = true;
    }
    if (c.eof && c.fin_done) {
      const bool ok = h != client_ || c.in == expected_;
      return finish(h, ok);
    }
    AGENT_ASSERT(loop_.set_interest(h, hal::kReadable | (c.out.empty() ? 0 : hal::kWritable)).is_ok());
  }

  sim::Node& node_;
  hal::Env& env_;
  runtime::Loop& loop_;
  PingPongStats* stats_;
  base::Prng prng_;
  base::Duration ping_interval_;
  base::Duration stream_interval_;
  hal::Handle udp_ = hal::kInvalidHandle;
  hal::Handle listener_ = hal::kInvalidHandle;
  hal::Handle client_ = hal::kInvalidHandle;
  std::string expected_;
  std::map<hal::Handle, Conn> conns_;
  uint64_t seq_ = 0;
  uint64_t streams_ = 0;
};

inline constexpr uint16_t kGossipPort = 7100;

class VersionGossip final : public sim::Process {
 public:
  VersionGossip(sim::Node& node, GossipShared* shared, bool buggy)
      : node_(node), env_(node.env()), loop_(node.loop()), shared_(shared), buggy_(buggy),
        prng_(entropy_seed(node.env())) {
    auto u = env_.net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, kGossipPort));
    AGENT_ASSERT(u.is_ok());
    udp_ = *u;
    AGENT_ASSERT(loop_.watch(udp_, hal::kReadable, [this](uint8_t) { on_udp(); }).is_ok());
    // What survived on disk: the issuer's last durable version, everyone's learned one.
    auto v = env_.fs->read_file("/version", 32);
    if (v.is_ok()) known_ = std::strtoull(v->c_str(), nullptr, 10);
    shared_->known[node_.id()] = known_;
    arm(base::Duration::millis(static_cast<int64_t>(prng_.range(1, 50))));
    if (node_.id() == 0) AGENT_ASSERT(loop_.arm_after(base::Duration::millis(200), [this] { issue(); }).is_ok());
  }
  ~VersionGossip() override {
    shared_->known.erase(node_.id());
    loop_.unwatch(udp_);
    env_.net->close(udp_);
  }

 private:
  void arm(base::Duration d) {
    AGENT_ASSERT(loop_.arm_after(d, [this] { gossip(); }).is_ok());
  }
  void learn(uint64_t v) {
    if (v <= known_) return;
    known_ = v;
    shared_->known[node_.id()] = known_;
    // Plain write: a restart may forget recent versions, which is allowed (it relearns them).
    std::string s = std::to_string(known_);
    AGENT_ASSERT(env_.fs->write_file("/version", base::as_bytes(s), 0600, false).is_ok());
  }
  void issue() {
    AGENT_ASSERT(loop_.arm_after(base::Duration::millis(200), [this] { issue(); }).is_ok());
    const uint64_t next = known_ + 1;
    std::string s = std::to_string(next);
    // Durable before announcing: a restart must never reissue a version.
    if (!env_.fs->write_file("/version", base::as_bytes(s), 0600, true).is_ok()) return;
    if (next > shared_->issued_max) shared_->issued_max = next;
    known_ = next;
    shared_->known[node_.id()] = known_;
  }
  void gossip() {
    arm(base::Duration::millis(50));
    const sim::NodeId peer = random_peer(node_, prng_);
    uint8_t msg[9];
    msg[0] = 'V';
    for (int i = 0; i < 8; ++i) msg[1 + i] = static_cast<uint8_t>(known_ >> (8 * i));
    AGENT_ASSERT(env_.net->udp_send(udp_, node_.world().node(peer).address(kGossipPort), msg).is_ok());
  }
  void on_udp() {
    uint8_t buf[64];
    hal::SockAddr from;
    while (true) {
      auto r = env_.net->udp_recv(udp_, buf, &from);
      if (!r.is_ok()) return;
      if (*r != 9 || buf[0] != 'V') continue;
      uint64_t v = 0;
      for (int i = 0; i < 8; ++i) v |= uint64_t{buf[1 + i]} << (8 * i);
      // The planted bug: trusting node 1 a little too much.
      if (buggy_ && v > 0 && from.ip == node_.world().node(1).address(0).ip) v += 1;
      learn(v);
    }
  }

  sim::Node& node_;
  hal::Env& env_;
  runtime::Loop& loop_;
  GossipShared* shared_;
  bool buggy_;
  base::Prng prng_;
  hal::Handle udp_ = hal::kInvalidHandle;
  uint64_t known_ = 0;
};

}  // namespace

sim::StartFn ping_pong(PingPongStats* stats, base::Duration ping_interval, base::Duration stream_interval) {
  return [=](sim::Node& node) -> std::unique_ptr<sim::Process> {
    return std::make_unique<PingPong>(node, stats, ping_interval, stream_interval);
  };
}

sim::StartFn version_gossip(GossipShared* shared, bool buggy) {
  return [=](sim::Node& node) -> std::unique_ptr<sim::Process> {
    return std::make_unique<VersionGossip>(node, shared, buggy);
  };
}

}  // namespace simtest
