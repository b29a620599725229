#include "agent/kv/kv_api.h"

#include <string_view>
#include <utility>

#include "agent/http/json.h"
#include "hal/crypto.h"

namespace kv {

namespace {

constexpr std::string_view kModule = "kv";

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

// Query flags are present even when bare ("?recurse"); Consul tests presence, not value.
bool has(const http::Request& r, std::string_view name) { return r.has_query(name); }

}  // namespace

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

KvApi::KvApi(runtime::Loop& loop, Backend& backend, base::Logger& logger, KvOptions options)
    : loop_(loop),
      backend_(backend),
      logger_(logger),
      options_(options),
      prng_(options.jitter_seed),
      alive_(std::make_shared<KvApi*>(this)) {}

KvApi::~KvApi() {
  alive_.reset();
  if (has_watch_) backend_.unwatch(watch_id_);
  for (auto& [id, q] : queries_) {
    if (q->timer != runtime::kNoTimer) loop_.cancel(q->timer);
    q->responder.on_cancel(nullptr);
  }
  queries_.clear();
}

void KvApi::add_routes(http::Router& router) {
  router.add_prefix("GET", "/v1/kv/", [this](http::Request& r, http::Responder resp) { handle_get(r, std::move(resp)); });
  router.add_prefix("PUT", "/v1/kv/", [this](http::Request& r, http::Responder resp) { handle_put(r, std::move(resp)); });
  router.add_prefix("DELETE", "/v1/kv/",
                    [this](http::Request& r, http::Responder resp) { handle_delete(r, std::move(resp)); });
}

// --- reads ------------------------------------------------------------------------------------

void KvApi::handle_get(http::Request& request, http::Responder responder) {
  auto q = std::make_unique<Query>();
  q->key = std::string(request.path_rest());
  const bool keys = has(request, "keys");
  const bool recurse = has(request, "recurse");
  q->kind = keys ? Kind::kKeys : recurse ? Kind::kList : Kind::kGet;
  // Consul's parse(): consistency first, then ?wait and ?index.
  const bool stale = has(request, "stale");
  const bool consistent = has(request, "consistent");
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
  if (q->kind == Kind::kGet && q->key.empty()) {
    responder.send(text_error(400, "Missing key name"));
    return;
  }
  if (base::Status s = wire::check_kv_key(q->key, /*prefix=*/q->kind != Kind::kGet); !s.is_ok()) {
    responder.send(text_error(400, s.message()));
    return;
  }
  if (q->kind == Kind::kKeys) {
    // Consul reads both spellings; the correct one wins.
    if (const std::string* s = request.query_value("seperator")) q->separator = *s;
    if (const std::string* s = request.query_value("separator")) q->separator = *s;
  }
  q->raw = q->kind == Kind::kGet && has(request, "raw");
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
  std::weak_ptr<KvApi*> weak = alive_;
  q->responder = std::move(responder);
  q->responder.on_cancel([weak, id] {
    if (auto self = weak.lock()) (*self)->drop(id);
  });
  queries_.emplace(id, std::move(q));
  read_batch(queries_[id]->mode, {id});
}

void KvApi::read_batch(Consistency mode, std::vector<uint64_t> ids) {
  // The worker reads only these copies and `results`; the queries may be gone when it runs.
  struct Spec {
    Kind kind;
    std::string key;
    std::string separator;
  };
  std::vector<Spec> specs;
  specs.reserve(ids.size());
  for (uint64_t id : ids) {
    Query& q = *queries_.at(id);
    q.reading = true;
    specs.push_back(Spec{q.kind, q.key, q.separator});
  }
  auto results = std::make_shared<std::vector<std::shared_ptr<ReadResult>>>();
  for (size_t i = 0; i < ids.size(); ++i) results->push_back(std::make_shared<ReadResult>());
  auto fn = [results, specs = std::move(specs)](const state::Store& store) -> base::Status {
    for (size_t i = 0; i < specs.size(); ++i) {
      const Spec& spec = specs[i];
      ReadResult& result = *(*results)[i];
      result.applied = store.last_applied();
      auto run = [&]() -> base::Status {
        switch (spec.kind) {
          case Kind::kGet: {
            auto e = store.get(spec.key);
            if (!e.is_ok()) return e.status();
            if (e->has_value()) {
              result.index = (*e)->modify_index;
              result.entries.push_back(std::move(**e));
              return base::Status::ok();
            }
            break;
          }
          case Kind::kList: {
            auto l = store.list(spec.key);
            if (!l.is_ok()) return l.status();
            result.entries = std::move(l).value();
            break;
          }
          case Kind::kKeys: {
            auto k = store.keys(spec.key, spec.separator);
            if (!k.is_ok()) return k.status();
            result.keys = std::move(k).value();
            break;
          }
        }
        auto idx = store.prefix_index(spec.key);
        if (!idx.is_ok()) return idx.status();
        result.index = *idx;
        return base::Status::ok();
      };
      result.status = run();
    }
    return base::Status::ok();
  };
  std::weak_ptr<KvApi*> weak = alive_;
  backend_.read(mode, std::move(fn), [weak, ids = std::move(ids), results](base::Status status, ReadMeta meta) {
    auto self = weak.lock();
    if (!self) return;
    KvApi* api = *self;
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

void KvApi::on_result(uint64_t id, std::shared_ptr<ReadResult> result, const ReadMeta& meta) {
  Query& q = *queries_.at(id);
  q.reading = false;
  if (!result->status.is_ok()) {
    AGENT_LOG_WARN(logger_, kModule, "read of \"%s\" failed: %s", q.key.c_str(), result->status.to_string().c_str());
    finish(id, backend_error(result->status));
    return;
  }
  const uint64_t index = result->index < 1 ? 1 : result->index;
  q.last = result;
  q.last_meta = meta;
  if (q.min_index == 0 || index > q.min_index || loop_.now() >= q.deadline) {
    finish(id, answer(q, *result, meta));
    return;
  }
  q.seen_applied = result->applied;
  if (q.timer == runtime::kNoTimer) {
    std::weak_ptr<KvApi*> weak = alive_;
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

void KvApi::park(uint64_t id) {
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

void KvApi::arm_watch() {
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
  std::weak_ptr<KvApi*> weak = alive_;
  auto w = backend_.watch(after, [weak] {
    if (auto self = weak.lock()) (*self)->on_watch();
  });
  if (!w.is_ok()) {
    AGENT_LOG_WARN(logger_, kModule, "blocking queries: %s", w.status().to_string().c_str());
    return;  // the old watch, if any, stays; a query parked without one is answered by park()
  }
  if (has_watch_) backend_.unwatch(watch_id_);
  has_watch_ = true;
  watch_id_ = *w;
  watch_after_ = after;
}

void KvApi::on_watch() {
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

void KvApi::on_deadline(uint64_t id) {
  auto it = queries_.find(id);
  if (it == queries_.end()) return;
  Query& q = *it->second;
  q.timer = runtime::kNoTimer;
  // A re-read in flight answers when it completes (the deadline has passed by then).
  if (q.reading) return;
  AGENT_ASSERT(q.last != nullptr);
  finish(id, answer(q, *q.last, q.last_meta));
}

void KvApi::drop(uint64_t id) {
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

void KvApi::finish(uint64_t id, http::Response response) {
  auto it = queries_.find(id);
  AGENT_ASSERT(it != queries_.end());
  http::Responder responder = std::move(it->second->responder);
  drop(id);
  responder.on_cancel(nullptr);
  responder.send(std::move(response));
}

http::Response KvApi::answer(const Query& q, const ReadResult& r, const ReadMeta& meta) const {
  http::Response resp;
  const uint64_t index = r.index < 1 ? 1 : r.index;
  const bool empty = q.kind == Kind::kKeys ? (r.keys.empty() && !q.key.empty()) : r.entries.empty();
  if (empty) {
    resp.status = 404;
  } else if (q.raw) {
    resp = http::Response::text(200, r.entries.front().value);
    // Consul's guard against a browser rendering a stored value as a page.
    resp.set_header("X-Content-Type-Options", "nosniff");
    resp.set_header("Content-Security-Policy", "sandbox");
  } else {
    http::Json doc = http::Json::array();
    if (q.kind == Kind::kKeys) {
      for (const std::string& k : r.keys) doc.add_string(doc.get(), "", k);
    } else {
      for (const state::KvEntry& e : r.entries) {
        cJSON* o = doc.add_object(doc.get(), "");
        doc.add_u64(o, "LockIndex", e.lock_index);
        doc.add_string(o, "Key", e.key);
        doc.add_u64(o, "Flags", e.flags);
        if (e.value.empty()) doc.add_null(o, "Value");
        else doc.add_string(o, "Value", hal::crypto::base64_encode(base::as_bytes(std::string_view(e.value))));
        if (e.session.has_value()) doc.add_string(o, "Session", *e.session);
        doc.add_u64(o, "CreateIndex", e.create_index);
        doc.add_u64(o, "ModifyIndex", e.modify_index);
      }
    }
    auto body = doc.dump();
    if (!body.is_ok()) return text_error(500, body.status().message());
    resp = http::Response::json(200, std::move(body).value());
  }
  resp.set_header("X-Consul-Index", std::to_string(index));
  resp.set_header("X-Consul-KnownLeader", meta.known_leader ? "true" : "false");
  resp.set_header("X-Consul-LastContact", std::to_string(meta.last_contact_ms));
  resp.set_header("X-Consul-Effective-Consistency", consistency_name(q.mode));
  return resp;
}

// --- writes -----------------------------------------------------------------------------------

void KvApi::handle_put(http::Request& request, http::Responder responder) {
  wire::StateCommand cmd;
  cmd.type = wire::StateCommandType::kKvSet;
  cmd.key = std::string(request.path_rest());
  if (cmd.key.empty()) {
    responder.send(text_error(400, "Missing key name"));
    return;
  }
  if (base::Status s = wire::check_kv_key(cmd.key); !s.is_ok()) {
    responder.send(text_error(400, s.message()));
    return;
  }
  int exclusive = has(request, "cas") + has(request, "acquire") + has(request, "release");
  if (exclusive > 1) {
    responder.send(text_error(400, "Conflicting flags: " + request.raw_query + "\n"));
    return;
  }
  if (has(request, "acquire") || has(request, "release")) {
    responder.send(text_error(501, "sessions are not supported yet (?acquire, ?release)"));
    return;
  }
  if (const std::string* f = request.query_value("flags")) {
    if (!parse_u64(*f, &cmd.flags)) {
      responder.send(text_error(400, "Invalid flags: want a decimal uint64, got \"" + *f + "\""));
      return;
    }
  }
  bool is_cas = false;
  if (const std::string* c = request.query_value("cas")) {
    if (!parse_u64(*c, &cmd.index)) {
      responder.send(text_error(400, "Invalid cas: want a decimal uint64, got \"" + *c + "\""));
      return;
    }
    cmd.type = wire::StateCommandType::kKvCas;
    is_cas = true;
  }
  if (request.body.size() > options_.value_bytes_max) {
    responder.send(text_error(413, "Request body(" + std::to_string(request.body.size()) +
                                       " bytes) too large, max size: " + std::to_string(options_.value_bytes_max) +
                                       " bytes. See https://developer.hashicorp.com/docs/agent/config/"
                                       "config-files#kv_max_value_size."));
    return;
  }
  cmd.value = std::move(request.body);
  propose(cmd, is_cas, std::move(responder));
}

void KvApi::handle_delete(http::Request& request, http::Responder responder) {
  if (has(request, "recurse") && has(request, "cas")) {
    responder.send(text_error(400, "Conflicting flags: " + request.raw_query + "\n"));
    return;
  }
  wire::StateCommand cmd;
  cmd.type = wire::StateCommandType::kKvDelete;
  cmd.key = std::string(request.path_rest());
  const bool recurse = has(request, "recurse");
  if (recurse) cmd.type = wire::StateCommandType::kKvDeleteTree;
  else if (cmd.key.empty()) {
    responder.send(text_error(400, "Missing key name"));
    return;
  }
  if (base::Status s = wire::check_kv_key(cmd.key, recurse); !s.is_ok()) {
    responder.send(text_error(400, s.message()));
    return;
  }
  bool is_cas = false;
  if (const std::string* c = request.query_value("cas")) {
    if (!parse_u64(*c, &cmd.index)) {
      responder.send(text_error(400, "Invalid cas: want a decimal uint64, got \"" + *c + "\""));
      return;
    }
    cmd.type = wire::StateCommandType::kKvDeleteCas;
    is_cas = true;
  }
  propose(cmd, is_cas, std::move(responder));
}

void KvApi::propose(const wire::StateCommand& command, bool answer_value, http::Responder responder) {
  auto bytes = wire::encode_state_command(command);
  if (!bytes.is_ok()) {
    const bool too_big = bytes.status().code() == base::Code::kResourceExhausted;
    responder.send(text_error(too_big ? 413 : 400, bytes.status().message()));
    return;
  }
  std::weak_ptr<KvApi*> weak = alive_;
  // The Responder travels with the callback: if the connection closes first, send() is dropped
  // and the write still completes (it cannot be recalled once proposed).
  auto holder = std::make_shared<http::Responder>(std::move(responder));
  backend_.write(std::move(bytes).value(),
                 [weak, holder, answer_value](base::Result<state::ApplyResult> result) {
                   if (!weak.lock()) return;
                   if (!result.is_ok()) {
                     holder->send(backend_error(result.status()));
                     return;
                   }
                   if (!result->status.is_ok()) {
                     holder->send(text_error(400, result->status.message()));
                     return;
                   }
                   const bool value = answer_value ? result->value : true;
                   holder->send(http::Response::json(200, value ? "true" : "false"));
                 });
}

}  // namespace kv
