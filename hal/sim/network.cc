#include "hal/sim/network.h"

#include <algorithm>

#include "hal/sim/addr.h"
#include "hal/sim/net.h"
#include "hal/sim/world.h"

namespace sim {

std::string_view drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::kLoss: return "loss";
    case DropReason::kPartition: return "partition";
    case DropReason::kCrash: return "crash";
    case DropReason::kNoListener: return "no_listener";
    case DropReason::kNoRoute: return "no_route";
    case DropReason::kBufferFull: return "buffer_full";
    case DropReason::kCount: break;
  }
  return "?";
}

uint64_t NetStats::dropped_total() const {
  uint64_t n = 0;
  for (uint64_t d : datagrams_dropped) n += d;
  return n;
}

Network::Network(World& world, const SimConfig& config, uint64_t seed)
    : world_(world), config_(config), prng_(seed) {}

// --- topology ------------------------------------------------------------------------------------

void Network::add_address(NodeId node, const hal::SockAddr& ip) {
  AGENT_ASSERT_MSG(is_ip(ip) && !is_unspecified(ip) && !is_loopback_ip(ip), "node address must be a unicast IP");
  auto key = std::make_pair(static_cast<uint8_t>(ip.family), ip.ip);
  AGENT_ASSERT_MSG(!routes_.count(key), "address already belongs to another node");
  routes_.emplace(key, node);
  hal::SockAddr a = ip;
  a.port = 0;
  addresses_[node].push_back(a);
}

const std::vector<hal::SockAddr>& Network::addresses(NodeId node) const {
  static const std::vector<hal::SockAddr> kNone;
  auto it = addresses_.find(node);
  return it == addresses_.end() ? kNone : it->second;
}

NodeId Network::route(NodeId src, const hal::SockAddr& to) const {
  if (to.family == hal::AddrFamily::kUnix) return src;
  if (!is_ip(to)) return kNoNode;
  if (is_loopback_ip(to) || is_unspecified(to)) return src;
  auto it = routes_.find(std::make_pair(static_cast<uint8_t>(to.family), to.ip));
  return it == routes_.end() ? kNoNode : it->second;
}

// --- faults --------------------------------------------------------------------------------------

void Network::set_link_faults(NodeId from, NodeId to, const LinkFaults& faults) {
  link_faults_[std::make_pair(from, to)] = faults;
}

void Network::clear_link_faults(NodeId from, NodeId to) { link_faults_.erase(std::make_pair(from, to)); }

const LinkFaults& Network::faults(NodeId from, NodeId to) const {
  auto it = link_faults_.find(std::make_pair(from, to));
  return it == link_faults_.end() ? config_.link : it->second;
}

PartitionId Network::add_partition(std::vector<NodeId> from, std::vector<NodeId> to, bool both_ways) {
  PartitionId id = next_partition_++;
  Partition p{std::set<NodeId>(from.begin(), from.end()), std::set<NodeId>(to.begin(), to.end()), both_ways};
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kPartition);
  t.u64("id", id);
  t.u64("both_ways", both_ways);
  for (NodeId n : p.from) t.u64("from", n);
  for (NodeId n : p.to) t.u64("to", n);
  t.end();
  partitions_.emplace(id, std::move(p));
  return id;
}

bool Network::heal(PartitionId id) {
  if (!partitions_.erase(id)) return false;
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kHeal);
  t.u64("id", id);
  t.end();
  resume_stalled();
  return true;
}

void Network::heal_all() {
  partitions_.clear();
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kHeal);
  t.str("id", "all");
  t.end();
  resume_stalled();
}

bool Network::cut(NodeId from, NodeId to) const {
  if (from == to) return false;
  for (const auto& [id, p] : partitions_) {
    if (p.from.count(from) && p.to.count(to)) return true;
    if (p.both_ways && p.from.count(to) && p.to.count(from)) return true;
  }
  return false;
}

base::Duration Network::sample_delay(NodeId from, NodeId to) {
  const LinkFaults& f = faults(from, to);
  const int64_t lo = f.delay_min.ns();
  const int64_t hi = std::max(lo, f.delay_max.ns());
  return base::Duration::nanos(prng_.range(lo, hi));
}

// --- datagrams -----------------------------------------------------------------------------------

void Network::drop(DropReason reason, NodeId src, NodeId dst, const hal::SockAddr& from, const hal::SockAddr& to,
                   base::ByteSpan data) {
  ++stats_.datagrams_dropped[static_cast<size_t>(reason)];
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kDrop);
  t.str("why", drop_reason_name(reason));
  t.node(src);
  t.u64("dst", dst);
  t.addr("from", from);
  t.addr("to", to);
  t.payload(data);
  t.end();
}

void Network::udp_send(NodeId src, const hal::SockAddr& from, const hal::SockAddr& to, base::ByteSpan data) {
  ++stats_.datagrams_sent;
  const NodeId dst = route(src, to);
  const base::MonoTime now = world_.now();
  {
    Trace& t = world_.trace_;
    t.begin(now, TraceKind::kSend);
    t.node(src);
    t.addr("from", from);
    t.addr("to", to);
    t.payload(data);
    t.end();
  }
  if (dst == kNoNode) return drop(DropReason::kNoRoute, src, dst, from, to, data);
  // The bytes are copied once here and then moved: into the (last) arrival event, and from it
  // onto the receiving socket's queue. A fleet of a thousand members sends millions of these.
  std::string bytes(base::as_chars(data));
  if (dst == src) {
    world_.at(now + config_.local_delay, [this, src, dst, from, to, bytes = std::move(bytes)]() mutable {
      deliver_datagram(src, dst, from, to, std::move(bytes), 0);
    });
    return;
  }
  if (cut(src, dst)) return drop(DropReason::kPartition, src, dst, from, to, data);
  const LinkFaults& f = faults(src, dst);
  if (prng_.chance(f.loss_probability)) return drop(DropReason::kLoss, src, dst, from, to, data);
  int copies = 1;
  if (prng_.chance(f.duplicate_probability)) {
    copies = 2;
    ++stats_.datagrams_duplicated;
    Trace& t = world_.trace_;
    t.begin(now, TraceKind::kDuplicate);
    t.node(src);
    t.addr("to", to);
    t.end();
  }
  for (int copy = 0; copy < copies; ++copy) {
    const base::Duration delay = sample_delay(src, dst);
    std::string payload = copy + 1 == copies ? std::move(bytes) : bytes;
    world_.at(now + delay, [this, src, dst, from, to, payload = std::move(payload), copy]() mutable {
      deliver_datagram(src, dst, from, to, std::move(payload), static_cast<uint64_t>(copy));
    });
  }
}

void Network::deliver_datagram(NodeId src, NodeId dst, const hal::SockAddr& from, const hal::SockAddr& to,
                               std::string&& data, uint64_t copy) {
  Node& n = world_.node(dst);
  if (!n.up()) return drop(DropReason::kCrash, src, dst, from, to, base::as_bytes(data));
  if (cut(src, dst)) return drop(DropReason::kPartition, src, dst, from, to, base::as_bytes(data));
  SimNet& net = n.net();
  SimNet::Socket* s = net.find_udp(to);
  if (!s) return drop(DropReason::kNoListener, src, dst, from, to, base::as_bytes(data));
  if (s->rx_bytes + data.size() > config_.udp_recv_buffer_bytes) {
    return drop(DropReason::kBufferFull, src, dst, from, to, base::as_bytes(data));
  }
  s->rx_bytes += data.size();
  net.space_.touch();
  ++stats_.datagrams_delivered;
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kDeliver);
  t.node(dst);
  t.addr("from", from);
  t.addr("to", to);
  t.u64("copy", copy);
  t.payload(base::as_bytes(data));
  t.end();
  s->rx_datagrams.push_back(SimNet::Datagram{from, std::move(data)});
}

// --- streams -------------------------------------------------------------------------------------

SimNet::Socket* Network::lookup(const Conn& c, uint8_t side) {
  const Side& sd = c.side[side];
  if (sd.gone || sd.node == kNoNode || sd.h == hal::kInvalidHandle) return nullptr;
  Node& n = world_.node(sd.node);
  if (!n.up() || n.incarnation() != sd.incarnation) return nullptr;
  SimNet::Socket* s = n.net().find(sd.h, SimNet::Kind::kStream);
  if (!s || s->conn != c.id) return nullptr;
  return s;
}

void Network::touch(NodeId node) {
  if (node == kNoNode) return;
  Node& n = world_.node(node);
  if (n.up()) n.net().space_.touch();
}

void Network::trace_conn(TraceKind kind, const Conn& c, uint8_t side, std::string_view why) {
  Trace& t = world_.trace_;
  t.begin(world_.now(), kind);
  t.node(c.side[side].node);
  t.u64("conn", c.id);
  t.u64("side", side);
  if (!why.empty()) t.str("why", why);
  t.end();
}

uint64_t Network::connect(NodeId src, uint64_t incarnation, hal::Handle h, const hal::SockAddr& from,
                          const hal::SockAddr& to) {
  const uint64_t id = next_conn_++;
  Conn& c = conns_[id];
  c.id = id;
  c.client_addr = from;
  c.server_addr = to;
  const NodeId dst = route(src, to);
  c.local = dst == src;
  c.side[0].node = src;
  c.side[0].incarnation = incarnation;
  c.side[0].h = h;
  c.side[1].node = dst;
  ++stats_.streams_connecting;
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kConnect);
  t.node(src);
  t.u64("conn", id);
  t.addr("from", from);
  t.addr("to", to);
  t.end();
  push_chunk(c, 0, ChunkKind::kSyn, {});
  return id;
}

void Network::push_chunk(Conn& c, uint8_t s, ChunkKind kind, base::ByteSpan data) {
  Side& sd = c.side[s];
  const NodeId from = sd.node;
  const NodeId to = c.side[1 - s].node;
  base::Duration delay;
  if (c.local) {
    delay = config_.local_delay;
  } else {
    delay = sample_delay(from, to);
    if (from != kNoNode && to != kNoNode && prng_.chance(faults(from, to).loss_probability)) {
      delay = delay + config_.stream_retransmit_delay;
      ++stats_.stream_retransmits;
    }
  }
  const base::MonoTime arrival = std::max(world_.now() + delay, sd.last_arrival);
  sd.last_arrival = arrival;
  sd.out.push_back(Chunk{kind, std::string(base::as_chars(data)), arrival});
  if (kind == ChunkKind::kFin) sd.fin_sent = true;
  if (kind == ChunkKind::kRst) sd.rst_sent = true;
  const uint64_t id = c.id;
  world_.at(arrival, [this, id, s] { pipe_event(id, s); });
}

bool Network::pipe_blocked(const Conn& c, uint8_t s) const {
  if (c.local) return false;
  const NodeId from = c.side[s].node;
  const NodeId to = c.side[1 - s].node;
  if (from == kNoNode || to == kNoNode) return false;
  if (cut(from, to)) return true;
  // Nobody answers a SYN sent to a machine that is off: the client retransmits until it gives
  // up (or the machine comes back).
  if (c.side[s].out.front().kind == ChunkKind::kSyn && !world_.node(to).up()) return true;
  return false;
}

void Network::pipe_event(uint64_t id, uint8_t s) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  Side& sd = c.side[s];
  if (!sd.stalled_since.is_never()) return;  // waits for resume_stalled() or the stall timeout
  while (!sd.out.empty() && sd.out.front().arrival <= world_.now()) {
    if (c.dead) {
      sd.out.clear();
      break;
    }
    if (pipe_blocked(c, s)) {
      stall(c, s);
      return;
    }
    Chunk chunk = std::move(sd.out.front());
    sd.out.pop_front();
    apply(c, s, std::move(chunk));
  }
  maybe_erase(id);
}

void Network::stall(Conn& c, uint8_t s) {
  Side& sd = c.side[s];
  if (!sd.stalled_since.is_never()) return;
  sd.stalled_since = world_.now();
  const uint64_t epoch = ++sd.stall_epoch;
  ++stats_.stream_stalls;
  trace_conn(TraceKind::kStall, c, s, "");
  const uint64_t id = c.id;
  world_.at(world_.now() + config_.stream_stall_timeout, [this, id, s, epoch] { stall_check(id, s, epoch); });
}

void Network::stall_check(uint64_t id, uint8_t s, uint64_t epoch) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  Side& sd = c.side[s];
  if (sd.stall_epoch != epoch || sd.stalled_since.is_never()) return;
  ++stats_.streams_timed_out;
  kill_conn(c, base::error(base::Code::kTimeout, "connection timed out"));
  maybe_erase(id);
}

void Network::resume_stalled() {
  for (auto& [id, c] : conns_) {
    for (uint8_t s = 0; s < 2; ++s) {
      Side& sd = c.side[s];
      if (sd.stalled_since.is_never()) continue;
      if (!sd.out.empty() && pipe_blocked(c, s)) continue;
      sd.stalled_since = base::MonoTime::never();
      ++sd.stall_epoch;
      // The stuck chunk goes out again and crosses the link afresh.
      const base::Duration delay = c.local ? config_.local_delay : sample_delay(sd.node, c.side[1 - s].node);
      const uint64_t cid = id;
      const uint8_t side = s;
      world_.at(world_.now() + delay, [this, cid, side] { pipe_event(cid, side); });
    }
  }
}

void Network::break_socket(Conn& c, uint8_t side, base::Status status) {
  SimNet::Socket* sock = lookup(c, side);
  if (!sock) return;
  if (sock->state == SimNet::StreamState::kConnecting) {
    sock->state = SimNet::StreamState::kFailed;
  } else if (sock->state == SimNet::StreamState::kEstablished) {
    sock->state = SimNet::StreamState::kReset;
  } else {
    return;  // already broken: the first reason stands
  }
  sock->error = std::move(status);
  sock->rx.clear();
  sock->rx_off = 0;
  touch(c.side[side].node);
}

void Network::kill_conn(Conn& c, base::Status status) {
  c.dead = true;
  for (uint8_t s = 0; s < 2; ++s) {
    c.side[s].out.clear();
    c.side[s].stalled_since = base::MonoTime::never();
    ++c.side[s].stall_epoch;
  }
  trace_conn(TraceKind::kReset, c, 0, status.message());
  for (uint8_t s = 0; s < 2; ++s) break_socket(c, s, status);
}

void Network::accept_syn(Conn& c) {
  Side& srv = c.side[1];
  if (srv.node == kNoNode) {
    ++stats_.streams_refused;
    srv.gone = true;
    trace_conn(TraceKind::kRefused, c, 0, "no_route");
    break_socket(c, 0, base::error(base::Code::kIo, "no route to host"));
    return;
  }
  Node& n = world_.node(srv.node);
  if (!n.up()) {  // a local connection whose node is going down; nobody answers
    srv.gone = true;
    return;
  }
  SimNet& net = n.net();
  SimNet::Socket* listener = net.find_listener(c.server_addr);
  if (!listener || listener->accept_queue.size() >= listener->backlog) {
    ++stats_.streams_refused;
    srv.gone = true;
    srv.incarnation = n.incarnation();
    trace_conn(TraceKind::kRefused, c, 1, listener ? "backlog_full" : "no_listener");
    push_chunk(c, 1, ChunkKind::kRst, {});
    return;
  }
  srv.incarnation = n.incarnation();
  srv.h = net.add_accepted(listener, c.id, c.server_addr, c.client_addr);
  ++stats_.streams_accepted;
  trace_conn(TraceKind::kAccept, c, 1, "");
  push_chunk(c, 1, ChunkKind::kSynAck, {});
}

void Network::apply(Conn& c, uint8_t s, Chunk chunk) {
  const uint8_t d = 1 - s;
  if (chunk.kind == ChunkKind::kSyn) return accept_syn(c);
  Side& dst = c.side[d];
  SimNet::Socket* sock = lookup(c, d);
  if (!sock) {
    // The receiving socket is gone. A live kernel answers data for a closed connection with RST.
    if (chunk.kind == ChunkKind::kData && !dst.rst_sent && dst.node != kNoNode && world_.node(dst.node).up()) {
      push_chunk(c, d, ChunkKind::kRst, {});
    }
    return;
  }
  switch (chunk.kind) {
    case ChunkKind::kSyn:
      break;
    case ChunkKind::kSynAck:
      if (sock->state == SimNet::StreamState::kConnecting) {
        sock->state = SimNet::StreamState::kEstablished;
        ++stats_.streams_established;
        trace_conn(TraceKind::kEstablished, c, d, "");
      }
      break;
    case ChunkKind::kData: {
      stats_.stream_bytes_delivered += chunk.data.size();
      if (sock->rx_off == sock->rx.size()) {
        sock->rx = std::move(chunk.data);
        sock->rx_off = 0;
      } else {
        sock->rx += chunk.data;
      }
      break;
    }
    case ChunkKind::kFin:
      sock->peer_eof = true;
      trace_conn(TraceKind::kFin, c, d, "");
      break;
    case ChunkKind::kRst: {
      const bool connecting = sock->state == SimNet::StreamState::kConnecting;
      ++stats_.streams_reset;
      trace_conn(TraceKind::kReset, c, d, connecting ? "refused" : "rst");
      break_socket(c, d, base::error(base::Code::kIo, connecting ? "connection refused" : "connection reset by peer"));
      // What the reset side still had on the wire towards the other is void.
      c.side[d].out.clear();
      break;
    }
  }
  touch(dst.node);
}

void Network::stream_write(uint64_t id, uint8_t side, base::ByteSpan data) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.dead) return;
  Conn& c = it->second;
  stats_.stream_bytes_written += data.size();
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kStreamData);
  t.node(c.side[side].node);
  t.u64("conn", id);
  t.u64("side", side);
  t.payload(data);
  t.end();
  push_chunk(c, side, ChunkKind::kData, data);
}

void Network::stream_fin(uint64_t id, uint8_t side) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.dead) return;
  Conn& c = it->second;
  if (c.side[side].fin_sent || c.side[side].rst_sent) return;
  push_chunk(c, side, ChunkKind::kFin, {});
}

void Network::stream_close(uint64_t id, uint8_t side, bool abort) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  Side& sd = c.side[side];
  sd.gone = true;
  sd.h = hal::kInvalidHandle;
  if (!c.dead && !c.side[1 - side].gone) {
    if (abort) {
      if (!sd.rst_sent) push_chunk(c, side, ChunkKind::kRst, {});
    } else if (!sd.fin_sent && !sd.rst_sent) {
      push_chunk(c, side, ChunkKind::kFin, {});
    }
  }
  maybe_erase(id);
}

void Network::stream_consumed(uint64_t id, uint8_t reader_side, size_t bytes) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  Trace& t = world_.trace_;
  t.begin(world_.now(), TraceKind::kStreamRead);
  t.node(c.side[reader_side].node);
  t.u64("conn", id);
  t.u64("len", bytes);
  t.end();
  const uint8_t writer = 1 - reader_side;
  SimNet::Socket* w = lookup(c, writer);
  if (!w) return;
  w->unread_by_peer -= std::min(w->unread_by_peer, bytes);
  touch(c.side[writer].node);
}

void Network::maybe_erase(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  const Conn& c = it->second;
  const bool quiet = c.side[0].out.empty() && c.side[1].out.empty();
  if (quiet && c.side[0].gone && c.side[1].gone) conns_.erase(it);
}

}  // namespace sim
