// The gossip transport (transport.h): sockets, frames, timers and the envelope around the core.
#include "agent/gossip/transport.h"

#include <algorithm>

#include "agent/base/assert.h"
#include "hal/poller.h"

namespace gossip {

namespace {
// Datagrams held for test_processing_delay at most (like a socket's receive buffer).
constexpr size_t kDelayedMax = 4096;
constexpr size_t kFrameHeaderBytes = 4;

bool unspecified(const hal::SockAddr& a) {
  for (uint8_t b : a.ip) {
    if (b != 0) return false;
  }
  return true;
}
}  // namespace

struct Transport::Stream {
  hal::Handle h = hal::kInvalidHandle;
  bool outbound = false;
  bool connecting = false;
  hal::SockAddr peer;
  std::string out;  // the frame to write (header + payload)
  size_t out_off = 0;
  std::string in;   // bytes read so far (header + payload)
  bool have_frame = false;
  runtime::TimerId timer = runtime::kNoTimer;
};

Transport::Transport(hal::Env& env, runtime::Loop& loop, TransportConfig config)
    : env_(env), loop_(loop), config_(std::move(config)) {}

Transport::~Transport() {
  if (timer_ != runtime::kNoTimer) loop_.cancel(timer_);
  if (leave_timer_ != runtime::kNoTimer) loop_.cancel(leave_timer_);
  for (auto& [h, s] : streams_) {
    if (s->timer != runtime::kNoTimer) loop_.cancel(s->timer);
    loop_.unwatch(h);
    env_.net->close(h);
  }
  streams_.clear();
  if (udp_ != hal::kInvalidHandle) {
    loop_.unwatch(udp_);
    env_.net->close(udp_);
  }
  if (listener_ != hal::kInvalidHandle) {
    loop_.unwatch(listener_);
    env_.net->close(listener_);
  }
}

base::Status Transport::start(const hal::SockAddr& bind, const hal::SockAddr& advertise) {
  if (swim_) return base::error(base::Code::kFailedPrecondition, "gossip: already started");
  SwimConfig sc = config_.use_custom_swim ? config_.swim : profile_config(config_.profile);
  const size_t overhead = sealer_ != nullptr ? crypto::kEnvelopeOverheadBytesMax : 0;
  if (config_.packet_bytes_max < 256 + overhead || config_.packet_bytes_max > wire::kDatagramBytesMax) {
    return base::error(base::Code::kInvalidArgument, "gossip: packet_bytes_max out of range");
  }
  sc.packet_bytes_max = config_.packet_bytes_max - overhead;
  AGENT_TRY(sc.validate());
  if (config_.streams_max == 0 || config_.datagrams_per_wakeup_max == 0 || config_.datagram_buffer_bytes < 512) {
    return base::error(base::Code::kInvalidArgument, "gossip: transport limits out of range");
  }

  AGENT_ASSIGN_OR_RETURN(hal::Handle udp, env_.net->udp_open(bind));
  auto local = env_.net->local_addr(udp);
  if (!local.is_ok()) {
    env_.net->close(udp);
    return local.status();
  }
  hal::SockAddr tcp_bind = bind;
  tcp_bind.port = local->port;
  auto listener = env_.net->listen(tcp_bind, hal::ListenOptions{});
  if (!listener.is_ok()) {
    env_.net->close(udp);
    return listener.status();
  }
  hal::SockAddr adv = advertise;
  if (adv.port == 0) adv.port = local->port;
  SwimIdentity id;
  id.name = config_.name;
  id.advertise = adv;
  id.tags = config_.tags;
  id.generation = config_.generation;
  base::Status st = Swim::validate_identity(id);
  if (st.is_ok() && unspecified(adv)) {
    st = base::error(base::Code::kInvalidArgument, "gossip: advertise address %s is unspecified", adv.to_string().c_str());
  }
  if (!st.is_ok()) {
    env_.net->close(udp);
    env_.net->close(*listener);
    return st;
  }
  udp_ = udp;
  listener_ = *listener;
  bound_ = *local;
  uint8_t seed_bytes[8];
  AGENT_TRY(env_.entropy->fill(seed_bytes));
  uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed |= uint64_t{seed_bytes[i]} << (8 * i);
  rx_.resize(config_.datagram_buffer_bytes);
  swim_ = std::make_unique<Swim>(sc, std::move(id), seed, loop_.now());
  AGENT_TRY(loop_.watch(udp_, hal::kReadable, [this](uint8_t) { on_udp_readable(); }));
  AGENT_TRY(loop_.watch(listener_, hal::kReadable, [this](uint8_t) { on_accept(); }));
  flush();
  return base::Status::ok();
}

base::Status Transport::join(std::span<const hal::SockAddr> addrs, bool ignore_old_events) {
  if (!swim_) return base::error(base::Code::kFailedPrecondition, "gossip: not started");
  base::Status st = swim_->join(addrs, loop_.now(), ignore_old_events);
  flush();
  return st;
}

base::Status Transport::leave(base::Duration timeout, std::function<void(base::Status)> done) {
  if (!swim_) return base::error(base::Code::kFailedPrecondition, "gossip: not started");
  AGENT_TRY(swim_->leave(loop_.now()));
  leave_done_ = std::move(done);
  auto t = loop_.arm_after(timeout, [this] {
    leave_timer_ = runtime::kNoTimer;
    if (leave_done_) {
      auto cb = std::move(leave_done_);
      leave_done_ = nullptr;
      cb(base::error(base::Code::kTimeout, "gossip: leave notice not fully sent before the timeout"));
    }
  });
  if (t.is_ok()) leave_timer_ = *t;
  flush();
  return base::Status::ok();
}

base::Status Transport::set_tags(Tags tags) {
  if (!swim_) {
    config_.tags = std::move(tags);
    return base::Status::ok();
  }
  base::Status st = swim_->set_tags(std::move(tags), loop_.now());
  flush();
  return st;
}

base::Status Transport::send_user_event(std::string_view name, std::string_view payload) {
  if (!swim_) return base::error(base::Code::kFailedPrecondition, "gossip: not started");
  base::Status st = swim_->send_user_event(name, payload, loop_.now());
  flush();
  return st;
}

base::Status Transport::force_leave(std::string_view name) {
  if (!swim_) return base::error(base::Code::kFailedPrecondition, "gossip: not started");
  base::Status st = swim_->force_leave(name, loop_.now());
  flush();
  return st;
}

std::vector<Member> Transport::members() const { return swim_ ? swim_->members() : std::vector<Member>{}; }

const std::deque<ReceivedUserEvent>& Transport::recent_user_events() const {
  static const std::deque<ReceivedUserEvent> kNone;
  return swim_ ? swim_->recent_events() : kNone;
}

uint32_t Transport::health_score() const { return swim_ ? swim_->health_score() : 0; }
uint64_t Transport::incarnation() const { return swim_ ? swim_->incarnation() : 0; }

const SwimCounters& Transport::swim_counters() const {
  static const SwimCounters kNone;
  return swim_ ? swim_->counters() : kNone;
}

// --- UDP ------------------------------------------------------------------------------------------

void Transport::on_udp_readable() {
  for (size_t i = 0; i < config_.datagrams_per_wakeup_max; ++i) {
    hal::SockAddr from;
    auto n = env_.net->udp_recv(udp_, std::span<uint8_t>(rx_.data(), rx_.size()), &from);
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kResourceExhausted) {
        ++counters_.datagrams_oversized;
        continue;
      }
      break;  // would block (or a transient error: the next readiness tries again)
    }
    ++counters_.datagrams_received;
    base::ByteSpan packet(rx_.data(), *n);
    base::ByteSpan plain = packet;
    if (sealer_ != nullptr) {
      const crypto::DropReason why = sealer_->open(crypto::EnvelopeKind::kDatagram, packet, loop_.now(), &scratch_);
      if (why != crypto::DropReason::kNone) {
        ++counters_.envelope_dropped[static_cast<size_t>(why)];
        continue;
      }
      plain = base::as_bytes(scratch_);
    }
    if (plain.size() > config_.packet_bytes_max) {
      ++counters_.datagrams_oversized;
      continue;
    }
    if (config_.test_processing_delay > base::Duration::zero()) {
      if (delayed_.size() >= kDelayedMax) continue;
      delayed_.push_back(Delayed{loop_.now() + config_.test_processing_delay, from, std::string(base::as_chars(plain))});
      continue;
    }
    swim_->on_datagram(from, plain, loop_.now());
  }
  flush();
}

// --- TCP push-pull --------------------------------------------------------------------------------

base::Status Transport::seal_frame(base::ByteSpan plain, std::string* out) {
  out->clear();
  out->append(kFrameHeaderBytes, '\0');
  if (sealer_ != nullptr) {
    std::string sealed;
    AGENT_TRY(sealer_->seal(crypto::EnvelopeKind::kStream, plain, loop_.now(), &sealed));
    out->append(sealed);
  } else {
    out->append(base::as_chars(plain));
  }
  const size_t len = out->size() - kFrameHeaderBytes;
  if (len > config_.frame_bytes_max) {
    ++counters_.frames_oversized;
    return base::error(base::Code::kResourceExhausted, "gossip: push-pull frame of %zu bytes", len);
  }
  for (size_t i = 0; i < 4; ++i) (*out)[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return base::Status::ok();
}

void Transport::on_accept() {
  for (size_t i = 0; i < 16; ++i) {
    hal::SockAddr peer;
    auto h = env_.net->accept(listener_, &peer);
    if (!h.is_ok()) break;
    if (streams_.size() >= config_.streams_max) {
      ++counters_.streams_refused;
      env_.net->close(*h);
      continue;
    }
    ++counters_.streams_accepted;
    auto s = std::make_unique<Stream>();
    s->h = *h;
    s->peer = peer;
    const hal::Handle hh = *h;
    if (!loop_.watch(hh, hal::kReadable, [this, hh](uint8_t r) { on_stream_io(hh, r); }).is_ok()) {
      env_.net->close(hh);
      ++counters_.streams_failed;
      continue;
    }
    auto t = loop_.arm_after(swim_->config().stream_timeout, [this, hh] { stream_timeout(hh); });
    if (t.is_ok()) s->timer = *t;
    streams_.emplace(hh, std::move(s));
  }
}

void Transport::open_stream(const PushPullOpen& open) {
  if (streams_.size() >= config_.streams_max) {
    ++counters_.streams_refused;
    swim_->on_push_pull_failed(open.to, loop_.now());
    return;
  }
  auto s = std::make_unique<Stream>();
  s->outbound = true;
  s->connecting = true;
  s->peer = open.to;
  if (!seal_frame(base::as_bytes(open.request), &s->out).is_ok()) {
    ++counters_.streams_failed;
    swim_->on_push_pull_failed(open.to, loop_.now());
    return;
  }
  auto h = env_.net->connect(open.to);
  if (!h.is_ok()) {
    ++counters_.streams_failed;
    swim_->on_push_pull_failed(open.to, loop_.now());
    return;
  }
  ++counters_.streams_opened;
  const hal::Handle hh = *h;
  s->h = hh;
  if (!loop_.watch(hh, hal::kWritable, [this, hh](uint8_t r) { on_stream_io(hh, r); }).is_ok()) {
    env_.net->close(hh);
    ++counters_.streams_failed;
    swim_->on_push_pull_failed(open.to, loop_.now());
    return;
  }
  auto t = loop_.arm_after(swim_->config().stream_timeout, [this, hh] { stream_timeout(hh); });
  if (t.is_ok()) s->timer = *t;
  streams_.emplace(hh, std::move(s));
}

void Transport::stream_timeout(hal::Handle h) {
  auto it = streams_.find(h);
  if (it == streams_.end()) return;
  it->second->timer = runtime::kNoTimer;
  ++counters_.streams_timed_out;
  close_stream(h, true);
  flush();
}

void Transport::on_stream_io(hal::Handle h, uint8_t ready) {
  auto it = streams_.find(h);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  if (s.connecting) {
    if (!(ready & (hal::kWritable | hal::kHangup | hal::kError))) return;
    if (!env_.net->connect_result(h).is_ok()) {
      ++counters_.streams_failed;
      close_stream(h, true);
      flush();
      return;
    }
    s.connecting = false;
  }
  if (s.out_off < s.out.size()) {
    stream_write(s);
  } else {
    stream_read(s);
  }
  flush();
}

void Transport::stream_write(Stream& s) {
  const hal::Handle h = s.h;
  while (s.out_off < s.out.size()) {
    auto n = env_.net->write(h, base::as_bytes(std::string_view(s.out).substr(s.out_off)));
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kUnavailable) return;  // wait for writable
      ++counters_.streams_failed;
      close_stream(h, true);
      return;
    }
    s.out_off += *n;
  }
  if (!s.outbound) {
    // The reply is written: done. (Closing right after the last write is fine for TCP: the data
    // already handed to the stack is delivered before the FIN.)
    close_stream(h, false);
    return;
  }
  // The request is out; now wait for the reply.
  if (!loop_.set_interest(h, hal::kReadable).is_ok()) close_stream(h, true);
}

void Transport::stream_read(Stream& s) {
  const hal::Handle h = s.h;
  uint8_t buf[16384];
  for (int i = 0; i < 64; ++i) {
    auto n = env_.net->read(h, std::span<uint8_t>(buf, sizeof buf));
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kUnavailable) return;
      ++counters_.streams_failed;
      close_stream(h, true);
      return;
    }
    if (*n == 0) {  // EOF before a whole frame
      ++counters_.streams_failed;
      close_stream(h, true);
      return;
    }
    s.in.append(reinterpret_cast<const char*>(buf), *n);
    if (s.in.size() >= kFrameHeaderBytes) {
      size_t len = 0;
      for (size_t k = 0; k < 4; ++k) len |= size_t{static_cast<uint8_t>(s.in[k])} << (8 * k);
      if (len > config_.frame_bytes_max) {
        ++counters_.frames_oversized;
        close_stream(h, true);
        return;
      }
      if (s.in.size() > kFrameHeaderBytes + len) {  // bytes past the one frame we expect
        ++counters_.streams_failed;
        close_stream(h, true);
        return;
      }
      if (s.in.size() == kFrameHeaderBytes + len) {
        stream_got_frame(s);
        return;
      }
    }
  }
}

void Transport::stream_got_frame(Stream& s) {
  const hal::Handle h = s.h;
  base::ByteSpan frame = base::as_bytes(std::string_view(s.in).substr(kFrameHeaderBytes));
  std::string plain_buf;
  base::ByteSpan plain = frame;
  if (sealer_ != nullptr) {
    const crypto::DropReason why = sealer_->open(crypto::EnvelopeKind::kStream, frame, loop_.now(), &plain_buf);
    if (why != crypto::DropReason::kNone) {
      ++counters_.envelope_dropped[static_cast<size_t>(why)];
      close_stream(h, true);
      return;
    }
    plain = base::as_bytes(plain_buf);
  }
  if (s.outbound) {
    swim_->on_push_pull_reply(s.peer, plain, loop_.now());
    s.outbound = false;  // reported to the core: closing is no failure
    close_stream(h, false);
    return;
  }
  auto reply = swim_->on_push_pull(s.peer, plain, loop_.now());
  if (!reply.is_ok()) {
    ++counters_.frames_rejected;
    close_stream(h, true);
    return;
  }
  if (!seal_frame(base::as_bytes(*reply), &s.out).is_ok()) {
    close_stream(h, true);
    return;
  }
  s.out_off = 0;
  if (!loop_.set_interest(h, hal::kWritable).is_ok()) {
    close_stream(h, true);
    return;
  }
  stream_write(s);
}

void Transport::close_stream(hal::Handle h, bool failed) {
  auto it = streams_.find(h);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  if (s->timer != runtime::kNoTimer) loop_.cancel(s->timer);
  loop_.unwatch(h);
  env_.net->close(h);
  // An outbound exchange that did not deliver its reply to the core is a failure for it.
  if (s->outbound && swim_) swim_->on_push_pull_failed(s->peer, loop_.now());
  (void)failed;
}

// --- effects and timers ---------------------------------------------------------------------------

void Transport::flush() {
  if (in_flush_ || !swim_) return;
  in_flush_ = true;
  for (int round = 0; round < 16 && !swim_->effects().empty(); ++round) {
    Effects fx = swim_->take_effects();
    for (const auto& d : fx.datagrams) {
      base::ByteSpan out = base::as_bytes(d.bytes);
      if (sealer_ != nullptr) {
        sealed_.clear();  // seal() appends
        if (!sealer_->seal(crypto::EnvelopeKind::kDatagram, out, loop_.now(), &sealed_).is_ok()) {
          ++counters_.datagrams_seal_failed;
          continue;
        }
        out = base::as_bytes(sealed_);
      }
      if (out.size() > config_.packet_bytes_max) {
        ++counters_.datagrams_oversized;
        continue;
      }
      auto n = env_.net->udp_send(udp_, d.to, out);
      if (n.is_ok()) ++counters_.datagrams_sent;
      else ++counters_.datagrams_send_failed;
    }
    for (const auto& p : fx.push_pulls) open_stream(p);
    for (const auto& e : fx.member_events) {
      if (member_cb_) member_cb_(e);
    }
    for (const auto& e : fx.user_events) {
      if (user_cb_) user_cb_(e);
    }
  }
  in_flush_ = false;
  check_leave();
  arm_timer();
}

void Transport::check_leave() {
  if (!leave_done_ || !swim_->leave_done()) return;
  if (leave_timer_ != runtime::kNoTimer) {
    loop_.cancel(leave_timer_);
    leave_timer_ = runtime::kNoTimer;
  }
  auto cb = std::move(leave_done_);
  leave_done_ = nullptr;
  cb(base::Status::ok());
}

void Transport::arm_timer() {
  base::MonoTime at = swim_->next_deadline();
  if (!delayed_.empty()) at = std::min(at, delayed_.front().due);
  if (timer_ != runtime::kNoTimer && timer_at_ == at) return;
  if (timer_ != runtime::kNoTimer) loop_.cancel(timer_);
  timer_ = runtime::kNoTimer;
  if (at.is_never()) return;
  auto t = loop_.arm(at, [this] { on_timer(); });
  AGENT_ASSERT_MSG(t.is_ok(), "gossip: cannot arm the protocol timer");
  timer_ = *t;
  timer_at_ = at;
}

void Transport::on_timer() {
  timer_ = runtime::kNoTimer;
  const base::MonoTime now = loop_.now();
  while (!delayed_.empty() && delayed_.front().due <= now) {
    Delayed d = std::move(delayed_.front());
    delayed_.pop_front();
    swim_->on_datagram(d.from, base::as_bytes(d.bytes), now);
  }
  swim_->on_tick(now);
  flush();
}

}  // namespace gossip
