// See server.h.
#include "agent/dns/server/server.h"

#include <algorithm>
#include <utility>

#include "agent/dns/writer.h"

namespace dns {

namespace {
constexpr size_t kTcpAnswerBytesMax = 65535;  // the length prefix's limit
constexpr size_t kAcceptsPerPass = 16;
}  // namespace

Server::Server(runtime::Loop& loop, hal::Net& net, ServerOptions options, ViewFn view)
    : loop_(loop), net_(net), options_(std::move(options)), view_(std::move(view)), seed_(options_.seed) {
  in_.resize(kQueryBytesMax);
  out_.resize(std::max<size_t>(512, options_.responder.udp_answer_max));
}

Server::~Server() { stop(); }

base::Status Server::start() {
  // With port 0 the kernel picks UDP's port, and that TCP port may be taken by any TCP socket on
  // the machine (a busy test host has thousands): pick again, a few times.
  const int attempts = options_.bind.port == 0 && options_.tcp ? 8 : 1;
  base::Status s;
  for (int i = 0; i < attempts; ++i) {
    s = start_once();
    if (s.is_ok()) break;
  }
  return s;
}

base::Status Server::start_once() {
  AGENT_ASSIGN_OR_RETURN(hal::Handle h, net_.udp_open(options_.bind));
  base::Status s = loop_.watch(h, hal::kReadable, [this](uint8_t) { on_readable(); });
  if (!s.is_ok()) {
    net_.close(h);
    return s;
  }
  udp_ = h;
  if (!options_.tcp) return base::Status::ok();
  // TCP on UDP's port (the one bound, when the options asked for port 0).
  base::Result<hal::SockAddr> bound = net_.local_addr(udp_);
  if (bound.is_ok()) {
    base::Result<hal::Handle> l = net_.listen(*bound, hal::ListenOptions{});
    if (l.is_ok()) {
      s = loop_.watch(*l, hal::kReadable, [this](uint8_t) { on_accept(); });
      if (s.is_ok()) {
        listener_ = *l;
        tcp_out_.resize(2 + kTcpAnswerBytesMax);
        return base::Status::ok();
      }
      net_.close(*l);
    } else {
      s = l.status();
    }
  } else {
    s = bound.status();
  }
  stop();
  return base::error(s.code(), "dns: TCP on %s: %s", options_.bind.to_string().c_str(), s.message().c_str());
}

void Server::stop() {
  while (!tcp_.empty()) tcp_close(tcp_.begin()->first);
  if (sweep_timer_ != runtime::kNoTimer) loop_.cancel(sweep_timer_);
  sweep_timer_ = runtime::kNoTimer;
  if (listener_ != hal::kInvalidHandle) {
    loop_.unwatch(listener_);
    net_.close(listener_);
    listener_ = hal::kInvalidHandle;
  }
  if (udp_ == hal::kInvalidHandle) return;
  loop_.unwatch(udp_);
  net_.close(udp_);
  udp_ = hal::kInvalidHandle;
}

base::Result<hal::SockAddr> Server::local_addr() const {
  if (udp_ == hal::kInvalidHandle) return base::error(base::Code::kFailedPrecondition, "dns: not started");
  return net_.local_addr(udp_);
}

size_t Server::answer(std::span<const uint8_t> query, bool over_tcp, std::span<uint8_t> out) {
  Query q;
  const DecodeError e = decode_query(query, &q);
  switch (e) {
    case DecodeError::kNone:
      break;
    case DecodeError::kShortHeader:
      ++counters_.dropped_short;
      return 0;
    case DecodeError::kNotQuery:
      ++counters_.dropped_response;
      return 0;
    default:
      ++counters_.formerr;
      return error_response(q.header, kRcodeFormErr, out);
  }
  const Result r = respond(q, view_(), options_.responder, ++seed_, over_tcp, out);
  if (r.outcome == Outcome::kAnswered) {
    ++counters_.answered;
    return r.size;
  }
  // Not ours and no upstream: REFUSED, with the question so the client can match it.
  ++counters_.refused;
  MessageWriter w(out, 512);
  const uint16_t flags = static_cast<uint16_t>(kFlagQr | (q.header.flags & (0x7800 | kFlagRd)) | kRcodeRefused);
  if (!w.header(q.header.id, flags)) return 0;
  (void)w.question(q.qname, q.qtype, q.qclass);
  return w.finish();
}

void Server::on_readable() {
  for (size_t i = 0; i < options_.datagrams_per_pass; ++i) {
    hal::SockAddr from;
    base::Result<size_t> n = net_.udp_recv(udp_, in_, &from);
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kResourceExhausted) {
        ++counters_.dropped_oversize;
        continue;
      }
      return;  // kUnavailable: nothing more queued (other errors: the next event retries)
    }
    ++counters_.received;
    const size_t size = answer(std::span<const uint8_t>(in_.data(), *n), false, out_);
    if (size == 0) continue;
    if (!net_.udp_send(udp_, from, base::ByteSpan(out_.data(), size)).is_ok()) ++counters_.send_failed;
  }
}

// --- TCP ---------------------------------------------------------------------------------------

void Server::on_accept() {
  for (size_t i = 0; i < kAcceptsPerPass; ++i) {
    hal::SockAddr peer;
    base::Result<hal::Handle> a = net_.accept(listener_, &peer);
    if (!a.is_ok()) return;  // kUnavailable: none pending (other errors: the next event retries)
    if (tcp_.size() >= options_.tcp_connections_max) {
      ++counters_.tcp_refused;
      net_.close(*a);
      continue;
    }
    auto c = std::make_unique<TcpConn>();
    c->handle = *a;
    c->interest = hal::kReadable;
    c->in.resize(2 + kQueryBytesMax);
    c->last_progress = loop_.now();
    const uint64_t id = next_tcp_id_++;
    if (!loop_.watch(*a, c->interest, [this, id](uint8_t ready) { on_tcp_io(id, ready); }).is_ok()) {
      ++counters_.tcp_refused;
      net_.close(*a);
      continue;
    }
    tcp_.emplace(id, std::move(c));
    ++counters_.tcp_accepted;
    counters_.tcp_open = tcp_.size();
    arm_sweep();
    if (sweep_timer_ == runtime::kNoTimer) tcp_close(id);  // no timer: it could never time out
  }
}

void Server::on_tcp_io(uint64_t id, uint8_t ready) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  TcpConn& c = *it->second;
  if ((ready & hal::kWritable) && !tcp_flush(c)) return tcp_close(id);
  if ((ready & hal::kReadable) && wants_read(c)) {
    base::Result<size_t> n = net_.read(c.handle, std::span<uint8_t>(c.in.data() + c.in_len, c.in.size() - c.in_len));
    if (n.is_ok() && *n == 0) {
      c.peer_eof = true;
    } else if (n.is_ok()) {
      c.in_len += *n;
      c.last_progress = loop_.now();
      if (!tcp_answer_buffered(c)) return tcp_close(id);
    } else if (n.status().code() != base::Code::kUnavailable) {
      return tcp_close(id);
    }
  } else if ((ready & (hal::kHangup | hal::kError)) && !(ready & hal::kReadable)) {
    return tcp_close(id);
  }
  // The peer finished sending and every answer went: done (a partial query is abandoned).
  if (c.peer_eof && c.out_at == c.out.size()) return tcp_close(id);
  tcp_update_interest(id, c);
}

bool Server::wants_read(const TcpConn& c) const {
  return !c.peer_eof && c.in_len < c.in.size() && c.out.size() - c.out_at < options_.tcp_pending_bytes_max;
}

bool Server::tcp_answer_buffered(TcpConn& c) {
  size_t at = 0;
  while (c.in_len - at >= 2 && c.out.size() - c.out_at < options_.tcp_pending_bytes_max) {
    const size_t len = (size_t{c.in[at]} << 8) | c.in[at + 1];
    if (len < kHeaderBytes || len > kQueryBytesMax) {
      ++counters_.tcp_bad_length;
      return false;
    }
    if (c.in_len - at < 2 + len) break;
    ++counters_.received;
    const size_t size = answer(std::span<const uint8_t>(c.in.data() + at + 2, len), true,
                               std::span<uint8_t>(tcp_out_.data() + 2, kTcpAnswerBytesMax));
    at += 2 + len;
    if (size == 0) continue;
    tcp_out_[0] = static_cast<uint8_t>(size >> 8);
    tcp_out_[1] = static_cast<uint8_t>(size);
    size_t written = 0;
    if (c.out_at == c.out.size()) {
      // Nothing queued before it: straight to the socket, queueing only what it does not take.
      c.out.clear();
      c.out_at = 0;
      base::Result<size_t> w = net_.write(c.handle, base::ByteSpan(tcp_out_.data(), 2 + size));
      if (w.is_ok()) {
        written = *w;
      } else if (w.status().code() != base::Code::kUnavailable) {
        return false;
      }
    }
    // Past tcp_pending_bytes_max the loop stops: the rest is answered as the client reads.
    c.out.insert(c.out.end(), tcp_out_.begin() + static_cast<long>(written), tcp_out_.begin() + static_cast<long>(2 + size));
  }
  if (at > 0) {
    std::copy(c.in.begin() + static_cast<long>(at), c.in.begin() + static_cast<long>(c.in_len), c.in.begin());
    c.in_len -= at;
  }
  return true;
}

bool Server::tcp_flush(TcpConn& c) {
  while (c.out_at < c.out.size()) {
    base::Result<size_t> w = net_.write(c.handle, base::ByteSpan(c.out.data() + c.out_at, c.out.size() - c.out_at));
    if (!w.is_ok()) {
      if (w.status().code() != base::Code::kUnavailable) return false;
      break;
    }
    c.out_at += *w;
    c.last_progress = loop_.now();
  }
  if (c.out_at == c.out.size()) {
    c.out.clear();
    c.out_at = 0;
  }
  // Queries held back while the answers were pending.
  return tcp_answer_buffered(c);
}

void Server::tcp_update_interest(uint64_t id, TcpConn& c) {
  uint8_t want = 0;
  if (wants_read(c)) want |= hal::kReadable;
  if (c.out_at < c.out.size()) want |= hal::kWritable;
  if (want == c.interest) return;
  if ((c.interest & hal::kReadable) && !(want & hal::kReadable) && !c.peer_eof) ++counters_.tcp_paused;
  if (!loop_.set_interest(c.handle, want).is_ok()) return tcp_close(id);
  c.interest = want;
}

void Server::tcp_close(uint64_t id) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  loop_.unwatch(it->second->handle);
  net_.close(it->second->handle);
  tcp_.erase(it);
  counters_.tcp_open = tcp_.size();
}

void Server::arm_sweep() {
  if (sweep_timer_ != runtime::kNoTimer || tcp_.empty()) return;
  auto t = loop_.arm_after(base::Duration::seconds(1), [this] {
    sweep_timer_ = runtime::kNoTimer;
    sweep();
  });
  if (t.is_ok()) sweep_timer_ = *t;
}

void Server::sweep() {
  const base::MonoTime now = loop_.now();
  for (auto it = tcp_.begin(); it != tcp_.end();) {
    const uint64_t id = it->first;
    const bool idle = now - it->second->last_progress >= options_.tcp_idle_timeout;
    ++it;
    if (idle) {
      ++counters_.tcp_idle_closed;
      tcp_close(id);
    }
  }
  arm_sweep();
}

}  // namespace dns
