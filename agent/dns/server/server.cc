// See server.h.
#include "agent/dns/server/server.h"

#include <algorithm>
#include <utility>

#include "agent/base/assert.h"
#include "agent/dns/writer.h"

namespace dns {

namespace {
constexpr size_t kTcpAnswerBytesMax = 65535;  // the length prefix's limit
constexpr size_t kAcceptsPerPass = 16;
constexpr uint16_t kFlagCd = 0x0010;  // RFC 4035 §3.2.2: checking disabled, passed upstream
constexpr uint16_t kFlagAd = 0x0020;  // RFC 6840 §5.7: the client wants the AD bit
constexpr int kAttemptsMax = 2;       // the first recursor, then the next one once
constexpr int kIdDrawsMax = 16;       // a free ID among 65536 with at most 256 taken: never 16 misses

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
}  // namespace

Server::Server(runtime::Loop& loop, hal::Net& net, ServerOptions options, ViewFn view)
    : loop_(loop), net_(net), options_(std::move(options)), view_(std::move(view)), seed_(options_.seed) {
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
  if (!options_.recursors.empty()) {
    s = start_forwarding();
    if (!s.is_ok()) {
      stop();
      return s;
    }
  }
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

base::Status Server::start_forwarding() {
  if (options_.recursors.size() > kRecursorsMax) {
    return base::error(base::Code::kInvalidArgument, "dns: %zu recursors, at most %zu", options_.recursors.size(),
                       kRecursorsMax);
  }
  if (options_.entropy == nullptr || options_.forwards_max == 0 || options_.forwards_max > 65536) {
    return base::error(base::Code::kInvalidArgument, "dns: recursors need an entropy source and forwards_max 1..65536");
  }
  AGENT_ASSIGN_OR_RETURN(hal::SockAddr self, net_.local_addr(udp_));
  for (const hal::SockAddr& r : options_.recursors) {
    const bool v6 = r.family == hal::AddrFamily::kIpv6;
    if (!v6 && r.family != hal::AddrFamily::kIpv4) {
      return base::error(base::Code::kInvalidArgument, "dns: recursor %s is not an IP address", r.to_string().c_str());
    }
    // Forwarding to ourselves would pass each query round until the table fills: refuse the
    // plain mistake (a node whose resolver is this agent, given itself as recursor).
    if (r == self) {
      return base::error(base::Code::kInvalidArgument, "dns: recursor %s is this DNS server", r.to_string().c_str());
    }
    hal::Handle& h = v6 ? upstream_v6_ : upstream_v4_;
    if (h != hal::kInvalidHandle) continue;
    hal::SockAddr any;  // the unspecified address, port 0: the kernel picks both per destination
    any.family = r.family;
    AGENT_ASSIGN_OR_RETURN(hal::Handle u, net_.udp_open(any));
    base::Status s = loop_.watch(u, hal::kReadable, [this, u](uint8_t) { on_upstream_readable(u); });
    if (!s.is_ok()) {
      net_.close(u);
      return s;
    }
    h = u;
  }
  forwards_.assign(options_.forwards_max, Forward{});
  free_rows_.clear();
  free_rows_.reserve(options_.forwards_max);
  for (size_t i = options_.forwards_max; i > 0; --i) free_rows_.push_back(static_cast<int32_t>(i - 1));
  head_ = tail_ = -1;
  upstream_in_.resize(2 + 65535);
  upstream_out_.resize(kQueryBytesMax);
  return base::Status::ok();
}

void Server::stop() {
  if (forward_timer_ != runtime::kNoTimer) loop_.cancel(forward_timer_);
  forward_timer_ = runtime::kNoTimer;
  while (head_ >= 0) release(head_);
  for (hal::Handle* h : {&upstream_v4_, &upstream_v6_}) {
    if (*h == hal::kInvalidHandle) continue;
    loop_.unwatch(*h);
    net_.close(*h);
    *h = hal::kInvalidHandle;
  }
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
  return answer_from(query, Origin{nullptr, over_tcp, nullptr}, out);
}

bool Server::may_recurse(const hal::SockAddr& peer) const {
  for (const hal::IpNetwork& n : options_.recursion_networks) {
    if (n.contains(peer)) return true;
  }
  return false;
}

size_t Server::answer_from(std::span<const uint8_t> query, const Origin& origin, std::span<uint8_t> out) {
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
  const bool forwarding = !options_.recursors.empty() && origin.peer != nullptr;
  const bool recurse = forwarding && may_recurse(*origin.peer);
  options_.responder.recursion_available = recurse;
  const Result r = respond(q, view_(), options_.responder, ++seed_, origin.over_tcp, out);
  if (r.outcome == Outcome::kAnswered) {
    ++counters_.answered;
    return r.size;
  }
  if (recurse) return forward(q, origin, out);
  // Not ours and not forwarded: REFUSED, with the question so the client can match it.
  ++counters_.refused;
  if (forwarding) ++counters_.recursion_refused;
  MessageWriter w(out, 512);
  const uint16_t flags = static_cast<uint16_t>(kFlagQr | (q.header.flags & (0x7800 | kFlagRd)) | kRcodeRefused);
  if (!w.header(q.header.id, flags)) return 0;
  (void)w.question(q.qname, q.qtype, q.qclass);
  return w.finish();
}

// --- Forwarding --------------------------------------------------------------------------------

namespace {
// An error answer with the question echoed (and OPT when the client sent one).
size_t question_error(uint16_t id, uint16_t client_flags, const Name& qname, uint16_t qtype, uint16_t qclass,
                      bool has_edns, uint16_t udp_size, uint8_t rcode, std::span<uint8_t> out) {
  const OptData opt{.udp_size = udp_size, .extended_rcode = 0, .dnssec_ok = false};
  MessageWriter w(out, 512, has_edns ? &opt : nullptr);
  const uint16_t flags = static_cast<uint16_t>(kFlagQr | (client_flags & (0x7800 | kFlagRd)) | kFlagRa | rcode);
  if (!w.header(id, flags)) return 0;
  (void)w.question(qname, qtype, qclass);
  return w.finish();
}
}  // namespace

size_t Server::forward(const Query& q, const Origin& origin, std::span<uint8_t> out) {
  if (free_rows_.empty()) {
    ++counters_.forward_table_full;
    return question_error(q.header.id, q.header.flags, q.qname, q.qtype, q.qclass, q.has_edns,
                          options_.responder.udp_answer_max, kRcodeServFail, out);
  }
  const int32_t i = free_rows_.back();
  free_rows_.pop_back();
  Forward& f = forwards_[static_cast<size_t>(i)];
  f = Forward{};
  f.in_use = true;
  f.client_id = q.header.id;
  f.client_flags = q.header.flags;
  f.client_limit = q.has_edns ? std::clamp<uint16_t>(q.edns_udp_size, 512, std::max<uint16_t>(512, options_.responder.udp_answer_max))
                              : 512;
  f.has_edns = q.has_edns;
  f.edns_do = q.edns_do;
  f.edns_udp_size = q.edns_udp_size;
  f.qname = q.qname;
  f.qtype = q.qtype;
  f.qclass = q.qclass;
  if (origin.tcp != nullptr) {
    f.tcp_id = origin.tcp->id;
    ++origin.tcp->forwards;
  } else {
    f.client = *origin.peer;
  }
  f.recursor = 0;
  if (!send_upstream(i)) {
    // No random ID (the entropy source failed; never a guessable one) or no timer: SERVFAIL.
    if (origin.tcp != nullptr) --origin.tcp->forwards;
    release(i);
    ++counters_.forward_servfail;
    return question_error(q.header.id, q.header.flags, q.qname, q.qtype, q.qclass, q.has_edns,
                          options_.responder.udp_answer_max, kRcodeServFail, out);
  }
  ++counters_.forwarded;
  return 0;
}

bool Server::draw_id(uint16_t* id) {
  for (int draw = 0; draw < kIdDrawsMax; ++draw) {
    if (id_pool_at_ + 2 > sizeof id_pool_) {
      if (!options_.entropy->fill(std::span<uint8_t>(id_pool_, sizeof id_pool_)).is_ok()) return false;
      id_pool_at_ = 0;
    }
    const uint16_t candidate = be16(id_pool_ + id_pool_at_);
    id_pool_at_ += 2;
    bool taken = false;
    for (int32_t j = head_; j >= 0 && !taken; j = forwards_[static_cast<size_t>(j)].next) {
      taken = forwards_[static_cast<size_t>(j)].upstream_id == candidate;
    }
    if (!taken) {
      *id = candidate;
      return true;
    }
  }
  return false;
}

bool Server::send_upstream(int32_t i) {
  Forward& f = forwards_[static_cast<size_t>(i)];
  uint16_t id = 0;
  if (!draw_id(&id)) return false;
  f.upstream_id = id;
  ++f.attempts;
  f.deadline = loop_.now() + options_.recursor_timeout;
  if (tail_ >= 0 && f.deadline < forwards_[static_cast<size_t>(tail_)].deadline) {
    f.deadline = forwards_[static_cast<size_t>(tail_)].deadline;  // keeps the list sorted
  }
  list_append(i);
  if (!arm_forward_timer()) {
    list_remove(i);
    return false;
  }
  const OptData opt{.udp_size = f.client_limit, .extended_rcode = 0, .dnssec_ok = f.edns_do};
  MessageWriter w(upstream_out_, upstream_out_.size(), f.has_edns ? &opt : nullptr);
  const uint16_t flags = static_cast<uint16_t>(f.client_flags & (kFlagRd | kFlagCd | kFlagAd));
  const bool built = w.header(id, flags) && w.question(f.qname, f.qtype, f.qclass);
  AGENT_ASSERT(built);  // 4096 bytes hold any question
  const size_t size = w.finish();
  const hal::SockAddr& to = options_.recursors[f.recursor];
  const hal::Handle h = to.family == hal::AddrFamily::kIpv6 ? upstream_v6_ : upstream_v4_;
  // A failed send is left to time out: the next attempt goes elsewhere.
  if (!net_.udp_send(h, to, base::ByteSpan(upstream_out_.data(), size)).is_ok()) ++counters_.send_failed;
  return true;
}

void Server::list_append(int32_t i) {
  Forward& f = forwards_[static_cast<size_t>(i)];
  f.prev = tail_;
  f.next = -1;
  if (tail_ >= 0) {
    forwards_[static_cast<size_t>(tail_)].next = i;
  } else {
    head_ = i;
  }
  tail_ = i;
  ++counters_.forwards_pending;
}

void Server::list_remove(int32_t i) {
  Forward& f = forwards_[static_cast<size_t>(i)];
  if (f.prev >= 0) {
    forwards_[static_cast<size_t>(f.prev)].next = f.next;
  } else {
    head_ = f.next;
  }
  if (f.next >= 0) {
    forwards_[static_cast<size_t>(f.next)].prev = f.prev;
  } else {
    tail_ = f.prev;
  }
  f.prev = f.next = -1;
  --counters_.forwards_pending;
}

void Server::release(int32_t i) {
  Forward& f = forwards_[static_cast<size_t>(i)];
  AGENT_ASSERT(f.in_use);
  if (f.prev >= 0 || f.next >= 0 || head_ == i) list_remove(i);
  f.in_use = false;
  free_rows_.push_back(i);
}

bool Server::arm_forward_timer() {
  if (forward_timer_ != runtime::kNoTimer || head_ < 0) return true;
  auto t = loop_.arm(forwards_[static_cast<size_t>(head_)].deadline, [this] {
    forward_timer_ = runtime::kNoTimer;
    on_forward_timer();
  });
  if (!t.is_ok()) return false;
  forward_timer_ = *t;
  return true;
}

void Server::fail_all_forwards() {
  while (head_ >= 0) {
    const int32_t i = head_;
    list_remove(i);
    ++counters_.forward_servfail;
    deliver_error(forwards_[static_cast<size_t>(i)], kRcodeServFail);
    release(i);
  }
}

void Server::on_forward_timer() {
  const base::MonoTime now = loop_.now();
  // Bounded: each row is visited once (a retried row goes to the tail with a later deadline).
  for (size_t n = forwards_.size(); n > 0 && head_ >= 0; --n) {
    const int32_t i = head_;
    Forward& f = forwards_[static_cast<size_t>(i)];
    if (f.deadline > now) break;
    list_remove(i);
    ++counters_.forward_timeouts;
    if (f.attempts < kAttemptsMax) {
      f.recursor = static_cast<uint8_t>((f.recursor + 1) % options_.recursors.size());
      if (send_upstream(i)) continue;
    }
    ++counters_.forward_servfail;
    deliver_error(f, kRcodeServFail);
    release(i);
  }
  // Without a timer nothing would time out: fail every waiting query now rather than never.
  if (!arm_forward_timer()) fail_all_forwards();
}

void Server::on_upstream_readable(hal::Handle h) {
  for (size_t n = 0; n < options_.datagrams_per_pass; ++n) {
    hal::SockAddr from;
    uint8_t* msg = upstream_in_.data() + 2;
    base::Result<size_t> got = net_.udp_recv(h, std::span<uint8_t>(msg, upstream_in_.size() - 2), &from);
    if (!got.is_ok()) {
      if (got.status().code() == base::Code::kResourceExhausted) {
        ++counters_.forward_dropped;
        continue;
      }
      return;  // kUnavailable: nothing more queued
    }
    const size_t size = *got;
    // The reply must be a response to a waiting query's ID...
    int32_t i = -1;
    if (size >= kHeaderBytes && (be16(msg + 2) & kFlagQr) != 0) {
      const uint16_t id = be16(msg);
      for (int32_t j = head_; j >= 0; j = forwards_[static_cast<size_t>(j)].next) {
        if (forwards_[static_cast<size_t>(j)].upstream_id == id) {
          i = j;
          break;
        }
      }
    }
    // ...from the recursor it went to, with the same one question.
    bool match = i >= 0 && from == options_.recursors[forwards_[static_cast<size_t>(i)].recursor] && be16(msg + 4) == 1;
    if (match) {
      const Forward& f = forwards_[static_cast<size_t>(i)];
      Name qname;
      size_t at = 0;
      const std::span<const uint8_t> whole(msg, size);
      match = read_name(whole, kHeaderBytes, &qname, &at) == DecodeError::kNone && at + 4 <= size &&
              name_equal(qname, f.qname) && be16(msg + at) == f.qtype && be16(msg + at + 2) == f.qclass;
    }
    if (!match) {
      ++counters_.forward_dropped;
      continue;
    }
    ++counters_.forward_replies;
    const Forward& f = forwards_[static_cast<size_t>(i)];
    put_be16(msg, f.client_id);
    list_remove(i);
    deliver(f, msg, size);
    release(i);
  }
}

void Server::deliver(const Forward& f, uint8_t* msg, size_t size) {
  if (f.tcp_id != 0) {
    auto it = tcp_.find(f.tcp_id);
    if (it == tcp_.end()) return;  // the client went away
    --it->second->forwards;
    if (!tcp_send_framed(*it->second, msg, size)) return tcp_close(f.tcp_id);
    return tcp_forward_done(f.tcp_id);
  }
  if (size > f.client_limit) {
    // Too large for the client: the header and question alone, TC set (RFC 2181 §9), so it asks
    // again over TCP.
    ++counters_.forward_truncated;
    const OptData opt{.udp_size = options_.responder.udp_answer_max, .extended_rcode = 0, .dnssec_ok = false};
    MessageWriter w(out_, 512, f.has_edns ? &opt : nullptr);
    if (!w.header(f.client_id, static_cast<uint16_t>(be16(msg + 2) & ~0x000F))) return;
    (void)w.question(f.qname, f.qtype, f.qclass);
    size = w.finish();
    out_[2] |= static_cast<uint8_t>(kFlagTc >> 8);
    out_[3] = static_cast<uint8_t>((out_[3] & 0xF0) | (msg[3] & 0x0F));  // the upstream's RCODE
    msg = out_.data();
  }
  if (!net_.udp_send(udp_, f.client, base::ByteSpan(msg, size)).is_ok()) ++counters_.send_failed;
}

void Server::deliver_error(const Forward& f, uint8_t rcode) {
  // upstream_in_ is free here (timers do not run inside a read pass); 2 bytes before for TCP.
  uint8_t* msg = upstream_in_.data() + 2;
  const size_t size = question_error(f.client_id, f.client_flags, f.qname, f.qtype, f.qclass, f.has_edns,
                                     options_.responder.udp_answer_max, rcode,
                                     std::span<uint8_t>(msg, upstream_in_.size() - 2));
  if (size == 0) return;
  if (f.tcp_id != 0) {
    auto it = tcp_.find(f.tcp_id);
    if (it == tcp_.end()) return;
    --it->second->forwards;
    if (!tcp_send_framed(*it->second, msg, size)) return tcp_close(f.tcp_id);
    return tcp_forward_done(f.tcp_id);
  }
  if (!net_.udp_send(udp_, f.client, base::ByteSpan(msg, size)).is_ok()) ++counters_.send_failed;
}

void Server::tcp_forward_done(uint64_t id) {
  auto it = tcp_.find(id);
  if (it == tcp_.end()) return;
  TcpConn& c = *it->second;
  c.last_progress = loop_.now();
  if (c.peer_eof && c.out_at == c.out.size() && c.forwards == 0) return tcp_close(id);
  tcp_update_interest(id, c);
}

void Server::on_readable() {
  // The batch buffers on first use, uninitialised: a node whose DNS is never asked keeps no
  // resident pages for them.
  if (!batch_in_) {
    batch_in_ = std::make_unique_for_overwrite<uint8_t[]>(kUdpBatch * kQueryBytesMax);
    batch_out_ = std::make_unique_for_overwrite<uint8_t[]>(kUdpBatch * out_.size());
  }
  size_t done = 0;
  while (done < options_.datagrams_per_pass) {
    const size_t want = std::min(kUdpBatch, options_.datagrams_per_pass - done);
    for (size_t i = 0; i < want; ++i) batch_[i].buf = std::span<uint8_t>(batch_in_.get() + i * kQueryBytesMax, kQueryBytesMax);
    base::Result<size_t> got = net_.udp_recv_batch(udp_, std::span<hal::UdpMessage>(batch_.data(), want));
    if (!got.is_ok()) return;  // kUnavailable: nothing more queued (other errors: the next event retries)
    size_t replies = 0;
    for (size_t i = 0; i < *got; ++i) {
      hal::UdpMessage& m = batch_[i];
      if (m.size > m.buf.size()) {
        ++counters_.dropped_oversize;
        continue;
      }
      ++counters_.received;
      std::span<uint8_t> out(batch_out_.get() + replies * out_.size(), out_.size());
      const size_t size = answer_from(std::span<const uint8_t>(m.buf.data(), m.size), Origin{&m.peer, false, nullptr}, out);
      if (size == 0) continue;
      hal::UdpMessage& r = replies_[replies++];
      r.buf = out;
      r.size = size;
      r.peer = m.peer;
    }
    // One call for the batch's answers; one that cannot go (a full send buffer) is dropped and
    // counted, and the rest still go.
    size_t at = 0;
    while (at < replies) {
      base::Result<size_t> sent = net_.udp_send_batch(udp_, std::span<const hal::UdpMessage>(replies_.data() + at, replies - at));
      if (!sent.is_ok() || *sent == 0) {
        ++counters_.send_failed;
        ++at;
        continue;
      }
      at += *sent;
    }
    done += *got;
    if (*got < want) return;  // the queue is drained
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
    c->peer = peer;
    const uint64_t id = next_tcp_id_++;
    c->id = id;
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
  if (c.peer_eof && c.out_at == c.out.size() && c.forwards == 0) return tcp_close(id);
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
    const size_t size = answer_from(std::span<const uint8_t>(c.in.data() + at + 2, len), Origin{&c.peer, true, &c},
                                    std::span<uint8_t>(tcp_out_.data() + 2, kTcpAnswerBytesMax));
    at += 2 + len;
    if (size == 0) continue;
    // Past tcp_pending_bytes_max the loop stops: the rest is answered as the client reads.
    if (!tcp_send_framed(c, tcp_out_.data() + 2, size)) return false;
  }
  if (at > 0) {
    std::copy(c.in.begin() + static_cast<long>(at), c.in.begin() + static_cast<long>(c.in_len), c.in.begin());
    c.in_len -= at;
  }
  return true;
}

bool Server::tcp_send_framed(TcpConn& c, uint8_t* msg, size_t size) {
  AGENT_ASSERT(size <= kTcpAnswerBytesMax);
  uint8_t* framed = msg - 2;
  put_be16(framed, static_cast<uint16_t>(size));
  size_t written = 0;
  if (c.out_at == c.out.size()) {
    // Nothing queued before it: straight to the socket, queueing only what it does not take.
    c.out.clear();
    c.out_at = 0;
    base::Result<size_t> w = net_.write(c.handle, base::ByteSpan(framed, 2 + size));
    if (w.is_ok()) {
      written = *w;
    } else if (w.status().code() != base::Code::kUnavailable) {
      return false;
    }
  }
  c.out.insert(c.out.end(), framed + written, framed + 2 + size);
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
    const bool idle = it->second->forwards == 0 && now - it->second->last_progress >= options_.tcp_idle_timeout;
    ++it;
    if (idle) {
      ++counters_.tcp_idle_closed;
      tcp_close(id);
    }
  }
  arm_sweep();
}

}  // namespace dns
