#include "hal/sim/net.h"

#include <algorithm>
#include <cstring>

#include "hal/sim/addr.h"
#include "hal/sim/network.h"

namespace sim {


SimNet::SimNet(Network& network, NodeId node, uint64_t incarnation, HandleSpace& space, const SimPoller& poller)
    : network_(network), node_(node), incarnation_(incarnation), space_(space), poller_(poller) {}

SimNet::Socket* SimNet::find(hal::Handle h, Kind kind) {
  auto it = sockets_.find(h);
  if (it == sockets_.end() || it->second.kind != kind) return nullptr;
  return &it->second;
}

base::Status SimNet::check_bind_ip(const hal::SockAddr& bind) const {
  if (!is_ip(bind)) return base::error(base::Code::kInvalidArgument, "bind: not an IP address");
  if (is_unspecified(bind) || is_loopback_ip(bind)) return base::Status::ok();
  for (const auto& a : network_.addresses(node_)) {
    if (same_ip(a, bind)) return base::Status::ok();
  }
  return base::error(base::Code::kInvalidArgument, "bind: address not on this node");
}

uint16_t SimNet::ephemeral_port(const std::map<uint16_t, hal::Handle>& taken) {
  for (int i = 0; i < 16384; ++i) {
    uint16_t p = next_ephemeral_;
    next_ephemeral_ = next_ephemeral_ == 65535 ? 49152 : next_ephemeral_ + 1;
    if (!taken.count(p)) return p;
  }
  return 0;
}

hal::SockAddr SimNet::source_for(const hal::SockAddr& local, const hal::SockAddr& to) const {
  hal::SockAddr src = local;
  if (is_unspecified(local)) {
    if (is_loopback_ip(to) || is_unspecified(to)) {
      src.ip = to.ip;
      if (is_unspecified(to)) {
        src.ip = {};
        if (to.family == hal::AddrFamily::kIpv4) src.ip[0] = 127, src.ip[3] = 1;
        else src.ip[15] = 1;
      }
    } else {
      for (const auto& a : network_.addresses(node_)) {
        if (a.family == local.family) {
          src.ip = a.ip;
          break;
        }
      }
    }
  }
  return src;
}

base::Result<hal::Handle> SimNet::udp_open(const hal::SockAddr& bind) {
  AGENT_TRY(check_bind_ip(bind));
  uint16_t port = bind.port;
  if (port == 0) {
    port = ephemeral_port(udp_ports_);
    if (port == 0) return base::error(base::Code::kResourceExhausted, "udp_open: no free port");
  } else if (udp_ports_.count(port)) {
    return base::error(base::Code::kAlreadyExists, "udp_open: port %u in use", port);
  }
  hal::Handle h = space_.allocate();
  Socket s;
  s.kind = Kind::kUdp;
  s.local = bind;
  s.local.port = port;
  sockets_.emplace(h, std::move(s));
  udp_ports_.emplace(port, h);
  space_.touch();
  return h;
}

base::Result<size_t> SimNet::udp_send(hal::Handle h, const hal::SockAddr& to, base::ByteSpan data) {
  Socket* s = find(h, Kind::kUdp);
  if (!s) return base::error(base::Code::kInvalidArgument, "udp_send: %d is not a UDP socket", h);
  if (!is_ip(to) || to.port == 0) return base::error(base::Code::kInvalidArgument, "udp_send: bad destination");
  if (to.family != s->local.family) return base::error(base::Code::kInvalidArgument, "udp_send: address family mismatch");
  if (data.size() > network_.config().udp_datagram_bytes_max) {
    return base::error(base::Code::kInvalidArgument, "udp_send: %zu bytes is too long for a datagram", data.size());
  }
  network_.udp_send(node_, source_for(s->local, to), to, data);
  return data.size();
}

base::Result<size_t> SimNet::udp_recv(hal::Handle h, std::span<uint8_t> buf, hal::SockAddr* from) {
  Socket* s = find(h, Kind::kUdp);
  if (!s) return base::error(base::Code::kInvalidArgument, "udp_recv: %d is not a UDP socket", h);
  if (s->rx_datagrams.empty()) return base::error(base::Code::kUnavailable, "would block");
  Datagram d = std::move(s->rx_datagrams.front());
  s->rx_datagrams.pop_front();
  s->rx_bytes -= d.data.size();
  space_.touch();
  if (d.data.size() > buf.size()) {
    return base::error(base::Code::kResourceExhausted, "udp_recv: %zu-byte datagram dropped, buffer holds %zu",
                       d.data.size(), buf.size());
  }
  if (!d.data.empty()) memcpy(buf.data(), d.data.data(), d.data.size());
  if (from) *from = d.from;
  return d.data.size();
}

base::Result<hal::Handle> SimNet::listen(const hal::SockAddr& bind, const hal::ListenOptions& options) {
  if (options.backlog < 1) return base::error(base::Code::kInvalidArgument, "listen: backlog must be >= 1");
  Socket s;
  s.kind = Kind::kListener;
  s.local = bind;
  s.backlog = static_cast<size_t>(std::min(options.backlog, network_.config().listen_backlog_max));
  hal::Handle h;
  if (bind.family == hal::AddrFamily::kUnix) {
    if (bind.path.empty() || bind.path.size() > hal::SockAddr::kUnixPathBytesMax) {
      return base::error(base::Code::kInvalidArgument, "listen: bad Unix path");
    }
    // unix_unlink_stale has nothing to remove: a listener that is gone leaves no file here.
    if (unix_paths_.count(bind.path)) return base::error(base::Code::kAlreadyExists, "listen: %s in use", bind.path.c_str());
    h = space_.allocate();
    unix_paths_.emplace(bind.path, h);
  } else {
    AGENT_TRY(check_bind_ip(bind));
    uint16_t port = bind.port;
    if (port == 0) {
      port = ephemeral_port(tcp_ports_);
      if (port == 0) return base::error(base::Code::kResourceExhausted, "listen: no free port");
    } else if (tcp_ports_.count(port)) {
      return base::error(base::Code::kAlreadyExists, "listen: port %u in use", port);
    }
    s.local.port = port;
    h = space_.allocate();
    tcp_ports_.emplace(port, h);
  }
  sockets_.emplace(h, std::move(s));
  space_.touch();
  return h;
}

SimNet::Socket* SimNet::find_listener(const hal::SockAddr& to) {
  hal::Handle h = hal::kInvalidHandle;
  if (to.family == hal::AddrFamily::kUnix) {
    auto it = unix_paths_.find(to.path);
    if (it != unix_paths_.end()) h = it->second;
  } else {
    auto it = tcp_ports_.find(to.port);
    if (it != tcp_ports_.end()) h = it->second;
  }
  if (h == hal::kInvalidHandle) return nullptr;
  Socket* s = find(h, Kind::kListener);
  if (!s) return nullptr;
  if (to.family != hal::AddrFamily::kUnix && !is_unspecified(s->local) && !same_ip(s->local, to) &&
      !(is_loopback_ip(s->local) && is_loopback_ip(to))) {
    return nullptr;  // bound to another of our addresses
  }
  return s;
}

SimNet::Socket* SimNet::find_udp(const hal::SockAddr& to) {
  auto it = udp_ports_.find(to.port);
  if (it == udp_ports_.end()) return nullptr;
  Socket* s = find(it->second, Kind::kUdp);
  if (!s || s->local.family != to.family) return nullptr;
  if (!is_unspecified(s->local) && !same_ip(s->local, to) && !(is_loopback_ip(s->local) && is_loopback_ip(to))) {
    return nullptr;
  }
  return s;
}

hal::Handle SimNet::add_accepted(Socket* listener, uint64_t conn, const hal::SockAddr& local, const hal::SockAddr& peer) {
  hal::Handle h = space_.allocate();
  Socket s;
  s.kind = Kind::kStream;
  s.conn = conn;
  s.side = 1;
  s.state = StreamState::kEstablished;
  s.local = local;
  s.peer = peer;
  sockets_.emplace(h, std::move(s));
  listener->accept_queue.push_back(h);
  space_.touch();
  return h;
}

base::Result<hal::Handle> SimNet::accept(hal::Handle listener, hal::SockAddr* peer) {
  Socket* l = find(listener, Kind::kListener);
  if (!l) return base::error(base::Code::kInvalidArgument, "accept: %d is not a listener", listener);
  if (l->accept_queue.empty()) return base::error(base::Code::kUnavailable, "would block");
  hal::Handle h = l->accept_queue.front();
  l->accept_queue.pop_front();
  space_.touch();
  if (peer) *peer = sockets_.at(h).peer;
  return h;
}

base::Result<hal::Handle> SimNet::connect(const hal::SockAddr& to) {
  Socket s;
  s.kind = Kind::kStream;
  s.side = 0;
  s.state = StreamState::kConnecting;
  s.peer = to;
  if (to.family == hal::AddrFamily::kUnix) {
    if (to.path.empty() || to.path.size() > hal::SockAddr::kUnixPathBytesMax) {
      return base::error(base::Code::kInvalidArgument, "connect: bad Unix path");
    }
    s.local = hal::SockAddr{};
    s.local.family = hal::AddrFamily::kUnix;  // unnamed
  } else {
    if (!is_ip(to) || to.port == 0) return base::error(base::Code::kInvalidArgument, "connect: bad address");
    hal::SockAddr any;
    any.family = to.family;
    s.local = source_for(any, to);
    s.local.port = ephemeral_port(tcp_ports_);
  }
  hal::Handle h = space_.allocate();
  const hal::SockAddr local = s.local;
  auto it = sockets_.emplace(h, std::move(s)).first;
  space_.touch();
  it->second.conn = network_.connect(node_, incarnation_, h, local, to);
  return h;
}

base::Status SimNet::connect_result(hal::Handle h) {
  Socket* s = find(h, Kind::kStream);
  if (!s) return base::error(base::Code::kInvalidArgument, "connect_result: %d is not a stream", h);
  switch (s->state) {
    case StreamState::kConnecting: return base::error(base::Code::kUnavailable, "connect in progress");
    case StreamState::kEstablished: return base::Status::ok();
    case StreamState::kFailed:
    case StreamState::kReset: return s->error;
  }
  return base::Status::ok();
}

base::Result<size_t> SimNet::read(hal::Handle h, std::span<uint8_t> buf) {
  Socket* s = find(h, Kind::kStream);
  if (!s) return base::error(base::Code::kInvalidArgument, "read: %d is not a stream", h);
  if (s->state == StreamState::kConnecting) return base::error(base::Code::kUnavailable, "would block");
  if (s->state == StreamState::kFailed || s->state == StreamState::kReset) return s->error;
  const size_t avail = s->rx.size() - s->rx_off;
  if (avail > 0) {
    if (buf.empty()) return size_t{0};
    const size_t n = std::min(avail, buf.size());
    memcpy(buf.data(), s->rx.data() + s->rx_off, n);
    s->rx_off += n;
    if (s->rx_off == s->rx.size()) {
      s->rx.clear();
      s->rx_off = 0;
    } else if (s->rx_off > 65536 && s->rx_off * 2 > s->rx.size()) {
      s->rx.erase(0, s->rx_off);
      s->rx_off = 0;
    }
    space_.touch();
    network_.stream_consumed(s->conn, s->side, n);
    return n;
  }
  if (s->peer_eof) return size_t{0};
  return base::error(base::Code::kUnavailable, "would block");
}

base::Result<size_t> SimNet::write(hal::Handle h, base::ByteSpan data) {
  Socket* s = find(h, Kind::kStream);
  if (!s) return base::error(base::Code::kInvalidArgument, "write: %d is not a stream", h);
  if (s->state == StreamState::kConnecting) return base::error(base::Code::kUnavailable, "would block");
  if (s->state == StreamState::kFailed || s->state == StreamState::kReset) return s->error;
  if (s->write_shut) return base::error(base::Code::kIo, "write: broken pipe (shut down for writing)");
  const size_t max = network_.config().stream_buffer_bytes;
  if (s->unread_by_peer >= max) return base::error(base::Code::kUnavailable, "would block");
  const size_t n = std::min(data.size(), max - s->unread_by_peer);
  if (n == 0) return size_t{0};
  s->unread_by_peer += n;
  space_.touch();
  network_.stream_write(s->conn, s->side, data.first(n));
  return n;
}

void SimNet::shutdown_write(hal::Handle h) {
  Socket* s = find(h, Kind::kStream);
  if (!s || s->write_shut) return;
  s->write_shut = true;
  space_.touch();
  if (s->state == StreamState::kConnecting || s->state == StreamState::kEstablished) {
    network_.stream_fin(s->conn, s->side);
  }
}

base::Result<hal::SockAddr> SimNet::local_addr(hal::Handle h) {
  auto it = sockets_.find(h);
  if (it == sockets_.end()) return base::error(base::Code::kInvalidArgument, "local_addr: %d is not open", h);
  return it->second.local;
}

void SimNet::drop_socket(hal::Handle h, bool abort) {
  auto it = sockets_.find(h);
  AGENT_ASSERT(it != sockets_.end());
  Socket& s = it->second;
  switch (s.kind) {
    case Kind::kUdp:
      udp_ports_.erase(s.local.port);
      break;
    case Kind::kListener: {
      if (s.local.family == hal::AddrFamily::kUnix) unix_paths_.erase(s.local.path);
      else tcp_ports_.erase(s.local.port);
      // Connections accepted by the network but never by the application are reset.
      std::deque<hal::Handle> pending = std::move(s.accept_queue);
      sockets_.erase(it);
      for (hal::Handle p : pending) drop_socket(p, /*abort=*/true);
      space_.touch();
      return;
    }
    case Kind::kStream: {
      const bool unread = s.rx.size() > s.rx_off;
      network_.stream_close(s.conn, s.side, abort || crashing_ || unread);
      break;
    }
  }
  sockets_.erase(it);
  space_.touch();
}

void SimNet::close(hal::Handle h) {
  if (crashing_) return;  // crash() resets everything that is still open
  AGENT_ASSERT_MSG(sockets_.count(h) != 0, "SimNet::close of a handle that is not open");
  AGENT_ASSERT_MSG(!poller_.registered(h), "SimNet::close of a handle still registered with the poller");
  drop_socket(h);
}

void SimNet::crash() {
  crashing_ = true;
  while (!sockets_.empty()) drop_socket(sockets_.begin()->first);
}

uint8_t SimNet::readiness(hal::Handle h) const {
  auto it = sockets_.find(h);
  if (it == sockets_.end()) return 0;
  const Socket& s = it->second;
  switch (s.kind) {
    case Kind::kUdp:
      return hal::kWritable | (s.rx_datagrams.empty() ? 0 : hal::kReadable);
    case Kind::kListener:
      return s.accept_queue.empty() ? 0 : hal::kReadable;
    case Kind::kStream:
      switch (s.state) {
        case StreamState::kConnecting: return 0;
        case StreamState::kFailed: return hal::kWritable | hal::kError | hal::kHangup;
        case StreamState::kReset: return hal::kReadable | hal::kWritable | hal::kError | hal::kHangup;
        case StreamState::kEstablished: {
          uint8_t r = 0;
          if (s.rx.size() > s.rx_off || s.peer_eof) r |= hal::kReadable;
          if (!s.write_shut && s.unread_by_peer < network_.config().stream_buffer_bytes) r |= hal::kWritable;
          if (s.peer_eof && s.write_shut) r |= hal::kHangup;
          return r;
        }
      }
  }
  return 0;
}

}  // namespace sim
