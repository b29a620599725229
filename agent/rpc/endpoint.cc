#include "agent/rpc/endpoint.h"

#include <algorithm>

#include <utility>

namespace rpc {

namespace {
constexpr std::string_view kModule = "rpc";
// Bytes read from one socket per readiness event (in 16 KiB reads): a busy peer cannot starve
// the others; level-triggered polling brings us back for the rest.
constexpr size_t kReadChunk = 16 * 1024;
constexpr int kReadsPerEvent = 16;
constexpr int kAcceptsPerEvent = 64;
}  // namespace

Endpoint::Endpoint(runtime::Loop& loop, hal::Net& net, const hal::tls::TlsConfig* server_tls,
                   const hal::tls::TlsConfig* client_tls, std::string server_name, base::Logger& log,
                   EndpointOptions options)
    : loop_(loop),
      net_(net),
      server_tls_(server_tls),
      client_tls_(client_tls),
      server_name_(std::move(server_name)),
      log_(log),
      options_(options) {}

Endpoint::~Endpoint() {
  *alive_ = false;
  close();
}

void Endpoint::close() {
  if (listener_ != hal::kInvalidHandle) {
    loop_.unwatch(listener_);
    net_.close(listener_);
    listener_ = hal::kInvalidHandle;
  }
  while (!conns_.empty()) fail(*conns_.begin()->second, base::error(base::Code::kUnavailable, "RPC endpoint closed"));
  if (sweep_timer_ != runtime::kNoTimer) loop_.cancel(sweep_timer_);
  sweep_timer_ = runtime::kNoTimer;
}

base::Status Endpoint::listen(const hal::SockAddr& addr) {
  AGENT_ASSERT(server_tls_ != nullptr && listener_ == hal::kInvalidHandle);
  AGENT_ASSIGN_OR_RETURN(listener_, net_.listen(addr, hal::ListenOptions{}));
  base::Status s = loop_.watch(listener_, hal::kReadable, [this](uint8_t) { on_accept(); });
  if (!s.is_ok()) {
    net_.close(listener_);
    listener_ = hal::kInvalidHandle;
  }
  return s;
}

base::Result<hal::SockAddr> Endpoint::listen_addr() const {
  if (listener_ == hal::kInvalidHandle) return base::error(base::Code::kFailedPrecondition, "not listening");
  return net_.local_addr(listener_);
}

void Endpoint::add_method(std::string name, Method method) {
  AGENT_ASSERT(methods_.count(name) == 0);
  methods_.emplace(std::move(name), std::move(method));
}

Endpoint::Conn* Endpoint::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void Endpoint::post_reply(Reply done, base::Result<std::string> result) {
  auto r = std::make_shared<base::Result<std::string>>(std::move(result));
  auto armed = loop_.arm(loop_.now(), [done = std::move(done), r]() mutable { done(std::move(*r)); });
  // The loop's timer table is full only through a bug elsewhere (LoopLimits::timers_max).
  if (!armed.is_ok()) AGENT_LOG_ERROR(log_, kModule, "timer table full: an RPC reply is lost");
}

void Endpoint::on_accept() {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    hal::SockAddr peer;
    auto h = net_.accept(listener_, &peer);
    if (!h.is_ok()) return;  // kUnavailable: no more pending; other errors: try next event
    if (conns_.size() >= options_.connections_max) {
      ++counters_.refused;
      net_.close(*h);
      continue;
    }
    auto session = hal::tls::Session::server(*server_tls_);
    if (!session.is_ok()) {
      net_.close(*h);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->handle = *h;
    c->peer = peer;
    c->rpc = std::make_unique<Connection>(Connection::server(std::move(session).value(), options_.limits));
    uint64_t id = c->id;
    base::Status s = loop_.watch(*h, hal::kReadable, [this, id](uint8_t ready) { on_io(id, ready); });
    if (!s.is_ok()) {
      net_.close(*h);
      continue;
    }
    ++counters_.accepted;
    conns_.emplace(id, std::move(c));
  }
}

void Endpoint::call(const hal::SockAddr& to, std::string_view method, std::string body, base::Duration timeout, Reply done) {
  ++counters_.calls_out;
  base::MonoTime now = loop_.now();
  std::string key = to.to_string();
  if (client_tls_ == nullptr) {
    post_reply(std::move(done), base::error(base::Code::kFailedPrecondition, "this agent has no RPC client identity"));
    return;
  }
  Conn* c = nullptr;
  auto it = by_peer_.find(key);
  if (it != by_peer_.end()) c = find(it->second);
  if (c == nullptr) {
    auto b = backoff_until_.find(key);
    if (b != backoff_until_.end()) {
      if (now < b->second) {
        post_reply(std::move(done), base::error(base::Code::kUnavailable, "%s: unreachable (recent dial failed)", key.c_str()));
        return;
      }
      backoff_until_.erase(b);
    }
    ++counters_.dials;
    auto h = net_.connect(to);
    if (!h.is_ok()) {
      ++counters_.dial_failures;
      backoff_until_[key] = now + options_.redial_backoff;
      post_reply(std::move(done), base::error(base::Code::kUnavailable, "%s: %s", key.c_str(), h.status().message().c_str()));
      return;
    }
    auto conn = std::make_unique<Conn>();
    conn->id = next_id_++;
    conn->handle = *h;
    conn->outbound = true;
    conn->connecting = true;
    conn->peer = to;
    conn->deadline = now + options_.connect_timeout;
    uint64_t id = conn->id;
    base::Status s = loop_.watch(*h, hal::kWritable, [this, id](uint8_t ready) { on_io(id, ready); });
    if (!s.is_ok()) {
      net_.close(*h);
      post_reply(std::move(done), s);
      return;
    }
    c = conn.get();
    by_peer_[key] = id;
    conns_.emplace(id, std::move(conn));
  }
  base::MonoTime deadline = now + timeout;
  if (c->rpc == nullptr || !c->rpc->ready()) {
    if (c->queued.size() >= options_.queued_calls_max) {
      post_reply(std::move(done), base::error(base::Code::kResourceExhausted, "%s: too many calls waiting for the connection", key.c_str()));
      return;
    }
    c->queued.push_back(Queued{std::string(method), std::move(body), deadline, std::move(done)});
  } else {
    auto call_id = c->rpc->call(method, base::as_bytes(body));
    if (!call_id.is_ok()) {
      post_reply(std::move(done), call_id.status());
      return;
    }
    c->calls.emplace(*call_id, Pending{deadline, std::move(done)});
    flush_soon(c->id);
  }
  if (sweep_timer_ == runtime::kNoTimer) {
    auto t = loop_.arm_after(options_.sweep_interval, [this] {
      sweep_timer_ = runtime::kNoTimer;
      sweep();
    });
    if (t.is_ok()) sweep_timer_ = *t;
  }
}

void Endpoint::start_session(Conn& c) {
  auto session = hal::tls::Session::client(*client_tls_, server_name_);
  if (!session.is_ok()) {
    fail(c, session.status());
    return;
  }
  c.rpc = std::make_unique<Connection>(Connection::client(std::move(session).value(), options_.limits));
}

void Endpoint::on_io(uint64_t id, uint8_t ready) {
  Conn* c = find(id);
  if (c == nullptr) return;
  if (c->connecting) {
    base::Status s = net_.connect_result(c->handle);
    if (!s.is_ok()) {
      ++counters_.dial_failures;
      backoff_until_[c->peer.to_string()] = loop_.now() + options_.redial_backoff;
      fail(*c, base::error(base::Code::kUnavailable, "%s: %s", c->peer.to_string().c_str(), s.message().c_str()));
      return;
    }
    c->connecting = false;
    start_session(*c);
    c = find(id);
    if (c == nullptr) return;
    flush(*c);
    return;
  }
  if ((ready & (hal::kReadable | hal::kHangup | hal::kError)) != 0) {
    read_some(*c);
    c = find(id);
    if (c == nullptr) return;
  }
  if ((ready & hal::kWritable) != 0) flush(*c);
}

void Endpoint::read_some(Conn& c) {
  uint64_t id = c.id;
  uint8_t buf[kReadChunk];
  for (int i = 0; i < kReadsPerEvent; ++i) {
    Conn* cp = find(id);
    if (cp == nullptr) return;
    auto n = net_.read(cp->handle, std::span<uint8_t>(buf, sizeof buf));
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kUnavailable) return;
      ++counters_.connection_errors;
      fail(*cp, base::error(base::Code::kUnavailable, "%s: %s", cp->peer.to_string().c_str(), n.status().message().c_str()));
      return;
    }
    if (*n == 0) {
      fail(*cp, base::error(base::Code::kUnavailable, "%s closed the connection", cp->peer.to_string().c_str()));
      return;
    }
    std::vector<Event> events;
    bool was_ready = cp->rpc->ready();
    base::Status s = cp->rpc->on_ciphertext(base::ByteSpan(buf, *n), &events);
    handle_events(*cp, events);
    cp = find(id);
    if (cp == nullptr) return;
    if (!s.is_ok()) {
      ++counters_.connection_errors;
      AGENT_LOG_WARN(log_, kModule, "connection %s %s: %s", cp->outbound ? "to" : "from",
                     cp->peer.to_string().c_str(), s.message().c_str());
      flush(*cp);  // a TLS alert, if any
      cp = find(id);
      if (cp != nullptr) fail(*cp, base::error(base::Code::kUnavailable, "%s: %s", cp->peer.to_string().c_str(), s.message().c_str()));
      return;
    }
    if (!was_ready && cp->rpc->ready()) flush_queued(*cp);
    cp = find(id);
    if (cp == nullptr) return;
    flush(*cp);
  }
}

void Endpoint::flush_queued(Conn& c) {
  std::vector<Queued> queued = std::move(c.queued);
  c.queued.clear();
  for (auto& q : queued) {
    auto call_id = c.rpc->call(q.method, base::as_bytes(q.body));
    if (!call_id.is_ok()) {
      post_reply(std::move(q.done), call_id.status());
      continue;
    }
    c.calls.emplace(*call_id, Pending{q.deadline, std::move(q.done)});
  }
}

void Endpoint::handle_events(Conn& c, std::vector<Event>& events) {
  uint64_t id = c.id;
  for (auto& e : events) {
    Conn* cp = find(id);
    if (cp == nullptr) return;
    switch (e.kind) {
      case Event::Kind::kResponse:
      case Event::Kind::kError: {
        if (e.kind == Event::Kind::kResponse && e.more) break;  // streamed chunks: not used yet
        auto it = cp->calls.find(e.call_id);
        if (it == cp->calls.end()) break;
        Reply done = std::move(it->second.done);
        cp->calls.erase(it);
        if (e.kind == Event::Kind::kError) {
          done(e.error);
        } else {
          done(std::move(e.body));
        }
        break;
      }
      case Event::Kind::kRequest: {
        ++counters_.calls_in;
        auto m = methods_.find(e.method);
        if (m == methods_.end()) {
          ++counters_.unknown_methods;
          (void)cp->rpc->fail(e.call_id, base::error(base::Code::kNotFound, "no RPC method %s", e.method.c_str()));
          break;
        }
        cp->serving[e.call_id] = true;
        std::weak_ptr<bool> alive = alive_;
        uint32_t call_id = e.call_id;
        auto answered = std::make_shared<bool>(false);
        Respond respond = [this, alive, id, call_id, answered](base::Result<std::string> r) {
          if (alive.expired() || *answered) return;
          *answered = true;
          Conn* conn = find(id);
          if (conn == nullptr) return;
          auto s = conn->serving.find(call_id);
          if (s == conn->serving.end()) return;  // cancelled
          conn->serving.erase(s);
          if (r.is_ok()) {
            base::Status st = conn->rpc->respond(call_id, base::as_bytes(*r));
            if (!st.is_ok()) (void)conn->rpc->fail(call_id, st);
          } else {
            (void)conn->rpc->fail(call_id, r.status());
          }
          flush_soon(id);
        };
        m->second(std::move(e.body), cp->rpc->peer_subject(), std::move(respond));
        break;
      }
      case Event::Kind::kCancel:
        cp->serving.erase(e.call_id);
        break;
    }
  }
}

void Endpoint::flush_soon(uint64_t id) {
  flush_soon_.push_back(id);
  if (flush_posted_) return;
  std::weak_ptr<bool> alive = alive_;
  base::Status s = loop_.post([this, alive] {
    if (alive.expired()) return;
    flush_posted_ = false;
    // Swapped, not moved: both vectors keep their capacity, so a steady pass allocates nothing.
    flushing_.swap(flush_soon_);
    std::sort(flushing_.begin(), flushing_.end());
    flushing_.erase(std::unique(flushing_.begin(), flushing_.end()), flushing_.end());
    for (uint64_t i : flushing_) {
      Conn* c = find(i);
      if (c != nullptr) flush(*c);
    }
    flushing_.clear();
  });
  if (s.is_ok()) {
    flush_posted_ = true;
  } else {
    flush_soon_.pop_back();
    Conn* c = find(id);
    if (c != nullptr) flush(*c);
  }
}

void Endpoint::flush(Conn& c) {
  if (c.connecting || c.rpc == nullptr) return;
  if (c.rpc->has_output()) {
    c.out += c.rpc->take_output();
    if (c.rpc->failed()) {
      // Encrypting the frames failed (the session is broken): send what TLS produced (an alert,
      // if any) and fail the connection's calls.
      (void)net_.write(c.handle, base::as_bytes(c.out));
      ++counters_.connection_errors;
      fail(c, base::error(base::Code::kUnavailable, "%s: %s", c.peer.to_string().c_str(), c.rpc->error().message().c_str()));
      return;
    }
  }
  while (!c.out.empty()) {
    auto n = net_.write(c.handle, base::as_bytes(c.out));
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kUnavailable) break;
      ++counters_.connection_errors;
      fail(c, base::error(base::Code::kUnavailable, "%s: %s", c.peer.to_string().c_str(), n.status().message().c_str()));
      return;
    }
    c.out.erase(0, *n);
  }
  update_interest(c);
}

void Endpoint::update_interest(Conn& c) {
  uint8_t interest = hal::kReadable;
  if (!c.out.empty()) interest |= hal::kWritable;
  (void)loop_.set_interest(c.handle, interest);
}

void Endpoint::fail(Conn& c, const base::Status& why) {
  uint64_t id = c.id;
  std::vector<Reply> replies;
  for (auto& [cid, p] : c.calls) replies.push_back(std::move(p.done));
  for (auto& q : c.queued) replies.push_back(std::move(q.done));
  loop_.unwatch(c.handle);
  net_.close(c.handle);
  if (c.outbound) {
    auto it = by_peer_.find(c.peer.to_string());
    if (it != by_peer_.end() && it->second == id) by_peer_.erase(it);
  }
  conns_.erase(id);  // `c` is gone
  for (auto& r : replies) r(why);
}

void Endpoint::sweep() {
  base::MonoTime now = loop_.now();
  bool busy = false;
  std::vector<uint64_t> ids;
  for (auto& [id, c] : conns_) ids.push_back(id);
  for (uint64_t id : ids) {
    Conn* c = find(id);
    if (c == nullptr) continue;
    if (c->outbound && (c->rpc == nullptr || !c->rpc->ready()) && c->deadline <= now) {
      ++counters_.timeouts;
      backoff_until_[c->peer.to_string()] = now + options_.redial_backoff;
      fail(*c, base::error(base::Code::kUnavailable, "%s: connecting timed out", c->peer.to_string().c_str()));
      continue;
    }
    std::vector<Reply> expired;
    for (auto it = c->calls.begin(); it != c->calls.end();) {
      if (it->second.deadline <= now) {
        (void)c->rpc->cancel(it->first);
        expired.push_back(std::move(it->second.done));
        it = c->calls.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = c->queued.begin(); it != c->queued.end();) {
      if (it->deadline <= now) {
        expired.push_back(std::move(it->done));
        it = c->queued.erase(it);
      } else {
        ++it;
      }
    }
    if (!c->calls.empty() || !c->queued.empty() || (c->outbound && (c->rpc == nullptr || !c->rpc->ready()))) busy = true;
    if (!expired.empty()) flush(*c);
    counters_.timeouts += expired.size();
    for (auto& r : expired) r(base::error(base::Code::kTimeout, "RPC timed out"));
  }
  if (busy && sweep_timer_ == runtime::kNoTimer) {
    auto t = loop_.arm_after(options_.sweep_interval, [this] {
      sweep_timer_ = runtime::kNoTimer;
      sweep();
    });
    if (t.is_ok()) sweep_timer_ = *t;
  }
}

}  // namespace rpc
