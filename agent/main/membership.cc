#include "agent/main/membership.h"

#include <algorithm>
#include <utility>

#include "agent/base/version.h"
#include "agent/config/parse.h"
#include "agent/http/json.h"
#include "cJSON.h"
#include "hal/crypto.h"

namespace agent {

namespace {

constexpr std::string_view kModule = "gossip";
// Internal user events: never fired or listed through the API.
constexpr std::string_view kInternalPrefix = "weft:";
constexpr std::string_view kKeyringEvent = "weft:keyring";
// Graceful leave waits at most this long for the leave notice to go out (Consul: 5 s).
constexpr base::Duration kLeaveTimeout = base::Duration::seconds(5);
// The agent protocol version carried in the "vsn" tag.
constexpr std::string_view kProtocolVersion = "1";
// User event payloads accepted from the API (Serf's limit is 512 bytes for name and payload).
constexpr size_t kEventPayloadBytesMax = 512;

// Consul's member status numbers (serf.MemberStatus): alive 1, leaving 2, left 3, failed 4.
// A suspect member is still alive to Serf's consumers.
int consul_status(gossip::MemberState s) {
  switch (s) {
    case gossip::MemberState::kAlive:
    case gossip::MemberState::kSuspect: return 1;
    case gossip::MemberState::kLeft: return 3;
    case gossip::MemberState::kDead: return 4;
  }
  return 0;
}

std::string join_list(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& x : v) {
    if (!out.empty()) out += sep;
    out += x;
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Reads {"Key": "..."} from a request body.
bool body_key(const http::Request& req, std::string* key) {
  auto doc = http::Json::parse(req.body, 4096);
  return doc.is_ok() && http::json_get_string(doc->get(), "Key", key) && !key->empty();
}

std::string random_uuid(hal::Entropy& entropy) {
  uint8_t b[16] = {};
  if (!entropy.fill(std::span<uint8_t>(b, sizeof b)).is_ok()) return "00000000-0000-0000-0000-000000000000";
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string h = base::hex(base::ByteSpan(b, 16));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

}  // namespace

Membership::Membership(hal::Env& env, runtime::Loop& loop, const config::Config& config, base::Logger& log)
    : env_(env), loop_(loop), config_(config), log_(log) {}

Membership::~Membership() {
  *alive_ = false;
  if (key_timer_ != runtime::kNoTimer) loop_.cancel(key_timer_);
  for (auto& p : pending_key_ops_) hal::crypto::secure_zero(p.key.data(), p.key.size());
}

base::Status Membership::load_generation(uint64_t* generation) {
  std::string path = config_.data_dir + "/gossip-generation";
  uint64_t g = 0;
  auto text = env_.fs->read_file(path, 64);
  if (text.is_ok()) {
    std::string t = *text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    int64_t v = 0;
    if (!config::parse_int(t, &v) || v < 0 || v >= (int64_t{1} << 31)) {
      return base::error(base::Code::kInvalidArgument, "%s: want a generation number; remove the file to start over",
                         path.c_str());
    }
    g = static_cast<uint64_t>(v);
  } else if (text.status().code() != base::Code::kNotFound) {
    return text.status();
  }
  ++g;
  std::string out = std::to_string(g) + "\n";
  // Durable before any packet carries an incarnation of this generation.
  AGENT_TRY(env_.fs->write_file(path, base::as_bytes(out), 0600, /*durable=*/true));
  *generation = g;
  return base::Status::ok();
}

base::Status Membership::load_keyring() {
  keyring_path_ = config_.data_dir + "/keyring";
  auto loaded = gossip::crypto::load_keyring(*env_.fs, keyring_path_);
  if (loaded.is_ok()) {
    keyring_ = std::make_unique<gossip::crypto::Keyring>(std::move(loaded).value());
    if (!config_.encrypt.empty()) {
      AGENT_LOG_INFO(log_, kModule, "keyring %s exists; the encrypt setting is used only on a first start",
                     keyring_path_.c_str());
    }
    return base::Status::ok();
  }
  if (loaded.status().code() != base::Code::kNotFound) {
    return base::error(loaded.status().code(), "keyring %s: %s", keyring_path_.c_str(),
                       loaded.status().message().c_str());
  }
  if (config_.encrypt.empty()) return base::Status::ok();  // plaintext gossip
  auto ring = gossip::crypto::Keyring::with_primary(config_.encrypt);
  if (!ring.is_ok()) return base::error(base::Code::kInvalidArgument, "encrypt: %s", ring.status().message().c_str());
  keyring_ = std::make_unique<gossip::crypto::Keyring>(std::move(ring).value());
  return gossip::crypto::save_keyring(*env_.fs, keyring_path_, *keyring_);
}

base::Result<hal::SockAddr> Membership::pick_advertise() const {
  std::string ip = config_.advertise_addr;
  if (ip.empty() && config_.bind_addr != "0.0.0.0" && config_.bind_addr != "::") ip = config_.bind_addr;
  if (ip.empty()) {
    auto facts = env_.sys->read();
    if (facts.is_ok()) {
      for (const auto& itf : facts->interfaces) {
        if (!itf.up || itf.loopback) continue;
        for (const auto& cidr : itf.addresses) {
          std::string a = cidr.substr(0, cidr.find('/'));
          if (a.find(':') == std::string::npos) {
            ip = a;
            break;
          }
        }
        if (!ip.empty()) break;
      }
    }
  }
  if (ip.empty()) ip = "127.0.0.1";
  return hal::SockAddr::parse(ip, config_.ports.gossip);
}

gossip::Tags Membership::configured_tags() const {
  gossip::Tags tags;
  tags[std::string(gossip::kTagRole)] = join_list(config_.roles, ",");
  tags["dc"] = config_.datacenter;
  tags["id"] = node_id_;
  tags[std::string(gossip::kTagProtocol)] = std::string(kProtocolVersion);
  tags["build"] = std::string(base::version());
  if (config_.server) {
    hal::SockAddr rpc = advertise_;
    rpc.port = config_.ports.rpc;
    tags[std::string(gossip::kTagRpcAddr)] = rpc.to_string();
  }
  for (const auto& [k, v] : config_.labels) tags[std::string(gossip::kTagLabelPrefix) + k] = v;
  if (keyring_) {
    std::vector<std::string> ids;
    for (const auto& k : keyring_->list()) ids.push_back(k.primary ? "*" + k.id : k.id);
    tags["kr"] = join_list(ids, ",");
  }
  return tags;
}

gossip::Tags Membership::make_tags() const {
  gossip::Tags tags = configured_tags();
  apply_overrides(tag_overrides_, &tags);
  return tags;
}

base::Status Membership::load_tag_overrides() {
  tags_path_ = config_.data_dir + "/tags.json";
  auto text = env_.fs->read_file(tags_path_, kTagChangeJsonBytesMax);
  if (!text.is_ok()) {
    if (text.status().code() == base::Code::kNotFound) return base::Status::ok();
    return base::error(text.status().code(), "%s: %s", tags_path_.c_str(), text.status().message().c_str());
  }
  auto change = parse_tag_change(*text);
  base::Status st = change.is_ok() ? check_tag_change(*change, /*allow_empty=*/true) : change.status();
  if (!st.is_ok()) {
    return base::error(base::Code::kInvalidArgument,
                       "%s: %s; it holds the labels changed with `agentctl tags`: fix it, or remove it to go back "
                       "to the configured labels",
                       tags_path_.c_str(), st.message().c_str());
  }
  tag_overrides_ = std::move(change).value();
  if (!tag_overrides_.empty()) {
    AGENT_LOG_INFO(log_, kModule, "%zu label(s) set and %zu deleted at run time, from %s", tag_overrides_.set.size(),
                   tag_overrides_.remove.size(), tags_path_.c_str());
  }
  return base::Status::ok();
}

base::Status Membership::start(const std::string& node_id) {
  node_id_ = node_id;
  uint64_t generation = 0;
  AGENT_TRY(load_generation(&generation));
  AGENT_TRY(load_keyring());
  AGENT_ASSIGN_OR_RETURN(advertise_, pick_advertise());
  AGENT_TRY(load_tag_overrides());
  auto bind = hal::SockAddr::parse(config_.bind_addr, config_.ports.gossip);
  if (!bind.is_ok()) return base::error(base::Code::kInvalidArgument, "bind_addr: %s", bind.status().message().c_str());

  gossip::TransportConfig tc;
  tc.name = config_.node_name;
  tc.generation = generation;
  gossip::Profile profile = gossip::Profile::kLan;
  if (!gossip::parse_profile(config_.gossip.profile, &profile)) {
    return base::error(base::Code::kInvalidArgument, "gossip.profile: unknown profile %s", config_.gossip.profile.c_str());
  }
  tc.profile = profile;
  tc.use_custom_swim = true;
  tc.swim = gossip::profile_config(profile);
  tc.swim.dead_reap_timeout = config_.gossip.reap_after;
  tc.swim.left_reap_timeout = config_.gossip.reap_after;
  tc.swim.rejoin_interval = config_.gossip.rejoin_interval;
  tc.tags = make_tags();

  transport_ = std::make_unique<gossip::Transport>(env_, loop_, tc);
  if (keyring_) {
    uint64_t seed = 0;
    AGENT_TRY(env_.entropy->fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&seed), sizeof seed)));
    std::string label = config_.gossip.label.empty() ? config_.datacenter : config_.gossip.label;
    envelope_ = std::make_unique<gossip::crypto::Envelope>(*keyring_, label, seed, tc.frame_bytes_max);
    transport_->set_envelope(envelope_.get());
  }
  std::weak_ptr<bool> alive = alive_;
  transport_->on_member_event([this, alive](const gossip::MemberEvent& e) {
    if (!alive.expired()) on_member_event(e);
  });
  transport_->on_user_event([this, alive](const gossip::ReceivedUserEvent& e) {
    if (!alive.expired()) on_user_event(e);
  });
  base::Status s = transport_->start(*bind, advertise_);
  if (!s.is_ok()) {
    transport_.reset();
    return base::error(s.code(), "gossip cannot start on %s: %s", bind->to_string().c_str(), s.message().c_str());
  }
  AGENT_LOG_INFO(log_, kModule, "gossip on %s, advertising %s, profile %s, generation %llu, %s",
                 transport_->bound_addr().to_string().c_str(), advertise_.to_string().c_str(),
                 config_.gossip.profile.c_str(), static_cast<unsigned long long>(generation),
                 keyring_ ? "encrypted" : "NOT encrypted");

  std::vector<hal::SockAddr> joins;
  for (const auto* list : {&config_.join, &config_.retry_join}) {
    for (const auto& text : *list) {
      auto a = hal::SockAddr::parse(text, config_.ports.gossip);
      if (!a.is_ok()) return base::error(base::Code::kInvalidArgument, "join address %s: %s", text.c_str(), a.status().message().c_str());
      // A fleet's nodes often share one join list that names themselves too: skip our own.
      if (*a == advertise_ || *a == transport_->bound_addr()) continue;
      joins.push_back(*a);
    }
  }
  if (!joins.empty()) {
    // Serf's start_join and retry_join without replay_on_join: the fleet's earlier user events
    // are history to a node that joins now, not news (also on a retry after a failed join).
    AGENT_TRY(transport_->join(joins, /*ignore_old_events=*/true));
    AGENT_LOG_INFO(log_, kModule, "joining through %zu address(es)", joins.size());
  }
  return base::Status::ok();
}

bool Membership::healthy(std::string* output) const {
  if (!transport_) {
    *output = "gossip is not running";
    return false;
  }
  uint32_t score = transport_->health_score();
  size_t alive = 0;
  for (const auto& m : transport_->members()) alive += m.state == gossip::MemberState::kAlive;
  *output = "health score " + std::to_string(score) + ", " + std::to_string(alive) + " alive member(s)";
  // Lifeguard's awareness score reaches its top only when this node misses most acks: then it is
  // the sick one, and load balancers should know.
  return score + 1 < 8;
}

void Membership::on_member_event(const gossip::MemberEvent& e) {
  if (member_change_) member_change_(e.member);
  const char* what = "";
  switch (e.kind) {
    case gossip::MemberEventKind::kJoin: what = "joined"; break;
    case gossip::MemberEventKind::kUpdate: what = "updated"; break;
    case gossip::MemberEventKind::kSuspect: what = "is suspect"; break;
    case gossip::MemberEventKind::kAlive: what = "refuted and is alive"; break;
    case gossip::MemberEventKind::kFail: what = "failed"; break;
    case gossip::MemberEventKind::kLeave: what = "left"; break;
    case gossip::MemberEventKind::kReap: what = "was reaped"; break;
  }
  base::LogLevel level = e.kind == gossip::MemberEventKind::kFail ? base::LogLevel::kWarn
                         : e.kind == gossip::MemberEventKind::kUpdate ? base::LogLevel::kDebug
                                                                     : base::LogLevel::kInfo;
  log_.log(level, kModule, "member %s (%s) %s", e.member.name.c_str(), e.member.addr.to_string().c_str(), what);
}

void Membership::on_user_event(const gossip::ReceivedUserEvent& e) {
  if (e.name == kKeyringEvent) {
    size_t space = e.payload.find(' ');
    if (space == std::string::npos) {
      AGENT_LOG_WARN(log_, kModule, "ignoring a malformed keyring event");
      return;
    }
    base::Status s = apply_keyring_op(std::string_view(e.payload).substr(0, space),
                                      std::string_view(e.payload).substr(space + 1), /*local=*/false);
    if (!s.is_ok()) AGENT_LOG_WARN(log_, kModule, "keyring event not applied: %s", s.to_string().c_str());
    return;
  }
  AGENT_LOG_DEBUG(log_, kModule, "user event %s (ltime %llu, %zu bytes)", e.name.c_str(),
                  static_cast<unsigned long long>(e.ltime), e.payload.size());
}

// Applies install/use/remove to this node's keyring, persists it, refreshes the "kr" tag, and
// when `local` spreads the same command to the fleet.
base::Status Membership::apply_keyring_op(std::string_view op, std::string_view key, bool local) {
  if (!keyring_) return base::error(base::Code::kFailedPrecondition, "gossip encryption is not enabled on this node");
  uint64_t before = keyring_->generation();
  base::Status s;
  if (op == "install") s = keyring_->install(key);
  else if (op == "use") s = keyring_->use(key);
  else if (op == "remove") s = keyring_->remove(key);
  else return base::error(base::Code::kInvalidArgument, "unknown keyring operation");
  // Not found / already removed on a node that heard it twice is fine for a spread command.
  if (!s.is_ok() && (local || s.code() != base::Code::kNotFound)) return s;
  if (keyring_->generation() != before) {
    base::Status saved = gossip::crypto::save_keyring(*env_.fs, keyring_path_, *keyring_);
    if (!saved.is_ok()) {
      // A keyring that cannot be made durable must not be acted on (STYLE.md: never retry fsync).
      AGENT_LOG_ERROR(log_, kModule, "cannot persist the keyring: %s; stopping", saved.to_string().c_str());
      loop_.stop();
      return saved;
    }
    AGENT_LOG_INFO(log_, kModule, "keyring %.*s applied (%zu key(s))", static_cast<int>(op.size()), op.data(),
                   keyring_->size());
    if (transport_) transport_->set_tags(make_tags()).ignore();
  }
  if (local && transport_) {
    std::string payload = std::string(op) + " " + std::string(key);
    AGENT_TRY(transport_->send_user_event(kKeyringEvent, payload));
    hal::crypto::secure_zero(payload.data(), payload.size());
    // The key id to watch for in the members' tags.
    std::string id;
    for (const auto& k : keyring_->list()) {
      if (k.id == key) id = k.id;
    }
    if (id.empty()) {
      auto raw = hal::crypto::base64_decode(key, 64);
      if (raw.is_ok() && raw->size() == gossip::crypto::kKeyBytes) {
        id = gossip::crypto::Keyring::key_id(base::as_bytes(*raw));
        hal::crypto::secure_zero(raw->data(), raw->size());
      }
    }
    if (!id.empty()) {
      for (auto& p : pending_key_ops_) {
        if (p.id == id) hal::crypto::secure_zero(p.key.data(), p.key.size());
      }
      std::erase_if(pending_key_ops_, [&](const PendingKeyOp& p) { return p.id == id; });
      pending_key_ops_.push_back(PendingKeyOp{std::string(op), std::string(key), id,
                                              loop_.now() + base::Duration::seconds(60)});
      if (key_timer_ == runtime::kNoTimer) {
        auto t = loop_.arm_after(base::Duration::seconds(1), [this] {
          key_timer_ = runtime::kNoTimer;
          check_keyring_spread();
        });
        if (t.is_ok()) key_timer_ = *t;
      }
    }
  }
  return base::Status::ok();
}

bool Membership::keyring_op_done(const std::string& op, const std::string& id) const {
  for (const auto& m : transport_->members()) {
    if (m.state != gossip::MemberState::kAlive) continue;
    auto it = m.tags.find("kr");
    std::vector<std::string> ids = it == m.tags.end() ? std::vector<std::string>{} : split(it->second, ',');
    bool has = false, primary = false;
    for (const auto& x : ids) {
      if (x == id) has = true;
      if (x == "*" + id) has = primary = true;
    }
    if (op == "install" && !has) return false;
    if (op == "use" && !primary) return false;
    if (op == "remove" && has) return false;
  }
  return true;
}

void Membership::check_keyring_spread() {
  if (!transport_) return;
  base::MonoTime now = loop_.now();
  for (auto& p : pending_key_ops_) {
    bool done = keyring_op_done(p.op, p.id);
    if (done || now >= p.give_up) {
      if (!done) AGENT_LOG_WARN(log_, kModule, "keyring %s of key %s: not every member applied it within a minute", p.op.c_str(), p.id.c_str());
      else AGENT_LOG_INFO(log_, kModule, "keyring %s of key %s applied by every alive member", p.op.c_str(), p.id.c_str());
      hal::crypto::secure_zero(p.key.data(), p.key.size());
      p.key.clear();
      continue;
    }
    std::string payload = p.op + " " + p.key;
    transport_->send_user_event(kKeyringEvent, payload).ignore();
    hal::crypto::secure_zero(payload.data(), payload.size());
  }
  std::erase_if(pending_key_ops_, [](const PendingKeyOp& p) { return p.key.empty(); });
  if (!pending_key_ops_.empty()) {
    auto t = loop_.arm_after(base::Duration::seconds(1), [this] {
      key_timer_ = runtime::kNoTimer;
      check_keyring_spread();
    });
    if (t.is_ok()) key_timer_ = *t;
  }
}

void Membership::add_stats(http::Json& doc, cJSON* stats) const {
  if (!transport_) return;
  cJSON* g = doc.add_object(stats, "gossip");
  uint64_t by_state[4] = {};
  for (const auto& m : transport_->members()) ++by_state[static_cast<size_t>(m.state)];
  doc.add_u64(g, "members_alive", by_state[0]);
  doc.add_u64(g, "members_suspect", by_state[1]);
  doc.add_u64(g, "members_failed", by_state[2]);
  doc.add_u64(g, "members_left", by_state[3]);
  doc.add_u64(g, "health_score", transport_->health_score());
  doc.add_u64(g, "incarnation", transport_->incarnation());
  doc.add_bool(g, "encrypted", envelope_ != nullptr);
  const gossip::TransportCounters& c = transport_->counters();
  doc.add_u64(g, "datagrams_received", c.datagrams_received);
  doc.add_u64(g, "datagrams_sent", c.datagrams_sent);
  doc.add_u64(g, "datagrams_send_failed", c.datagrams_send_failed);
  doc.add_u64(g, "datagrams_oversized", c.datagrams_oversized);
  doc.add_u64(g, "streams_accepted", c.streams_accepted);
  doc.add_u64(g, "streams_opened", c.streams_opened);
  doc.add_u64(g, "streams_failed", c.streams_failed);
  doc.add_u64(g, "streams_refused", c.streams_refused);
  doc.add_u64(g, "frames_rejected", c.frames_rejected);
  cJSON* drops = doc.add_object(g, "dropped");
  for (size_t i = 1; i < c.envelope_dropped.size(); ++i) {
    doc.add_u64(drops, gossip::crypto::drop_reason_name(static_cast<gossip::crypto::DropReason>(i)), c.envelope_dropped[i]);
  }
  const gossip::SwimCounters& sc = transport_->swim_counters();
  doc.add_u64(drops, "decode_errors", sc.decode_errors);
  doc.add_u64(drops, "invalid_messages", sc.invalid_messages);
  doc.add_u64(drops, "unknown_messages", sc.unknown_messages);
  doc.add_u64(g, "user_events_received", sc.user_events_received);
  doc.add_u64(g, "user_events_before_join", sc.user_events_before_join);
  doc.add_u64(g, "user_events_held", sc.user_events_held);
  doc.add_u64(g, "user_events_held_dropped", sc.user_events_held_dropped);
}

void Membership::add_routes(http::Router& router) {
  auto bind = [this](void (Membership::*fn)(http::Request&, http::Responder)) {
    return [this, fn](http::Request& q, http::Responder r) { (this->*fn)(q, std::move(r)); };
  };
  router.add("GET", "/v1/agent/members", bind(&Membership::handle_members));
  router.add_prefix("PUT", "/v1/agent/join/", bind(&Membership::handle_join));
  router.add("PUT", "/v1/agent/leave", bind(&Membership::handle_leave));
  router.add_prefix("PUT", "/v1/agent/force-leave/", bind(&Membership::handle_force_leave));
  router.add_prefix("PUT", "/v1/event/fire/", bind(&Membership::handle_event_fire));
  router.add("GET", "/v1/event/list", bind(&Membership::handle_event_list));
  for (const char* m : {"GET", "POST", "PUT", "DELETE"}) router.add(m, "/v1/operator/keyring", bind(&Membership::handle_keyring));
  router.add("GET", "/v1/agent/tags", bind(&Membership::handle_tags));
  router.add("PUT", "/v1/agent/tags", bind(&Membership::handle_tags));
}

void Membership::handle_members(http::Request&, http::Responder resp) {
  http::Json doc = http::Json::array();
  for (const auto& m : transport_->members()) {
    cJSON* o = doc.add_object(doc.get(), "");
    doc.add_string(o, "Name", m.name);
    doc.add_string(o, "Addr", m.addr.host_string());
    doc.add_i64(o, "Port", m.addr.port);
    cJSON* tags = doc.add_object(o, "Tags");
    for (const auto& [k, v] : m.tags) doc.add_string(tags, k, v);
    doc.add_i64(o, "Status", consul_status(m.state));
    // Serf's protocol range fields, as Consul reports them (clients only display them).
    doc.add_i64(o, "ProtocolMin", 1);
    doc.add_i64(o, "ProtocolMax", 1);
    doc.add_i64(o, "ProtocolCur", 1);
    doc.add_i64(o, "DelegateMin", 1);
    doc.add_i64(o, "DelegateMax", 1);
    doc.add_i64(o, "DelegateCur", 1);
    // Weft's own: the SWIM state (suspect is visible here) and the incarnation.
    doc.add_string(o, "State", gossip::member_state_name(m.state));
    doc.add_u64(o, "Incarnation", m.incarnation);
  }
  resp.send(http::json_response(200, doc));
}

void Membership::handle_join(http::Request& req, http::Responder resp) {
  auto addr = hal::SockAddr::parse(req.path_rest(), config_.ports.gossip);
  if (!addr.is_ok()) {
    resp.send(http::Response::error(400, "join address: " + addr.status().message()));
    return;
  }
  // ?replay (Serf's `join -replay`): deliver the user events the fleet fired before the join.
  bool replay = false;
  if (const std::string* r = req.query_value("replay")) {
    if (r->empty() || *r == "1" || *r == "true") {
      replay = true;
    } else if (*r != "0" && *r != "false") {
      resp.send(http::Response::error(400, "replay: want true or false"));
      return;
    }
  }
  hal::SockAddr a = *addr;
  base::Status s = transport_->join(std::span<const hal::SockAddr>(&a, 1), /*ignore_old_events=*/!replay);
  if (!s.is_ok()) {
    resp.send(http::Response::error(500, s.message()));
    return;
  }
  AGENT_LOG_INFO(log_, kModule, "joining through %s (API%s)", a.to_string().c_str(),
                 replay ? ", replaying the fleet's earlier user events" : "");
  resp.send(http::Response::json(200, ""));
}

void Membership::handle_leave(http::Request&, http::Responder resp) {
  auto holder = std::make_shared<http::Responder>(std::move(resp));
  std::weak_ptr<bool> alive = alive_;
  base::Status s = transport_->leave(kLeaveTimeout, [this, alive, holder](base::Status done) {
    if (alive.expired()) return;
    AGENT_LOG_INFO(log_, kModule, "left the fleet%s", done.is_ok() ? "" : " (timed out spreading the notice)");
    holder->send(http::Response::json(200, ""));
    if (on_left_) on_left_();
  });
  if (!s.is_ok()) holder->send(http::Response::error(409, s.message()));
}

void Membership::handle_force_leave(http::Request& req, http::Responder resp) {
  std::string name(req.path_rest());
  base::Status s = transport_->force_leave(name);
  if (!s.is_ok()) {
    resp.send(http::Response::error(s.code() == base::Code::kNotFound ? 404 : 400, s.message()));
    return;
  }
  AGENT_LOG_INFO(log_, kModule, "force-leave %s (API)", name.c_str());
  resp.send(http::Response::json(200, ""));
}

void Membership::handle_event_fire(http::Request& req, http::Responder resp) {
  std::string name(req.path_rest());
  if (name.empty() || name.size() > 128 || name.rfind(kInternalPrefix, 0) == 0) {
    resp.send(http::Response::error(400, "event name: 1..128 bytes, not starting with \"weft:\""));
    return;
  }
  if (req.body.size() > kEventPayloadBytesMax) {
    resp.send(http::Response::error(413, "event payload: at most 512 bytes"));
    return;
  }
  base::Status s = transport_->send_user_event(name, req.body);
  if (!s.is_ok()) {
    resp.send(http::Response::error(400, s.message()));
    return;
  }
  http::Json doc = http::Json::object();
  doc.add_string("ID", random_uuid(*env_.entropy));
  doc.add_string("Name", name);
  if (req.body.empty()) doc.add_null(doc.get(), "Payload");
  else doc.add_string("Payload", hal::crypto::base64_encode(base::as_bytes(req.body)));
  doc.add_string("NodeFilter", "");
  doc.add_string("ServiceFilter", "");
  doc.add_string("TagFilter", "");
  doc.add_i64("Version", 1);
  doc.add_u64("LTime", transport_->swim() ? transport_->swim()->event_ltime() : 0);
  resp.send(http::json_response(200, doc));
}

void Membership::handle_event_list(http::Request& req, http::Responder resp) {
  const std::string* only = req.query_value("name");
  http::Json doc = http::Json::array();
  for (const auto& e : transport_->recent_user_events()) {
    if (e.name.rfind(kInternalPrefix, 0) == 0) continue;
    if (only && e.name != *only) continue;
    cJSON* o = doc.add_object(doc.get(), "");
    // Events carry no id on the wire; the Lamport time and name identify one.
    doc.add_string(o, "ID", std::to_string(e.ltime) + "-" + e.name);
    doc.add_string(o, "Name", e.name);
    if (e.payload.empty()) doc.add_null(o, "Payload");
    else doc.add_string(o, "Payload", hal::crypto::base64_encode(base::as_bytes(e.payload)));
    doc.add_string(o, "NodeFilter", "");
    doc.add_string(o, "ServiceFilter", "");
    doc.add_string(o, "TagFilter", "");
    doc.add_i64(o, "Version", 1);
    doc.add_u64(o, "LTime", e.ltime);
  }
  http::Response r = http::json_response(200, doc);
  r.set_header("X-Consul-Index", std::to_string(transport_->swim() ? transport_->swim()->event_ltime() : 0));
  resp.send(std::move(r));
}

// GET lists, per key id, how many alive members hold it (from their "kr" tags); POST installs,
// PUT uses, DELETE removes -- on this node at once and on the others as the event spreads.
void Membership::handle_keyring(http::Request& req, http::Responder resp) {
  if (req.method == "GET") {
    std::map<std::string, int64_t> keys, primary;
    int64_t nodes = 0;
    for (const auto& m : transport_->members()) {
      if (m.state != gossip::MemberState::kAlive && m.state != gossip::MemberState::kSuspect) continue;
      ++nodes;
      auto it = m.tags.find("kr");
      if (it == m.tags.end()) continue;
      for (std::string id : split(it->second, ',')) {
        bool is_primary = !id.empty() && id[0] == '*';
        if (is_primary) id.erase(0, 1);
        ++keys[id];
        if (is_primary) ++primary[id];
      }
    }
    http::Json doc = http::Json::array();
    cJSON* o = doc.add_object(doc.get(), "");
    doc.add_bool(o, "WAN", false);
    doc.add_string(o, "Datacenter", config_.datacenter);
    doc.add_string(o, "Segment", "");
    cJSON* k = doc.add_object(o, "Keys");
    for (const auto& [id, n] : keys) doc.add_i64(k, id, n);
    cJSON* p = doc.add_object(o, "PrimaryKeys");
    for (const auto& [id, n] : primary) doc.add_i64(p, id, n);
    doc.add_i64(o, "NumNodes", nodes);
    doc.add_bool(o, "Encrypted", keyring_ != nullptr);
    resp.send(http::json_response(200, doc));
    return;
  }
  std::string key;
  if (!body_key(req, &key)) {
    resp.send(http::Response::error(400, "want a JSON body {\"Key\": \"<base64 key or key id>\"}"));
    return;
  }
  std::string_view op = req.method == "POST" ? "install" : req.method == "PUT" ? "use" : "remove";
  base::Status s = apply_keyring_op(op, key, /*local=*/true);
  hal::crypto::secure_zero(key.data(), key.size());
  if (!s.is_ok()) {
    int status = s.code() == base::Code::kNotFound ? 404 : s.code() == base::Code::kIo ? 500 : 400;
    resp.send(http::Response::error(status, s.message()));
    return;
  }
  resp.send(http::Response::json(200, ""));
}

// GET answers this node's tags and the run-time overrides; PUT {"Set": {...}, "Delete": [...]}
// changes labels (membership.h): checked whole, persisted, then gossiped; answers like GET.
void Membership::handle_tags(http::Request& req, http::Responder resp) {
  if (req.method == "GET") {
    resp.send(tags_response());
    return;
  }
  if (transport_->swim() != nullptr && transport_->swim()->leaving()) {
    resp.send(http::Response::error(409, "this node is leaving the fleet; its tags no longer change"));
    return;
  }
  auto change = parse_tag_change(req.body);
  if (!change.is_ok()) {
    const int status = change.status().code() == base::Code::kResourceExhausted ? 413 : 400;
    resp.send(http::Response::error(status, change.status().message()));
    return;
  }
  base::Status st = check_tag_change(*change, /*allow_empty=*/false);
  if (!st.is_ok()) {
    resp.send(http::Response::error(400, st.message()));
    return;
  }
  const gossip::Tags configured = configured_tags();
  TagChange merged = merge_overrides(tag_overrides_, *change, configured);
  gossip::Tags next = configured;
  apply_overrides(merged, &next);
  const size_t bytes = wire::encoded_tags_bytes(next);
  if (bytes > wire::kTagsBytesMax || next.size() > wire::kTagCountMax) {
    resp.send(http::Response::error(
        400, "the node's tags would take " + std::to_string(bytes) + " bytes encoded in " + std::to_string(next.size()) +
                 " tags; gossip carries at most " + std::to_string(wire::kTagsBytesMax) + " bytes and " +
                 std::to_string(wire::kTagCountMax) + " tags per member; nothing was changed"));
    return;
  }
  if (merged != tag_overrides_) {
    const std::string text = encode_tag_change(merged) + "\n";
    st = env_.fs->write_file(tags_path_, base::as_bytes(text), 0600, /*durable=*/true);
    if (!st.is_ok()) {
      // Whether the file holds the change is unknown now (STYLE.md: never retry a failed fsync);
      // a restart reads what it holds.
      AGENT_LOG_ERROR(log_, kModule, "cannot persist the tags in %s: %s; stopping", tags_path_.c_str(),
                      st.to_string().c_str());
      resp.send(http::Response::error(500, "cannot persist the tags: " + st.message()));
      loop_.stop();
      return;
    }
    tag_overrides_ = std::move(merged);
    st = transport_->set_tags(make_tags());
    if (!st.is_ok()) {
      resp.send(http::Response::error(500, st.message()));
      return;
    }
    std::string what;
    for (const auto& [k, v] : change->set) what += (what.empty() ? "set " : ", set ") + k + "=" + v;
    for (const auto& k : change->remove) what += (what.empty() ? "deleted " : ", deleted ") + k;
    AGENT_LOG_INFO(log_, kModule, "tags changed (API): %s", what.c_str());
  }
  resp.send(tags_response());
}

http::Response Membership::tags_response() const {
  http::Json doc = http::Json::object();
  doc.add_string("Node", config_.node_name);
  cJSON* tags = doc.add_object(doc.get(), "Tags");
  const gossip::Member* self = transport_->swim() ? transport_->swim()->member(config_.node_name) : nullptr;
  for (const auto& [k, v] : self ? self->tags : make_tags()) doc.add_string(tags, k, v);
  cJSON* o = doc.add_object(doc.get(), "Overrides");
  cJSON* set = doc.add_object(o, "Set");
  for (const auto& [k, v] : tag_overrides_.set) doc.add_string(set, k, v);
  cJSON* del = doc.add_array(o, "Delete");
  for (const auto& k : tag_overrides_.remove) doc.add_string(del, "", k);
  doc.add_string("OverridesFile", tags_path_);
  return http::json_response(200, doc);
}

}  // namespace agent
