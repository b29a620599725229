// kv::BlockingReads: see blocking.h.
#include "agent/kv/blocking.h"

#include <string_view>
#include <utility>

#include "agent/base/assert.h"

namespace kv {

// Consul's plain-text error bodies.
http::Response text_error(int status, std::string message) {
  http::Response r = http::Response::text(status, std::move(message));
  return r;
}

// How a backend error reaches the client.
http::Response backend_error(const base::Status& s) {
  switch (s.code()) {
    case base::Code::kResourceExhausted: return text_error(429, s.message());
    case base::Code::kInvalidArgument: return text_error(400, s.message());
    case base::Code::kUnavailable:
      return text_error(500, s.message().empty() ? std::string("No cluster leader") : s.message());
    default: return text_error(500, s.message().empty() ? std::string(base::code_name(s.code())) : s.message());
  }
}


bool parse_u64(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool parse_go_duration(std::string_view text, base::Duration* out) {
  // Go's grammar: [-+]? ( digits [. digits] unit )+ , or "0". Units ns us µs ms s m h.
  if (text.size() > 64) return false;
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") {
    *out = base::Duration::zero();
    return true;
  }
  if (text.empty()) return false;
  struct Unit {
    std::string_view name;
    int64_t ns;
  };
  static constexpr Unit kUnits[] = {{"ns", 1},           {"us", 1000},         {"\xc2\xb5s", 1000},
                                    {"\xce\xbcs", 1000}, {"ms", 1000000},      {"s", 1000000000},
                                    {"m", 60000000000LL}, {"h", 3600000000000LL}};
  // Accumulated in nanoseconds as a double: the part after the point needs it, and 10 min is far
  // below where doubles lose whole nanoseconds. Bounded below at a year to refuse overflow.
  double total_ns = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    double value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') value = value * 10 + (text[pos++] - '0');
    bool digits = pos > start;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      double scale = 0.1;
      const size_t frac = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        value += (text[pos++] - '0') * scale;
        scale /= 10;
      }
      digits = digits || pos > frac;
    }
    if (!digits) return false;
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(pos, u.name.size()) == u.name && (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) return false;
    pos += unit->name.size();
    total_ns += value * static_cast<double>(unit->ns);
    if (total_ns > 365.0 * 24 * 3600 * 1e9) return false;
  }
  const int64_t ns = static_cast<int64_t>(total_ns);
  *out = base::Duration::nanos(negative ? -ns : ns);
  return true;
}

BlockingReads::BlockingReads(runtime::Loop& loop, Backend& backend, base::Logger& logger, std::string_view module,
                             BlockingOptions options)
    : loop_(loop),
      backend_(backend),
      logger_(logger),
      module_(module),
      options_(options),
      prng_(options.jitter_seed),
      alive_(std::make_shared<BlockingReads*>(this)) {}

BlockingReads::~BlockingReads() {
  alive_.reset();
  if (has_watch_) backend_.unwatch(watch_id_);
  for (auto& [id, q] : queries_) {
    if (q->timer != runtime::kNoTimer) loop_.cancel(q->timer);
    q->responder.on_cancel(nullptr);
  }
  queries_.clear();
}

void BlockingReads::serve(const http::Request& request, http::Responder responder, ReadFn read) {
  auto q = std::make_unique<Query>();
  q->read = std::move(read);
  // Consul's parse(): consistency first, then ?wait and ?index.
  const bool stale = request.has_query("stale");
  const bool consistent = request.has_query("consistent");
  if (stale && consistent) {
    responder.send(text_error(400, "Cannot specify ?stale with ?consistent, conflicting semantics."));
    return;
  }
  q->mode = stale ? Consistency::kStale : consistent ? Consistency::kConsistent : Consistency::kDefault;
  base::Duration wait = base::Duration::zero();
  if (const std::string* w = request.query_value("wait"); w != nullptr && !w->empty()) {
    if (!parse_go_duration(*w, &wait)) {
      responder.send(text_error(400, "Invalid wait time"));
      return;
    }
  }
  if (const std::string* i = request.query_value("index"); i != nullptr && !i->empty()) {
    if (!parse_u64(*i, &q->min_index)) {
      responder.send(text_error(400, "Invalid index"));
      return;
    }
  }
  if (q->min_index > 0) {
    if (blocking_ >= options_.blocking_queries_max) {
      responder.send(text_error(429, "too many blocking queries"));
      return;
    }
    ++blocking_;
    // Consul's blockingQuery: the wait is clamped to (0, max], then a jitter of up to wait/16.
    if (wait <= base::Duration::zero()) wait = options_.wait_default;
    if (wait > options_.wait_max) wait = options_.wait_max;
    const int64_t jitter_ns = wait.ns() / 16;
    if (jitter_ns > 0) wait = wait + base::Duration::nanos(static_cast<int64_t>(prng_.uniform(static_cast<uint64_t>(jitter_ns))));
    q->deadline = loop_.now() + wait;
  }
  const uint64_t id = next_query_id_++;
  std::weak_ptr<BlockingReads*> weak = alive_;
  q->responder = std::move(responder);
  q->responder.on_cancel([weak, id] {
    if (auto self = weak.lock()) (*self)->drop(id);
  });
  const Consistency mode = q->mode;
  queries_.emplace(id, std::move(q));
  read_batch(mode, {id});
}

void BlockingReads::read_batch(Consistency mode, std::vector<uint64_t> ids) {
  // The worker runs only these copies and fills `results`; the queries may be gone when it runs.
  std::vector<ReadFn> reads;
  reads.reserve(ids.size());
  for (uint64_t id : ids) {
    Query& q = *queries_.at(id);
    q.reading = true;
    reads.push_back(q.read);
  }
  auto results = std::make_shared<std::vector<std::shared_ptr<Result>>>();
  for (size_t i = 0; i < ids.size(); ++i) results->push_back(std::make_shared<Result>());
  auto fn = [results, reads = std::move(reads)](const state::Store& store) -> base::Status {
    for (size_t i = 0; i < reads.size(); ++i) {
      Result& r = *(*results)[i];
      r.applied = store.last_applied();
      if (base::Status st = reads[i](store, &r.answer); !st.is_ok()) r.answer.status = st;
    }
    return base::Status::ok();
  };
  std::weak_ptr<BlockingReads*> weak = alive_;
  backend_.read(mode, std::move(fn), [weak, ids = std::move(ids), results](base::Status status, ReadMeta meta) {
    auto self = weak.lock();
    if (!self) return;
    BlockingReads* api = *self;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (api->queries_.count(ids[i]) == 0) continue;  // dropped meanwhile
      if (!status.is_ok()) {
        api->queries_.at(ids[i])->reading = false;
        api->finish(ids[i], backend_error(status));
        continue;
      }
      api->on_result(ids[i], (*results)[i], meta);
    }
  });
}

void BlockingReads::on_result(uint64_t id, std::shared_ptr<Result> result, const ReadMeta& meta) {
  Query& q = *queries_.at(id);
  q.reading = false;
  if (!result->answer.status.is_ok()) {
    AGENT_LOG_WARN(logger_, module_, "read failed: %s", result->answer.status.to_string().c_str());
    finish(id, backend_error(result->answer.status));
    return;
  }
  const uint64_t index = result->answer.index < 1 ? 1 : result->answer.index;
  q.last = result;
  q.last_meta = meta;
  if (q.min_index == 0 || index > q.min_index || loop_.now() >= q.deadline) {
    finish(id, answer(q, *result, meta));
    return;
  }
  q.seen_applied = result->applied;
  if (q.timer == runtime::kNoTimer) {
    std::weak_ptr<BlockingReads*> weak = alive_;
    auto t = loop_.arm(q.deadline, [weak, id] {
      if (auto self = weak.lock()) (*self)->on_deadline(id);
    });
    if (!t.is_ok()) {
      finish(id, backend_error(t.status()));
      return;
    }
    q.timer = *t;
  }
  park(id);
}
void BlockingReads::park(uint64_t id) {
  Query& q = *queries_.at(id);
  if (backend_.applied_index() > q.seen_applied) {
    // The store moved on while this read was in flight: read again now.
    read_batch(q.mode, {id});
    return;
  }
  q.parked = true;
  ++parked_;
  if (!has_watch_ || q.seen_applied < watch_after_) arm_watch();
  // No watch covers it (the backend's watch table is full): Consul would block; we say so.
  if (!has_watch_ || watch_after_ > q.seen_applied) finish(id, text_error(429, "too many blocking queries"));
}

void BlockingReads::arm_watch() {
  uint64_t after = UINT64_MAX;
  for (const auto& [id, q] : queries_) {
    if (q->parked && q->seen_applied < after) after = q->seen_applied;
  }
  if (after == UINT64_MAX) {  // nothing parked
    if (has_watch_) backend_.unwatch(watch_id_);
    has_watch_ = false;
    return;
  }
  if (has_watch_ && watch_after_ == after) return;
  std::weak_ptr<BlockingReads*> weak = alive_;
  auto w = backend_.watch(after, [weak] {
    if (auto self = weak.lock()) (*self)->on_watch();
  });
  if (!w.is_ok()) {
    AGENT_LOG_WARN(logger_, module_, "blocking queries: %s", w.status().to_string().c_str());
    return;  // the old watch, if any, stays; a query parked without one is answered by park()
  }
  if (has_watch_) backend_.unwatch(watch_id_);
  has_watch_ = true;
  watch_id_ = *w;
  watch_after_ = after;
}

void BlockingReads::on_watch() {
  has_watch_ = false;
  const uint64_t applied = backend_.applied_index();
  // Every parked query whose read is older than the applied index is read again, in one backend
  // read per mode.
  std::vector<uint64_t> woken[3];
  for (auto& [id, q] : queries_) {
    if (!q->parked || q->seen_applied >= applied) continue;
    q->parked = false;
    --parked_;
    woken[static_cast<size_t>(q->mode)].push_back(id);
  }
  arm_watch();
  for (size_t m = 0; m < 3; ++m) {
    if (!woken[m].empty()) read_batch(static_cast<Consistency>(m), std::move(woken[m]));
  }
}

void BlockingReads::on_deadline(uint64_t id) {
  auto it = queries_.find(id);
  if (it == queries_.end()) return;
  Query& q = *it->second;
  q.timer = runtime::kNoTimer;
  // A re-read in flight answers when it completes (the deadline has passed by then).
  if (q.reading) return;
  AGENT_ASSERT(q.last != nullptr);
  finish(id, answer(q, *q.last, q.last_meta));
}

void BlockingReads::drop(uint64_t id) {
  auto it = queries_.find(id);
  if (it == queries_.end()) return;
  std::unique_ptr<Query> q = std::move(it->second);
  queries_.erase(it);
  if (q->timer != runtime::kNoTimer) loop_.cancel(q->timer);
  if (q->min_index > 0) --blocking_;
  if (q->parked) {
    --parked_;
    if (parked_ == 0) arm_watch();  // releases the watch
  }
}

void BlockingReads::finish(uint64_t id, http::Response response) {
  auto it = queries_.find(id);
  AGENT_ASSERT(it != queries_.end());
  http::Responder responder = std::move(it->second->responder);
  drop(id);
  responder.on_cancel(nullptr);
  responder.send(std::move(response));
}

http::Response BlockingReads::answer(const Query& q, const Result& r, const ReadMeta& meta) const {
  http::Response resp = r.answer.response;
  const uint64_t index = r.answer.index < 1 ? 1 : r.answer.index;
  resp.set_header("X-Consul-Index", std::to_string(index));
  resp.set_header("X-Consul-KnownLeader", meta.known_leader ? "true" : "false");
  resp.set_header("X-Consul-LastContact", std::to_string(meta.last_contact_ms));
  resp.set_header("X-Consul-Effective-Consistency", consistency_name(q.mode));
  return resp;
}

}  // namespace kv
