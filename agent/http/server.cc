// How this file is organised: Responder (a handle to one slot), then the Server's accept path,
// the per-connection read -> parse -> dispatch -> slot -> write pipeline, timers, and close.
// Every entry from the Loop (I/O, timer) or from a Responder goes through an Entry guard; a
// connection closed during an entry is only freed when the outermost entry returns.
#include "agent/http/server.h"

#include <deque>
#include <utility>

#include "agent/http/response_writer.h"

namespace http {

struct ServerLink {
  Server* server = nullptr;
};

struct Server::Slot {
  uint64_t seq = 0;
  bool done = false;
  bool keep_alive = true;
  bool http10 = false;
  bool head = false;
  std::string bytes;  // the serialized response once done
  std::function<void()> on_cancel;
};

struct Server::Connection {
  uint64_t id = 0;
  hal::Handle handle = hal::kInvalidHandle;
  RequestParser parser;
  // Received bytes not yet parsed: [in_begin, in_end) of a buffer of read_buffer_bytes.
  std::string in;
  size_t in_begin = 0;
  size_t in_end = 0;
  std::deque<Slot> slots;  // dispatched, not yet written; front is the oldest
  uint64_t next_seq = 0;
  std::string out;         // serialized bytes to write: [out_offset, out.size())
  size_t out_offset = 0;
  bool dead = false;
  bool processing = false;   // inside process(): completions do not re-enter it
  bool no_more_requests = false;  // a response closes the connection, or a parse error
  bool close_after_flush = false;
  bool peer_eof = false;
  bool lingering = false;
  bool continue_sent = false;
  bool any_request = false;  // a request was dispatched on this connection
  base::MonoTime head_started;   // when the current request's first byte (or the accept) came
  base::MonoTime last_activity;  // last read or write progress
  base::MonoTime linger_until;
  runtime::TimerId timer = runtime::kNoTimer;
  base::MonoTime timer_deadline = base::MonoTime::never();
  uint8_t interest = 0;

  explicit Connection(const ParserLimits& limits) : parser(limits) {}
  size_t out_pending() const { return out.size() - out_offset; }
};

// Guards one entry into the Server from the Loop or a Responder.
struct Server::Entry {
  explicit Entry(Server& s) : server(s) { ++server.depth_; }
  ~Entry() {
    if (--server.depth_ == 0) server.graveyard_.clear();
  }
  Server& server;
};

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

// --- Responder ----------------------------------------------------------------------------------

Responder::Responder(Responder&& o) noexcept
    : link_(std::move(o.link_)), detached_(std::move(o.detached_)), connection_id_(o.connection_id_), seq_(o.seq_) {
  o.link_ = nullptr;
  o.detached_ = nullptr;
}

Responder& Responder::operator=(Responder&& o) noexcept {
  if (this != &o) {
    if (pending()) send(Response::error(500, "handler dropped its response"));
    link_ = std::move(o.link_);
    o.link_ = nullptr;
    detached_ = std::move(o.detached_);
    o.detached_ = nullptr;
    connection_id_ = o.connection_id_;
    seq_ = o.seq_;
  }
  return *this;
}

Responder::~Responder() {
  if (pending()) send(Response::error(500, "handler dropped its response"));
}

Responder Responder::detached(std::shared_ptr<DetachedLink> link) {
  Responder r;
  r.detached_ = std::move(link);
  return r;
}

void Responder::send(Response response) {
  if (detached_) {
    std::shared_ptr<DetachedLink> d = std::move(detached_);
    detached_ = nullptr;
    if (d->finished) return;
    d->finished = true;
    d->on_cancel = nullptr;
    if (d->done) d->done(std::move(response));
    return;
  }
  if (!link_) return;
  std::shared_ptr<ServerLink> link = std::move(link_);
  link_ = nullptr;
  if (link->server != nullptr) link->server->complete(connection_id_, seq_, std::move(response));
}

bool Responder::connection_alive() const {
  if (detached_) return !detached_->finished;
  return link_ && link_->server != nullptr && link_->server->slot_waiting(connection_id_, seq_);
}

void Responder::on_cancel(std::function<void()> fn) {
  if (detached_) {
    if (!detached_->finished) detached_->on_cancel = std::move(fn);
    return;
  }
  if (link_ && link_->server != nullptr) link_->server->set_cancel(connection_id_, seq_, std::move(fn));
}

// --- Server: lifecycle and accept ------------------------------------------------------------

Server::Server(runtime::Loop& loop, hal::Net& net, hal::Clock& clock, Handler handler, ServerOptions options)
    : loop_(loop),
      net_(net),
      clock_(clock),
      handler_(std::move(handler)),
      options_(options),
      link_(std::make_shared<ServerLink>()) {
  AGENT_ASSERT(handler_);
  AGENT_ASSERT(options_.read_buffer_bytes > 0);
  AGENT_ASSERT(options_.pipeline_depth_max > 0);
  link_->server = this;
}

Server::~Server() {
  close();
  link_->server = nullptr;
}

base::Status Server::listen(const hal::SockAddr& addr, const hal::ListenOptions& options) {
  AGENT_ASSIGN_OR_RETURN(hal::Handle h, net_.listen(addr, options));
  base::Status st = loop_.watch(h, hal::kReadable, [this, h](uint8_t) { on_accept(h); });
  if (!st.is_ok()) {
    net_.close(h);
    return st;
  }
  listeners_.push_back(h);
  return base::Status::ok();
}

base::Result<hal::SockAddr> Server::listen_addr(size_t i) const {
  if (i >= listeners_.size()) return base::error(base::Code::kNotFound, "no listener %zu", i);
  return net_.local_addr(listeners_[i]);
}

void Server::close() {
  Entry entry(*this);
  for (hal::Handle h : listeners_) {
    loop_.unwatch(h);
    net_.close(h);
  }
  listeners_.clear();
  while (!connections_.empty()) kill(*connections_.begin()->second);
}

Server::Connection* Server::find(uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void Server::on_accept(hal::Handle listener) {
  Entry entry(*this);
  for (size_t i = 0; i < options_.accepts_per_wakeup_max; ++i) {
    hal::SockAddr peer;
    auto accepted = net_.accept(listener, &peer);
    if (!accepted.is_ok()) {
      if (accepted.status().code() != base::Code::kUnavailable) ++counters_.accept_errors;
      return;
    }
    hal::Handle h = accepted.value();
    if (connections_.size() >= options_.connections_max) {
      refuse(h);
      continue;
    }
    auto conn = std::make_unique<Connection>(options_.limits);
    Connection& c = *conn;
    c.id = next_connection_id_++;
    c.handle = h;
    c.head_started = loop_.now();
    c.last_activity = loop_.now();
    c.interest = hal::kReadable;
    uint64_t id = c.id;
    if (!loop_.watch(h, c.interest, [this, id](uint8_t ready) { on_io(id, ready); }).is_ok()) {
      refuse(h);
      continue;
    }
    connections_.emplace(id, std::move(conn));
    ++counters_.connections_accepted;
    counters_.connections_open = connections_.size();
    update_timer(c);
    if (c.dead) continue;
  }
}

void Server::refuse(hal::Handle h) {
  ++counters_.connections_refused;
  std::string bytes;
  write_response(Response::error(503, "too many connections"), ResponseFraming{.keep_alive = false}, date(),
                 &bytes);
  count_response(503);
  // One best-effort write: the socket's send buffer is empty, so it normally takes it all.
  (void)net_.write(h, base::as_bytes(bytes));
  net_.close(h);
}

// --- Server: the connection pipeline -----------------------------------------------------------

void Server::on_io(uint64_t id, uint8_t ready) {
  Entry entry(*this);
  Connection* c = find(id);
  if (c == nullptr) return;
  if (ready & hal::kReadable) {
    do_read(*c);
  } else if (ready & (hal::kHangup | hal::kError)) {
    // Not reading (paused or finished) and the peer is gone or the socket failed.
    kill(*c);
    return;
  }
  if (c->dead) return;
  if ((ready & hal::kWritable) && c->out_pending() > 0) process(*c);
}

void Server::do_read(Connection& c) {
  if (c.in.empty()) c.in.resize(options_.read_buffer_bytes);
  if (c.in_begin == c.in_end) {
    c.in_begin = c.in_end = 0;
  } else if (c.in_end == c.in.size() && c.in_begin > 0) {
    c.in.erase(0, c.in_begin);
    c.in.resize(options_.read_buffer_bytes);
    c.in_end -= c.in_begin;
    c.in_begin = 0;
  }
  if (c.in_end == c.in.size()) {
    // Full of unparsed bytes: only possible while paused; reading resumes once they are used.
    update_interest(c);
    return;
  }
  auto n = net_.read(c.handle, std::span<uint8_t>(reinterpret_cast<uint8_t*>(c.in.data()) + c.in_end,
                                                   c.in.size() - c.in_end));
  if (!n.is_ok()) {
    if (n.status().code() == base::Code::kUnavailable) return;
    kill(c);
    return;
  }
  if (*n == 0) {
    c.peer_eof = true;
    if (c.lingering) {
      kill(c);
      return;
    }
    // Answer the complete requests still buffered; a request cut off by EOF never completes.
    process(c);
    if (c.dead) return;
    // Deferred answers still pending are cancelled, as Go's server cancels a request's context
    // when its client goes: a blocking query must not hold a connection nobody reads. (A client
    // that only half-closed loses those answers; none of the API's clients does that.) Answers
    // already made are still written, then the connection closes.
    cancel_pending(c);
    if (c.dead) return;
    process(c);
    if (c.dead) return;
    maybe_finish(c);
    if (!c.dead) update_interest(c);
    return;
  }
  c.last_activity = loop_.now();
  if (c.lingering) {
    c.in_begin = c.in_end = 0;  // discarded
    return;
  }
  c.in_end += *n;
  process(c);
}

bool Server::paused(const Connection& c) const {
  return c.slots.size() >= options_.pipeline_depth_max || c.out_pending() > options_.write_buffer_bytes_high;
}

void Server::process(Connection& c) {
  if (c.processing || c.dead) return;
  c.processing = true;
  // Rounds: parse and dispatch until the pipeline is full, hand finished responses to the
  // output and write them, and go again while that made room. Every round either consumes
  // input or stops, and the input is at most read_buffer_bytes, so this ends.
  for (;;) {
    while (!c.dead && !c.no_more_requests && !paused(c)) {
      if (c.parser.complete()) {
        dispatch(c, c.parser.take());
        c.continue_sent = false;
        continue;
      }
      if (c.in_begin == c.in_end) break;
      bool was_started = c.parser.started();
      size_t used = c.parser.feed(std::string_view(c.in.data() + c.in_begin, c.in_end - c.in_begin));
      c.in_begin += used;
      if (!was_started && c.parser.started() && c.any_request) c.head_started = loop_.now();
      if (c.parser.failed()) {
        ++counters_.parse_errors;
        push_error(c, c.parser.error_status(), c.parser.error_reason());
        break;
      }
      if (!c.parser.complete()) break;  // needs more bytes
    }
    if (c.dead) return;
    maybe_send_continue(c);
    flush_slots(c);
    write_out(c);
    if (c.dead) return;
    bool more = c.parser.complete() || c.in_begin != c.in_end;
    if (c.no_more_requests || !more || paused(c)) break;
  }
  c.processing = false;
  if (c.no_more_requests || c.in_begin == c.in_end) c.in_begin = c.in_end = 0;
  maybe_finish(c);
  if (c.dead) return;
  update_interest(c);
  update_timer(c);
}

void Server::dispatch(Connection& c, Request request) {
  ++counters_.requests;
  c.any_request = true;
  Slot slot;
  slot.seq = c.next_seq++;
  slot.keep_alive = request.keep_alive;
  slot.http10 = request.version_minor == 0;
  slot.head = request.method == "HEAD";
  if (!request.keep_alive) c.no_more_requests = true;
  uint64_t seq = slot.seq;
  c.slots.push_back(std::move(slot));
  // The next request's header timer starts at its first byte.
  c.head_started = loop_.now();
  handler_(request, Responder(link_, c.id, seq));
}

void Server::push_error(Connection& c, int status, std::string_view reason) {
  Slot slot;
  slot.seq = c.next_seq++;
  slot.keep_alive = false;
  c.no_more_requests = true;
  c.slots.push_back(std::move(slot));
  complete(c.id, c.slots.back().seq, Response::error(status, reason));
}

void Server::complete(uint64_t connection_id, uint64_t seq, Response response) {
  Entry entry(*this);
  Connection* c = find(connection_id);
  if (c == nullptr || c->slots.empty()) return;
  uint64_t first = c->slots.front().seq;
  if (seq < first || seq - first >= c->slots.size()) return;
  Slot& slot = c->slots[seq - first];
  AGENT_ASSERT(!slot.done);
  ResponseFraming framing{.keep_alive = slot.keep_alive, .http10_client = slot.http10, .head_request = slot.head};
  counters_.invalid_response_fields += write_response(response, framing, date(), &slot.bytes);
  count_response(response.status);
  slot.done = true;
  slot.on_cancel = nullptr;
  // Inside process() (the handler answered at once) the round flushes it; otherwise flush,
  // write and resume parsing requests held back behind this one.
  process(*c);
}

void Server::cancel_pending(Connection& c) {
  size_t first_pending = 0;
  while (first_pending < c.slots.size() && c.slots[first_pending].done) ++first_pending;
  if (first_pending == c.slots.size()) return;
  std::vector<std::function<void()>> cancels;
  for (size_t i = first_pending; i < c.slots.size(); ++i) {
    if (!c.slots[i].done && c.slots[i].on_cancel) cancels.push_back(std::move(c.slots[i].on_cancel));
  }
  c.slots.erase(c.slots.begin() + static_cast<std::ptrdiff_t>(first_pending), c.slots.end());
  c.no_more_requests = true;
  c.close_after_flush = true;
  for (auto& fn : cancels) fn();
}

void Server::set_cancel(uint64_t connection_id, uint64_t seq, std::function<void()> fn) {
  Connection* c = find(connection_id);
  if (c == nullptr || c->slots.empty()) return;
  uint64_t first = c->slots.front().seq;
  if (seq < first || seq - first >= c->slots.size()) return;
  c->slots[seq - first].on_cancel = std::move(fn);
}

bool Server::slot_waiting(uint64_t connection_id, uint64_t seq) const {
  Connection* c = find(connection_id);
  if (c == nullptr || c->slots.empty()) return false;
  uint64_t first = c->slots.front().seq;
  return seq >= first && seq - first < c->slots.size() && !c->slots[seq - first].done;
}

void Server::flush_slots(Connection& c) {
  bool flushed = false;
  while (!c.slots.empty() && c.slots.front().done) {
    Slot& s = c.slots.front();
    if (c.out_offset == c.out.size()) {
      c.out.clear();
      c.out_offset = 0;
    }
    c.out.append(s.bytes);
    bool close = !s.keep_alive;
    c.slots.pop_front();
    flushed = true;
    if (close) {
      // Nothing after a closing response is ever sent; later slots cannot exist (parsing
      // stopped when this one was dispatched) but drop them defensively.
      c.close_after_flush = true;
      c.slots.clear();
      break;
    }
  }
  // An interim 100 Continue may now be in turn.
  if (flushed) maybe_send_continue(c);
}

void Server::maybe_send_continue(Connection& c) {
  if (c.continue_sent || c.no_more_requests || !c.slots.empty() || !c.parser.continue_expected()) return;
  if (c.out_offset == c.out.size()) {
    c.out.clear();
    c.out_offset = 0;
  }
  c.out.append(kContinue);
  c.continue_sent = true;
  count_response(100);
}

void Server::write_out(Connection& c) {
  while (c.out_pending() > 0) {
    auto n = net_.write(c.handle, base::as_bytes(std::string_view(c.out).substr(c.out_offset)));
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kUnavailable) break;
      kill(c);
      return;
    }
    if (*n == 0) break;
    c.out_offset += *n;
    c.last_activity = loop_.now();
  }
  if (c.out_pending() == 0) {
    c.out.clear();
    c.out_offset = 0;
  }
}

void Server::maybe_finish(Connection& c) {
  if (c.dead || c.lingering || c.out_pending() > 0 || !c.slots.empty()) return;
  if (c.close_after_flush) {
    if (c.peer_eof) {
      kill(c);
      return;
    }
    // Lingering close: stop sending, keep reading (and discarding) until the client closes or
    // linger_timeout passes, so our last response is not destroyed by a reset.
    net_.shutdown_write(c.handle);
    c.lingering = true;
    c.linger_until = loop_.now() + options_.linger_timeout;
    c.in_begin = c.in_end = 0;
    update_interest(c);
    update_timer(c);
    return;
  }
  if (c.peer_eof && !c.processing) {
    // The client is done sending and everything it asked for is answered.
    kill(c);
  }
}

void Server::update_interest(Connection& c) {
  if (c.dead) return;
  uint8_t want = 0;
  if (c.lingering) {
    want = hal::kReadable;
  } else {
    bool room = c.in.empty() || c.in_end < c.in.size() || c.in_begin > 0;
    if (!c.peer_eof && !c.no_more_requests && !paused(c) && room) want |= hal::kReadable;
    if (c.out_pending() > 0) want |= hal::kWritable;
  }
  if (want == c.interest) return;
  if (!loop_.set_interest(c.handle, want).is_ok()) {
    kill(c);
    return;
  }
  c.interest = want;
}

base::MonoTime Server::deadline(const Connection& c) const {
  if (c.lingering) return c.linger_until;
  if (c.out_pending() > 0) return c.last_activity + options_.idle_timeout;
  // The server owes a response the handler has not given yet: the handler owns that wait.
  if (!c.slots.empty()) return base::MonoTime::never();
  if (c.no_more_requests || c.peer_eof) return c.last_activity + options_.idle_timeout;
  if (!c.parser.head_complete() && (!c.any_request || c.parser.started())) {
    return c.head_started + options_.header_timeout;
  }
  return c.last_activity + options_.idle_timeout;
}

void Server::update_timer(Connection& c) {
  if (c.dead) return;
  base::MonoTime d = deadline(c);
  if (d.is_never()) {
    if (c.timer != runtime::kNoTimer) loop_.cancel(c.timer);
    c.timer = runtime::kNoTimer;
    c.timer_deadline = base::MonoTime::never();
    return;
  }
  // A later deadline keeps the armed timer: on_timer re-arms lazily when it fires early.
  if (c.timer != runtime::kNoTimer && c.timer_deadline <= d) return;
  if (c.timer != runtime::kNoTimer) loop_.cancel(c.timer);
  uint64_t id = c.id;
  auto t = loop_.arm(d, [this, id] { on_timer(id); });
  if (!t.is_ok()) {
    // Out of timers: a connection we cannot time out is one we must not keep.
    kill(c);
    return;
  }
  c.timer = t.value();
  c.timer_deadline = d;
}

void Server::on_timer(uint64_t id) {
  Entry entry(*this);
  Connection* cp = find(id);
  if (cp == nullptr) return;
  Connection& c = *cp;
  c.timer = runtime::kNoTimer;
  c.timer_deadline = base::MonoTime::never();
  base::MonoTime d = deadline(c);
  if (loop_.now() < d) {
    update_timer(c);
    return;
  }
  if (c.lingering || c.out_pending() > 0 || c.no_more_requests || c.peer_eof) {
    if (!c.lingering) ++counters_.idle_timeouts;
    kill(c);
    return;
  }
  bool in_head = !c.parser.head_complete() && (!c.any_request || c.parser.started());
  if (in_head) ++counters_.header_timeouts;
  else ++counters_.idle_timeouts;
  if (c.parser.started()) {
    // A request is half-way in: say why we give up on it (RFC 9110 §15.5.9).
    push_error(c, 408, in_head ? "timed out reading request headers" : "timed out reading request body");
    return;
  }
  kill(c);
}

void Server::kill(Connection& c) {
  if (c.dead) return;
  c.dead = true;
  if (c.timer != runtime::kNoTimer) loop_.cancel(c.timer);
  c.timer = runtime::kNoTimer;
  loop_.unwatch(c.handle);
  net_.close(c.handle);
  c.handle = hal::kInvalidHandle;
  std::vector<std::function<void()>> cancels;
  for (Slot& s : c.slots) {
    if (!s.done && s.on_cancel) cancels.push_back(std::move(s.on_cancel));
  }
  c.slots.clear();
  auto it = connections_.find(c.id);
  AGENT_ASSERT(it != connections_.end());
  graveyard_.push_back(std::move(it->second));
  connections_.erase(it);
  ++counters_.connections_closed;
  counters_.connections_open = connections_.size();
  for (auto& fn : cancels) fn();
}

std::string_view Server::date() {
  base::WallTime now = clock_.wall_now();
  if (now.unix_sec() != date_second_) {
    date_second_ = now.unix_sec();
    date_.clear();
    append_http_date(now, &date_);
  }
  return date_;
}

void Server::count_response(int status) {
  int cls = status / 100;
  if (cls >= 1 && cls <= 5) ++counters_.responses_by_class[static_cast<size_t>(cls)];
}

}  // namespace http
