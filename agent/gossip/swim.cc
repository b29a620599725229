// The SWIM + Lifeguard state machine (swim.h). The file is organised as: construction and
// commands; inputs (datagrams, push-pull); the state rules for alive / suspect / dead / leave
// (SWIM 4.2, memberlist state.go's aliveNode / suspectNode / deadNode); timers (probe, gossip,
// push-pull, reap); sending and the tables' helpers.
#include "agent/gossip/swim.h"

#include <algorithm>
#include <cmath>

#include "agent/base/assert.h"

namespace gossip {

namespace {

// Broadcast queue keys: news about a member replaces older news about it ("m/<name>"); user
// events are keyed by their content, so a re-gossiped event replaces nothing else.
std::string member_key(std::string_view name) {
  std::string k = "m/";
  k.append(name);
  return k;
}

std::string event_key(uint64_t ltime, std::string_view name, std::string_view payload) {
  std::string k = "e/" + std::to_string(ltime) + "/";
  k.append(name);
  k.push_back('/');
  k.append(payload);
  return k;
}

bool valid_name(std::string_view n) { return !n.empty() && n.size() <= wire::kNodeNameBytesMax; }

bool valid_addr(const hal::SockAddr& a) {
  return (a.family == hal::AddrFamily::kIpv4 || a.family == hal::AddrFamily::kIpv6) && a.port != 0;
}

bool is_live(MemberState s) { return s == MemberState::kAlive || s == MemberState::kSuspect; }

}  // namespace

std::string_view member_event_name(MemberEventKind k) {
  switch (k) {
    case MemberEventKind::kJoin: return "member-join";
    case MemberEventKind::kUpdate: return "member-update";
    case MemberEventKind::kSuspect: return "member-suspect";
    case MemberEventKind::kAlive: return "member-alive";
    case MemberEventKind::kFail: return "member-failed";
    case MemberEventKind::kLeave: return "member-leave";
    case MemberEventKind::kReap: return "member-reap";
  }
  return "unknown";
}

base::Status Swim::validate_identity(const SwimIdentity& id) {
  if (!valid_name(id.name)) {
    return base::error(base::Code::kInvalidArgument, "gossip: node name must be 1..%zu bytes", wire::kNodeNameBytesMax);
  }
  if (!valid_addr(id.advertise)) {
    return base::error(base::Code::kInvalidArgument, "gossip: advertise address needs an IPv4/IPv6 address and port");
  }
  if (wire::encoded_tags_bytes(id.tags) > wire::kTagsBytesMax || id.tags.size() > wire::kTagCountMax) {
    return base::error(base::Code::kInvalidArgument, "gossip: tags over %zu bytes encoded", wire::kTagsBytesMax);
  }
  return base::Status::ok();
}

Swim::Swim(SwimConfig config, SwimIdentity identity, uint64_t seed, base::MonoTime now)
    : config_(std::move(config)),
      identity_(std::move(identity)),
      prng_(seed),
      incarnation_(initial_incarnation(identity_.generation)),
      awareness_(config_.awareness_max),
      broadcasts_(config_.broadcast_queue_max),
      event_buffer_(config_.event_buffer_ltimes, config_.events_per_ltime_max) {
  AGENT_ASSERT_MSG(config_.validate().is_ok(), "invalid SwimConfig");
  AGENT_ASSERT_MSG(validate_identity(identity_).is_ok(), "invalid SwimIdentity");
  Node self;
  self.m.name = identity_.name;
  self.m.addr = identity_.advertise;
  self.m.incarnation = incarnation_;
  self.m.state = MemberState::kAlive;
  self.m.tags = identity_.tags;
  self.m.state_change = now;
  members_.emplace(identity_.name, std::move(self));
  alive_count_ = 1;
  // Spread the timers of a fleet started at one instant over one period each, so members do not
  // probe and gossip in lockstep.
  next_probe_ = now + base::Duration::nanos(static_cast<int64_t>(prng_.uniform(config_.probe_interval.ns())));
  next_gossip_ = now + base::Duration::nanos(static_cast<int64_t>(prng_.uniform(config_.gossip_interval.ns())));
  next_push_pull_ = now + config_.push_pull_interval +
                    base::Duration::nanos(static_cast<int64_t>(prng_.uniform(config_.push_pull_interval.ns())));
  next_reconnect_ = now + config_.reconnect_interval;
  next_rejoin_ = now + config_.rejoin_interval;
  next_reap_ = now + base::Duration::seconds(1);
  broadcast_alive_self();
}

Swim::~Swim() = default;

// --- commands -------------------------------------------------------------------------------------

base::Status Swim::join(std::span<const hal::SockAddr> addrs, base::MonoTime now, bool ignore_old_events) {
  size_t used = 0;
  const uint64_t join_id = ++join_calls_;
  for (const auto& a : addrs) {
    if (join_addrs_.size() >= 64) break;
    if (!valid_addr(a) || a == identity_.advertise) continue;
    if (std::find(join_addrs_.begin(), join_addrs_.end(), a) == join_addrs_.end()) join_addrs_.push_back(a);
    // Serf's eventJoinIgnore, per address (the exchange is asynchronous here): see swim.h.
    auto floor = std::find_if(join_floors_.begin(), join_floors_.end(), [&](const JoinFloor& f) { return f.addr == a; });
    if (!ignore_old_events) {
      if (floor != join_floors_.end()) join_floors_.erase(floor);
    } else if (floor != join_floors_.end()) {
      // A new join through the address; exchanges with it still in flight answer for it too.
      *floor = JoinFloor{a, join_id, false, false, floor->exchanges_in_flight};
    } else {
      join_floors_.push_back(JoinFloor{a, join_id, false, false, 0});
    }
    // A join is the operator's explicit request: it may exceed push_pulls_in_flight_max.
    ++push_pulls_in_flight_;
    ++counters_.push_pulls_opened;
    if (effects_.push_pulls.size() < config_.effects_max) {
      effects_.push_pulls.push_back(PushPullOpen{a, encode_state(true), true});
      join_floor_exchange_opened(a);
    } else {
      --push_pulls_in_flight_;
      ++counters_.effects_dropped;
    }
    ++used;
  }
  if (used > 0) {
    rejoin_backoff_ = std::min(base::Duration::seconds(1), config_.rejoin_interval);
    next_rejoin_ = std::min(next_rejoin_, now + rejoin_backoff_);
  }
  // A replaying join may have ended the floor that events were held for.
  release_held_events(now);
  if (used == 0) return base::error(base::Code::kInvalidArgument, "gossip: no usable join address");
  return base::Status::ok();
}

base::Status Swim::leave(base::MonoTime now) {
  if (leaving_) return base::error(base::Code::kFailedPrecondition, "gossip: already leaving");
  leaving_ = true;
  probe_.active = false;
  Node& self = members_.at(identity_.name);
  set_state(self, MemberState::kLeft, now);
  queue_leave_notice();
  left_queued_ = true;
  emit(MemberEventKind::kLeave, self.m, now);
  return base::Status::ok();
}

void Swim::queue_leave_notice() {
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kLeave;
  msg.leave.incarnation = incarnation_;
  msg.leave.name = identity_.name;
  queue_broadcast(member_key(identity_.name), msg, /*urgent=*/true);
}

bool Swim::leave_done() const {
  if (!leaving_) return false;
  // Nobody else to tell, or the notice went out its retransmit limit with at least one of
  // those sends to a member that was alive (tick_gossip queues it again otherwise).
  return !any_other_alive() || (!broadcasts_.contains(member_key(identity_.name)) && leave_told_alive_);
}

bool Swim::any_other_alive() const {
  if (alive_count_ == 0) return false;
  for (const auto& name : names_) {
    if (name != identity_.name && members_.at(name).m.state == MemberState::kAlive) return true;
  }
  return false;
}

base::Status Swim::set_tags(Tags tags, base::MonoTime now) {
  if (wire::encoded_tags_bytes(tags) > wire::kTagsBytesMax || tags.size() > wire::kTagCountMax) {
    return base::error(base::Code::kInvalidArgument, "gossip: tags over %zu bytes encoded", wire::kTagsBytesMax);
  }
  if (leaving_) return base::error(base::Code::kFailedPrecondition, "gossip: leaving");
  identity_.tags = std::move(tags);
  // New metadata is a new statement about ourselves: it needs a new incarnation to win over
  // the old alive messages still in flight (SWIM 4.2 ordering).
  ++incarnation_;
  Node& self = members_.at(identity_.name);
  self.m.incarnation = incarnation_;
  self.m.tags = identity_.tags;
  broadcast_alive_self();
  emit(MemberEventKind::kUpdate, self.m, now);
  return base::Status::ok();
}

base::Status Swim::send_user_event(std::string_view name, std::string_view payload, base::MonoTime now) {
  if (name.empty() || name.size() > wire::kEventNameBytesMax) {
    return base::error(base::Code::kInvalidArgument, "gossip: event name must be 1..%zu bytes", wire::kEventNameBytesMax);
  }
  if (payload.size() > wire::kEventPayloadBytesMax) {
    return base::error(base::Code::kInvalidArgument, "gossip: event payload over %zu bytes", wire::kEventPayloadBytesMax);
  }
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kUserEvent;
  msg.event.ltime = event_clock_.increment();
  msg.event.name = std::string(name);
  msg.event.payload = std::string(payload);
  if (wire::encoded_message_bytes(msg) + 2 > config_.packet_bytes_max) {
    return base::error(base::Code::kInvalidArgument, "gossip: event does not fit a packet");
  }
  (void)event_buffer_.record(msg.event.ltime, name, payload, event_clock_.time());
  ++counters_.user_events_sent;
  // Serf delivers a member's own events to it too.
  ReceivedUserEvent ev{msg.event.ltime, msg.event.name, msg.event.payload, now};
  recent_events_.push_back(ev);
  while (recent_events_.size() > config_.recent_events_max) recent_events_.pop_front();
  if (effects_.user_events.size() < config_.effects_max) effects_.user_events.push_back(std::move(ev));
  queue_broadcast(event_key(msg.event.ltime, name, payload), msg, false);
  return base::Status::ok();
}

base::Status Swim::force_leave(std::string_view name, base::MonoTime now) {
  auto it = members_.find(name);
  if (it == members_.end()) return base::error(base::Code::kNotFound, "gossip: no member %.*s", static_cast<int>(name.size()), name.data());
  if (name == identity_.name) return base::error(base::Code::kFailedPrecondition, "gossip: cannot force-leave ourselves");
  Node& n = it->second;
  if (n.m.state == MemberState::kAlive) {
    return base::error(base::Code::kFailedPrecondition, "gossip: member %s is alive; only failed members can be force-left",
                       n.m.name.c_str());
  }
  if (n.m.state == MemberState::kLeft) return base::Status::ok();
  wire::Leave l;
  l.incarnation = n.m.incarnation;
  l.name = n.m.name;
  handle_leave(l, now);
  return base::Status::ok();
}

Effects Swim::take_effects() {
  Effects out = std::move(effects_);
  effects_ = Effects{};
  return out;
}

std::vector<Member> Swim::members() const {
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [name, n] : members_) out.push_back(n.m);
  return out;
}

const Member* Swim::member(std::string_view name) const {
  auto it = members_.find(name);
  return it == members_.end() ? nullptr : &it->second.m;
}

// --- inputs ---------------------------------------------------------------------------------------

void Swim::on_datagram(const hal::SockAddr& from, base::ByteSpan bytes, base::MonoTime now) {
  ++counters_.datagrams_in;
  std::vector<wire::GossipMessage> msgs;
  size_t unknown = 0;
  base::Status st = wire::decode_packet(bytes, &msgs, &unknown);
  counters_.unknown_messages += unknown;
  if (!st.is_ok()) {
    ++counters_.decode_errors;
    return;
  }
  for (auto& m : msgs) handle_message(from, m, now);
}

base::Result<std::string> Swim::on_push_pull(const hal::SockAddr& from, base::ByteSpan request, base::MonoTime now) {
  wire::PushPull pp;
  base::Status st = wire::decode_push_pull(request, &pp);
  if (!st.is_ok()) {
    ++counters_.decode_errors;
    return st;
  }
  (void)from;
  ++counters_.push_pulls_served;
  merge_state(pp, now);
  return encode_state(false);
}

void Swim::on_push_pull_reply(const hal::SockAddr& to, base::ByteSpan reply, base::MonoTime now) {
  if (push_pulls_in_flight_ > 0) --push_pulls_in_flight_;
  wire::PushPull pp;
  if (!wire::decode_push_pull(reply, &pp).is_ok()) {
    ++counters_.decode_errors;
    ++counters_.push_pulls_failed;
    join_floor_failed(to, now);
    return;
  }
  // Serf's MergeRemoteState with eventJoinIgnore: the floor goes up before the reply's events
  // are looked at, so none of them is delivered.
  auto floor = std::find_if(join_floors_.begin(), join_floors_.end(), [&](const JoinFloor& f) { return f.addr == to; });
  if (floor != join_floors_.end()) {
    const uint64_t join_id = floor->join_id;
    if (pp.event_ltime < UINT64_MAX) event_min_ltime_ = std::max(event_min_ltime_, pp.event_ltime + 1);
    join_floors_.erase(floor);
    // This join has happened: its addresses that could not be reached no longer set a floor; the
    // ones still in flight do when they answer (Serf applies every reply of one Join call).
    std::erase_if(join_floors_, [&](const JoinFloor& f) { return f.join_id == join_id && f.failed; });
    for (auto& f : join_floors_) {
      if (f.join_id == join_id) f.joined = true;
    }
  }
  merge_state(pp, now);
  // The events held while this answer was on its way meet the floor it set.
  release_held_events(now);
}

void Swim::on_push_pull_failed(const hal::SockAddr& to, base::MonoTime now) {
  if (push_pulls_in_flight_ > 0) --push_pulls_in_flight_;
  ++counters_.push_pulls_failed;
  join_floor_failed(to, now);
}

void Swim::join_floor_exchange_opened(const hal::SockAddr& to) {
  auto floor = std::find_if(join_floors_.begin(), join_floors_.end(), [&](const JoinFloor& f) { return f.addr == to; });
  if (floor != join_floors_.end()) ++floor->exchanges_in_flight;
}

void Swim::join_floor_failed(const hal::SockAddr& to, base::MonoTime now) {
  auto floor = std::find_if(join_floors_.begin(), join_floors_.end(), [&](const JoinFloor& f) { return f.addr == to; });
  if (floor == join_floors_.end()) return;
  if (floor->exchanges_in_flight > 0) --floor->exchanges_in_flight;
  if (floor->joined) {
    join_floors_.erase(floor);  // the join went through another address
  } else {
    floor->failed = true;  // retry-join tries it again; its first answer sets the floor
  }
  // No floor came of it: what was held meanwhile goes through the floor we have (if no other
  // exchange that sets one is still outstanding).
  release_held_events(now);
}

void Swim::handle_message(const hal::SockAddr& from, wire::GossipMessage& msg, base::MonoTime now) {
  switch (msg.type) {
    case wire::GossipType::kPing: handle_ping(from, msg.ping, now); break;
    case wire::GossipType::kIndirectPing: handle_indirect(from, msg.indirect, now); break;
    case wire::GossipType::kAck: handle_ack(msg.ack.seq, now); break;
    case wire::GossipType::kNack: handle_nack(msg.nack.seq); break;
    case wire::GossipType::kAlive: handle_alive(msg.alive, now, false); break;
    case wire::GossipType::kSuspect: handle_suspect(msg.suspect, now); break;
    case wire::GossipType::kDead: handle_dead(msg.dead, now); break;
    case wire::GossipType::kLeave: handle_leave(msg.leave, now); break;
    case wire::GossipType::kUserEvent: handle_user_event(msg.event, now); break;
  }
}

void Swim::handle_ping(const hal::SockAddr& from, const wire::Ping& p, base::MonoTime now) {
  // A ping meant for a previous owner of this address (or a misconfigured peer) is not ours to
  // answer: acking it would vouch for a member that may be gone (memberlist does the same).
  if (p.target != identity_.name) {
    ++counters_.pings_for_others;
    return;
  }
  // Lifeguard IV.C, the buddy system: the prober tells us we are suspected.
  if (p.has_buddy) {
    wire::Suspect s;
    s.incarnation = p.buddy_incarnation;
    s.name = identity_.name;
    s.from = p.buddy_from;
    handle_suspect(s, now);
  }
  wire::GossipMessage ack;
  ack.type = wire::GossipType::kAck;
  ack.ack.seq = p.seq;
  send(from, {ack}, true);
}

void Swim::handle_indirect(const hal::SockAddr& from, const wire::IndirectPing& p, base::MonoTime now) {
  if (!valid_name(p.target) || !valid_addr(p.target_addr)) {
    ++counters_.invalid_messages;
    return;
  }
  if (relays_.size() >= config_.relays_max) {
    ++counters_.relays_dropped_full;
    return;
  }
  ++counters_.relays;
  const uint32_t seq = next_seq_++;
  Relay r;
  r.their_seq = p.seq;
  // Answer where the request came from, not where it says it came from: a forged source address
  // cannot turn us into a reflector towards a third party.
  r.requester = from;
  r.want_nack = p.want_nack;
  // Lifeguard IV-A: the relay nacks at 80% of the probe timeout. The requester sent us this at
  // its probe start + probe_timeout and gives up at probe start + probe_interval (= 2x the
  // timeout in every profile), so a nack sent at a full timeout arrives just as the requester
  // stops listening; it then counts the nack as missing and blames its own health -- healthy
  // members' awareness scores rose while one peer was hung (tests/bench/RESULTS.md).
  r.nack_at = now + config_.probe_timeout * 8 / 10;
  relays_.emplace(seq, r);
  wire::GossipMessage ping;
  ping.type = wire::GossipType::kPing;
  ping.ping.seq = seq;
  ping.ping.target = p.target;
  ping.ping.source = identity_.name;
  ping.ping.source_addr = identity_.advertise;
  send(p.target_addr, {ping}, true);
}

void Swim::handle_ack(uint32_t seq, base::MonoTime now) {
  (void)now;
  if (probe_.active && seq == probe_.seq) {
    // SWIM 3.1: a direct or relayed ack within the protocol period ends the probe. Lifeguard
    // IV.A: a successful probe is evidence of our own health.
    probe_.active = false;
    probe_.acked = true;
    awareness_.apply_delta(-1);
    return;
  }
  auto it = relays_.find(seq);
  if (it == relays_.end()) return;  // late or unknown: harmless
  wire::GossipMessage ack;
  ack.type = wire::GossipType::kAck;
  ack.ack.seq = it->second.their_seq;
  const hal::SockAddr to = it->second.requester;
  relays_.erase(it);
  send(to, {ack}, true);
}

void Swim::handle_nack(uint32_t seq) {
  if (probe_.active && seq == probe_.seq && probe_.nacks < probe_.nacks_expected) {
    ++probe_.nacks;
    ++counters_.nacks_received;
  }
}

// SWIM 4.2 / memberlist aliveNode: an alive statement wins only with a higher incarnation than
// the one we hold -- the member itself is the only one that raises it.
void Swim::handle_alive(const wire::Alive& a, base::MonoTime now, bool from_push_pull) {
  (void)from_push_pull;
  if (!valid_name(a.name) || !valid_addr(a.addr)) {
    ++counters_.invalid_messages;
    return;
  }
  if (a.name == identity_.name) {
    if (leaving_ || a.incarnation < incarnation_) return;
    if (a.incarnation == incarnation_ && a.addr == identity_.advertise && a.tags == identity_.tags) return;
    // Someone speaks for us with our incarnation or a newer one but different content: an older
    // life of ours, or a name conflict. Restate who we are above it.
    refute(a.incarnation, now);
    return;
  }
  auto it = members_.find(a.name);
  if (it == members_.end()) {
    if (members_.size() >= config_.members_max) {
      ++counters_.members_rejected_full;
      return;
    }
    Node n;
    n.m.name = a.name;
    n.m.addr = a.addr;
    n.m.incarnation = a.incarnation;
    n.m.state = MemberState::kAlive;
    n.m.tags = a.tags;
    n.m.state_change = now;
    it = members_.emplace(a.name, std::move(n)).first;
    names_.push_back(a.name);
    insert_probe_order(a.name);
    ++alive_count_;
    emit(MemberEventKind::kJoin, it->second.m, now);
    wire::GossipMessage msg;
    msg.type = wire::GossipType::kAlive;
    msg.alive = a;
    queue_broadcast(member_key(a.name), msg, false);
    return;
  }
  Node& n = it->second;
  if (a.incarnation <= n.m.incarnation) return;
  const MemberState prev = n.m.state;
  const bool changed = !(n.m.addr == a.addr) || n.m.tags != a.tags;
  n.m.incarnation = a.incarnation;
  n.m.addr = a.addr;
  n.m.tags = a.tags;
  if (prev != MemberState::kAlive) {
    set_state(n, MemberState::kAlive, now);
    if (prev != MemberState::kSuspect) insert_probe_order(a.name);
    emit(prev == MemberState::kSuspect ? MemberEventKind::kAlive : MemberEventKind::kJoin, n.m, now);
  } else if (changed) {
    emit(MemberEventKind::kUpdate, n.m, now);
  }
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kAlive;
  msg.alive = a;
  queue_broadcast(member_key(a.name), msg, false);
}

// A fresh suspicion timer for `n` at the accused incarnation, its full Lifeguard timeout running
// from now (IV.B: min..max by the fleet's size, shortened by later confirmations).
void Swim::start_suspicion(Node& n, const wire::Suspect& s, base::MonoTime now) {
  n.m.incarnation = s.incarnation;
  n.suspicion = std::make_unique<Suspicion>(
      suspicion_timeouts(config_.suspicion_mult, config_.suspicion_max_timeout_mult, alive_count_, config_.probe_interval),
      now, s.from);
  ++counters_.suspicions_started;
}

bool Swim::answer_accusation(std::string_view name, uint64_t incarnation, std::string_view from,
                             base::MonoTime now) {
  if (!valid_name(name) || !valid_name(from)) {
    ++counters_.invalid_messages;
    return true;
  }
  if (name != identity_.name) return false;
  if (leaving_ || config_.test_disable_refutation) return true;
  if (incarnation >= incarnation_) refute(incarnation, now);
  // Departure (targeted refutation): besides gossiping the refutation, answer the accuser
  // directly -- also when we already refuted this incarnation for someone else. Gossip reaches
  // each member with high probability only; an accuser that misses the refutation declares a
  // live member dead when its timer runs out, which Lifeguard's slow-member experiment
  // shows is exactly when it hurts. Bounded by the accusations that arrive.
  refute_to(from);
  return true;
}

// SWIM 4.2 / memberlist suspectNode, with Lifeguard's confirmations (IV.B).
void Swim::handle_suspect(const wire::Suspect& s, base::MonoTime now) {
  if (answer_accusation(s.name, s.incarnation, s.from, now)) return;
  auto it = members_.find(s.name);
  if (it == members_.end()) return;
  Node& n = it->second;
  if (s.incarnation < n.m.incarnation) return;  // about an incarnation already refuted
  if (n.m.state == MemberState::kDead || n.m.state == MemberState::kLeft) return;
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kSuspect;
  msg.suspect = s;
  if (n.m.state == MemberState::kSuspect && s.incarnation == n.m.incarnation) {
    // Lifeguard IV.B: an independent confirmation shortens the timeout; re-gossip it so others
    // count it too.
    if (n.suspicion && n.suspicion->confirm(s.from)) queue_broadcast(member_key(s.name), msg, false);
    return;
  }
  if (n.m.state == MemberState::kSuspect) {
    // A suspicion of a newer incarnation: the member refuted the one we hold (we just have not
    // heard the refutation yet). The new suspicion starts its own full timeout -- carrying the
    // old timer over would kill the member for the old accusation it already answered.
    start_suspicion(n, s, now);
    queue_broadcast(member_key(s.name), msg, false);
    return;
  }
  set_state(n, MemberState::kSuspect, now);
  start_suspicion(n, s, now);
  emit(MemberEventKind::kSuspect, n.m, now);
  queue_broadcast(member_key(s.name), msg, false);
}

void Swim::handle_dead(const wire::Dead& d, base::MonoTime now) {
  if (answer_accusation(d.name, d.incarnation, d.from, now)) return;
  auto it = members_.find(d.name);
  if (it == members_.end()) return;
  Node& n = it->second;
  if (d.incarnation < n.m.incarnation) return;
  if (n.m.state == MemberState::kDead || n.m.state == MemberState::kLeft) return;
  n.m.incarnation = d.incarnation;
  set_state(n, MemberState::kDead, now);
  ++counters_.members_declared_dead;
  emit(MemberEventKind::kFail, n.m, now);
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kDead;
  msg.dead = d;
  queue_broadcast(member_key(d.name), msg, true);
}

void Swim::handle_leave(const wire::Leave& l, base::MonoTime now) {
  if (!valid_name(l.name)) {
    ++counters_.invalid_messages;
    return;
  }
  auto it = members_.find(l.name);
  if (it == members_.end()) return;
  Node& n = it->second;
  if (l.incarnation < n.m.incarnation || n.m.state == MemberState::kLeft) return;
  if (l.name == identity_.name) {
    // A leave in our name while we are not leaving: an operator's force-leave of what they
    // thought was a failed node, or an older life's notice. We are here; say so.
    if (leaving_ || config_.test_disable_refutation) return;
    refute(l.incarnation, now);
    return;
  }
  n.m.incarnation = l.incarnation;
  set_state(n, MemberState::kLeft, now);
  emit(MemberEventKind::kLeave, n.m, now);
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kLeave;
  msg.leave = l;
  queue_broadcast(member_key(l.name), msg, true);
}

void Swim::handle_user_event(const wire::UserEvent& e, base::MonoTime now) {
  if (e.name.empty()) {
    ++counters_.invalid_messages;
    return;
  }
  event_clock_.witness(e.ltime);
  if (e.ltime < event_min_ltime_) {
    // Fired before we joined and the join asked to ignore those (Serf's eventMinTime).
    ++counters_.user_events_before_join;
    return;
  }
  // A join's answer is on its way and may raise the floor above this event (join()).
  if (join_floor_pending()) {
    hold_user_event(e);
    return;
  }
  accept_user_event(e, now);
}

bool Swim::join_floor_pending() const {
  if (config_.test_disable_join_event_hold) return false;
  return std::any_of(join_floors_.begin(), join_floors_.end(), [](const JoinFloor& f) { return f.exchanges_in_flight > 0; });
}

void Swim::hold_user_event(const wire::UserEvent& e) {
  for (const auto& h : held_events_) {
    if (h.ltime == e.ltime && h.name == e.name && h.payload == e.payload) {
      ++counters_.user_events_duplicate;
      return;
    }
  }
  ++counters_.user_events_held;
  if (held_events_.size() < config_.join_held_events_max) {
    held_events_.push_back(e);
    return;
  }
  // Full: the lowest Lamport time goes (config.h, join_held_events_max).
  ++counters_.user_events_held_dropped;
  auto lowest = std::min_element(held_events_.begin(), held_events_.end(),
                                 [](const wire::UserEvent& a, const wire::UserEvent& b) { return a.ltime < b.ltime; });
  if (lowest->ltime < e.ltime) *lowest = e;
}

void Swim::release_held_events(base::MonoTime now) {
  if (held_events_.empty() || join_floor_pending()) return;
  std::vector<wire::UserEvent> held = std::move(held_events_);
  held_events_.clear();
  std::stable_sort(held.begin(), held.end(), [](const wire::UserEvent& a, const wire::UserEvent& b) { return a.ltime < b.ltime; });
  for (const auto& e : held) {
    if (e.ltime < event_min_ltime_) {
      ++counters_.user_events_before_join;  // the answer showed it older than the join
      continue;
    }
    accept_user_event(e, now);
  }
}

void Swim::accept_user_event(const wire::UserEvent& e, base::MonoTime now) {
  switch (event_buffer_.record(e.ltime, e.name, e.payload, event_clock_.time())) {
    case EventVerdict::kNew: break;
    case EventVerdict::kDuplicate: ++counters_.user_events_duplicate; return;
    case EventVerdict::kStale:
    case EventVerdict::kSlotFull: ++counters_.user_events_stale; return;
  }
  ++counters_.user_events_received;
  ReceivedUserEvent ev{e.ltime, e.name, e.payload, now};
  recent_events_.push_back(ev);
  while (recent_events_.size() > config_.recent_events_max) recent_events_.pop_front();
  if (effects_.user_events.size() < config_.effects_max) {
    effects_.user_events.push_back(std::move(ev));
  } else {
    ++counters_.effects_dropped;
  }
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kUserEvent;
  msg.event = e;
  queue_broadcast(event_key(e.ltime, e.name, e.payload), msg, false);
}

void Swim::refute(uint64_t accused_incarnation, base::MonoTime now) {
  ++counters_.refutations;
  incarnation_ = std::max(incarnation_, accused_incarnation) + 1;
  Node& self = members_.at(identity_.name);
  self.m.incarnation = incarnation_;
  // Lifeguard IV.A: being suspected is a sign we may be the slow one.
  awareness_.apply_delta(1);
  broadcast_alive_self();
  // Departure: the refutation also goes straight to up to kRefuteFanoutMax random live members.
  // A refutation is rare and the most time-critical news there is: every member holding the
  // suspicion must hear it before its timer runs out, and gossip's lambda log n transmissions
  // miss a member now and then (with a member slowed down enough to be suspected over and over,
  // "now and then" becomes a false death within minutes in simulation). Bounded per refutation.
  constexpr size_t kRefuteFanoutMax = 32;
  for (const Node* n : random_members(kRefuteFanoutMax, "", false, now)) refute_to(n->m.name);
}

void Swim::refute_to(std::string_view accuser) {
  if (accuser == identity_.name) return;
  auto it = members_.find(accuser);
  if (it == members_.end() || !is_live(it->second.m.state)) return;
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kAlive;
  msg.alive.incarnation = incarnation_;
  msg.alive.name = identity_.name;
  msg.alive.addr = identity_.advertise;
  msg.alive.tags = identity_.tags;
  send(it->second.m.addr, {msg}, true);
}

void Swim::set_state(Node& n, MemberState s, base::MonoTime now) {
  const MemberState prev = n.m.state;
  if (prev == s) return;
  if (is_live(prev) && !is_live(s)) --alive_count_;
  if (!is_live(prev) && is_live(s)) ++alive_count_;
  if (prev == MemberState::kSuspect) {
    n.suspicion.reset();
    suspects_.erase(n.m.name);
  }
  if (s == MemberState::kSuspect) suspects_.insert(n.m.name);
  n.m.state = s;
  n.m.state_change = now;
}

void Swim::emit(MemberEventKind kind, const Member& m, base::MonoTime now) {
  if (effects_.member_events.size() >= config_.effects_max) {
    ++counters_.effects_dropped;
    return;
  }
  effects_.member_events.push_back(MemberEvent{kind, m, now});
}

void Swim::broadcast_alive_self() {
  wire::GossipMessage msg;
  msg.type = wire::GossipType::kAlive;
  msg.alive.incarnation = incarnation_;
  msg.alive.name = identity_.name;
  msg.alive.addr = identity_.advertise;
  msg.alive.tags = identity_.tags;
  queue_broadcast(member_key(identity_.name), msg, false);
}

void Swim::queue_broadcast(const std::string& key, const wire::GossipMessage& msg, bool urgent) {
  std::string encoded;
  base::ByteWriter w(&encoded, config_.packet_bytes_max);
  wire::encode_message(msg, w);
  if (!w.ok()) return;  // cannot be: names and tags are bounded well under a packet
  broadcasts_.queue(key, std::move(encoded), urgent);
}

// --- timers ---------------------------------------------------------------------------------------

base::MonoTime Swim::next_deadline() const {
  // The reap check needs no wake-up of its own: it rides on the probe tick, which comes every
  // probe interval, and reap times are minutes to hours.
  base::MonoTime t = std::min({next_push_pull_, next_reconnect_, next_rejoin_});
  // The gossip tick only matters with news to send: an idle member does not wake five times a
  // second for nothing (most of an idle agent's CPU time is the wake-up itself). News queued
  // after a quiet spell goes out at once, then at most once per gossip interval.
  if (!broadcasts_.empty()) t = std::min(t, next_gossip_);
  if (!leaving_) {
    if (probe_.active) {
      t = std::min(t, probe_.indirect_sent ? probe_.end_at : std::min(probe_.timeout_at, probe_.end_at));
    } else {
      t = std::min(t, next_probe_);
    }
  }
  for (const auto& name : suspects_) {
    auto it = members_.find(name);
    if (it != members_.end() && it->second.suspicion) t = std::min(t, it->second.suspicion->deadline());
  }
  for (const auto& [seq, r] : relays_) t = std::min(t, r.nack_at);
  return t;
}

void Swim::on_tick(base::MonoTime now) {
  tick_relays(now);
  tick_probe(now);
  tick_suspicions(now);
  tick_gossip(now);
  tick_push_pull(now);
  tick_reap(now);
  // Every timer that was due has moved on: a deadline left at or before now would spin the loop.
  AGENT_ASSERT_MSG(next_deadline() > now, "gossip: a timer did not advance");
}

void Swim::tick_probe(base::MonoTime now) {
  if (leaving_) return;
  if (probe_.active) {
    if (!probe_.indirect_sent && now >= probe_.timeout_at) {
      // SWIM 3.1: ask k members to ping the target for us. Lifeguard IV.A: ask them for a nack
      // when they get no answer, so silence from them tells us about our own health.
      probe_.indirect_sent = true;
      auto it = members_.find(probe_.target);
      if (it != members_.end()) {
        auto relays = random_members(config_.indirect_checks, probe_.target, false, now);
        for (const Node* r : relays) {
          wire::GossipMessage m;
          m.type = wire::GossipType::kIndirectPing;
          m.indirect.seq = probe_.seq;
          m.indirect.target = probe_.target;
          m.indirect.target_addr = it->second.m.addr;
          m.indirect.source = identity_.name;
          m.indirect.source_addr = identity_.advertise;
          m.indirect.want_nack = true;
          send(r->m.addr, {m}, true);
          ++counters_.indirect_probes;
        }
        probe_.nacks_expected = static_cast<uint32_t>(relays.size());
      }
    }
    if (now >= probe_.end_at) finish_probe(now);
  }
  if (!probe_.active && now >= next_probe_) start_probe(now);
}

void Swim::start_probe(base::MonoTime now) {
  // Lifeguard IV.A: the local health multiplier stretches the period and the timeout.
  const base::Duration interval = awareness_.scale(config_.probe_interval);
  next_probe_ = now + interval;
  std::string target;
  if (!next_probe_target(&target)) return;
  Node& n = members_.at(target);
  probe_ = Probe{};
  probe_.active = true;
  probe_.target = target;
  probe_.seq = next_seq_++;
  probe_.start = now;
  probe_.timeout_at = now + awareness_.scale(config_.probe_timeout);
  probe_.end_at = now + interval;
  ++counters_.probes;
  wire::GossipMessage ping;
  ping.type = wire::GossipType::kPing;
  ping.ping.seq = probe_.seq;
  ping.ping.target = target;
  ping.ping.source = identity_.name;
  ping.ping.source_addr = identity_.advertise;
  if (n.m.state == MemberState::kSuspect) {
    // Lifeguard IV.C, the buddy system: tell the suspect, directly, that it is suspected.
    ping.ping.has_buddy = true;
    ping.ping.buddy_incarnation = n.m.incarnation;
    ping.ping.buddy_from = identity_.name;
  }
  send(n.m.addr, {ping}, true);
}

void Swim::finish_probe(base::MonoTime now) {
  probe_.active = false;
  ++counters_.probes_failed;
  // Lifeguard IV.A: each expected nack that did not come suggests our own links are the
  // problem; with no indirect probers at all we can only blame ourselves by one.
  int32_t delta = 0;
  if (probe_.nacks_expected > 0) {
    if (probe_.nacks < probe_.nacks_expected) delta = static_cast<int32_t>(probe_.nacks_expected - probe_.nacks);
  } else {
    delta = 1;
  }
  awareness_.apply_delta(delta);
  auto it = members_.find(probe_.target);
  if (it == members_.end() || !is_live(it->second.m.state)) return;
  wire::Suspect s;
  s.incarnation = it->second.m.incarnation;
  s.name = probe_.target;
  s.from = identity_.name;
  handle_suspect(s, now);
}

void Swim::tick_suspicions(base::MonoTime now) {
  std::vector<std::string> expired;
  for (const auto& name : suspects_) {
    auto it = members_.find(name);
    if (it != members_.end() && it->second.suspicion && now >= it->second.suspicion->deadline()) expired.push_back(name);
  }
  for (const auto& name : expired) {
    Node& n = members_.at(name);
    wire::Dead d;
    d.incarnation = n.m.incarnation;
    d.name = name;
    d.from = identity_.name;
    handle_dead(d, now);
  }
}

void Swim::tick_relays(base::MonoTime now) {
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (now < it->second.nack_at) {
      ++it;
      continue;
    }
    if (it->second.want_nack) {
      wire::GossipMessage nack;
      nack.type = wire::GossipType::kNack;
      nack.nack.seq = it->second.their_seq;
      const hal::SockAddr to = it->second.requester;
      it = relays_.erase(it);
      send(to, {nack}, false);
    } else {
      it = relays_.erase(it);
    }
  }
}

void Swim::tick_gossip(base::MonoTime now) {
  if (now < next_gossip_) return;
  next_gossip_ = now + config_.gossip_interval;
  if (broadcasts_.empty()) return;
  // memberlist's gossip(): a few random members, the recently dead among them, so that a
  // member declared dead by mistake hears it and refutes.
  auto targets = random_members(config_.gossip_nodes, "", true, now);
  const std::string leave_key = leaving_ ? member_key(identity_.name) : std::string();
  for (const Node* t : targets) {
    if (broadcasts_.empty()) break;
    // The leave notice is urgent, so it rides in this packet if it is still queued.
    if (leaving_ && t->m.state == MemberState::kAlive && broadcasts_.contains(leave_key)) leave_told_alive_ = true;
    send(t->m.addr, {}, true);
  }
  // A leave notice whose whole retransmit budget went to suspect and recently dead members
  // told nobody who will pass it on (seen with two of four members killed: the survivor never
  // heard the leave and took the suspicion timeout to mark us failed). Queue it again; the
  // agent bounds how long a leave may take.
  if (leaving_ && !leave_told_alive_ && !broadcasts_.contains(leave_key) && any_other_alive()) {
    queue_leave_notice();
    ++counters_.leave_notices_requeued;
  }
}

void Swim::tick_push_pull(base::MonoTime now) {
  if (leaving_) {
    // A leaving member opens no new exchanges; its gossip keeps going until the leave is out.
    next_push_pull_ = next_reconnect_ = next_rejoin_ = base::MonoTime::never();
    return;
  }
  if (now >= next_push_pull_) {
    // memberlist's pushPullScale: beyond 32 members, stretch the interval with log2(n / 32) so
    // the fleet's total push-pull load grows slower than n.
    base::Duration interval = config_.push_pull_interval;
    if (alive_count_ > 32) {
      const double m = std::ceil(std::log2(static_cast<double>(alive_count_)) - std::log2(32.0)) + 1.0;
      interval = interval * static_cast<int64_t>(m);
    }
    next_push_pull_ = now + interval;
    auto t = random_members(1, "", false, now);
    if (!t.empty()) open_push_pull(t[0]->m.addr, false);
  }
  if (now >= next_reconnect_) {
    // Serf's reconnect: try one failed (not left) member, so a partition shorter than the
    // reap time heals even when no live member bridges it.
    next_reconnect_ = now + config_.reconnect_interval;
    std::vector<const Node*> dead;
    for (const auto& name : names_) {
      const Node& n = members_.at(name);
      if (n.m.state == MemberState::kDead) dead.push_back(&n);
    }
    if (!dead.empty()) open_push_pull(dead[prng_.uniform(dead.size())]->m.addr, false);
  }
  if (now >= next_rejoin_) {
    // Retry-join: a join address that is not a known live member may be the way back into the
    // rest of the fleet after a partition outlasted the reap time.
    std::vector<hal::SockAddr> missing;
    for (const auto& a : join_addrs_) {
      bool known = false;
      for (const auto& name : names_) {
        const Node& n = members_.at(name);
        if (n.m.addr == a && is_live(n.m.state)) {
          known = true;
          break;
        }
      }
      if (!known) missing.push_back(a);
    }
    if (!missing.empty()) {
      open_push_pull(missing[prng_.uniform(missing.size())], false);
      next_rejoin_ = now + rejoin_backoff_;
      rejoin_backoff_ = std::min(rejoin_backoff_ * 2, config_.rejoin_interval);
    } else {
      next_rejoin_ = now + config_.rejoin_interval;
      rejoin_backoff_ = config_.rejoin_interval;
    }
  }
}

void Swim::tick_reap(base::MonoTime now) {
  if (now < next_reap_) return;
  next_reap_ = now + base::Duration::seconds(1);
  std::vector<std::string> reaped;
  for (const auto& name : names_) {
    const Node& n = members_.at(name);
    if ((n.m.state == MemberState::kDead && now - n.m.state_change >= config_.dead_reap_timeout) ||
        (n.m.state == MemberState::kLeft && now - n.m.state_change >= config_.left_reap_timeout)) {
      reaped.push_back(name);
    }
  }
  if (reaped.empty()) return;
  for (const auto& name : reaped) {
    auto it = members_.find(name);
    emit(MemberEventKind::kReap, it->second.m, now);
    members_.erase(it);
    ++counters_.members_reaped;
  }
  std::set<std::string> gone(reaped.begin(), reaped.end());
  names_.erase(std::remove_if(names_.begin(), names_.end(), [&](const std::string& n) { return gone.count(n) != 0; }),
               names_.end());
}

// --- sending --------------------------------------------------------------------------------------

void Swim::send(const hal::SockAddr& to, std::vector<wire::GossipMessage> msgs, bool piggyback) {
  wire::PacketBuilder b(config_.packet_bytes_max);
  for (const auto& m : msgs) {
    const bool added = b.add(m);
    AGENT_ASSERT_MSG(added, "a protocol message does not fit a packet");
  }
  if (piggyback) {
    std::vector<std::string> news;
    broadcasts_.take(b.bytes_free(), 0, wire::kMessagesPerPacketMax - b.count(), retransmit_limit_now(), &news);
    for (const auto& n : news) (void)b.add_encoded(n);
  }
  if (b.empty()) return;
  push_effect_datagram(to, b.finish());
}

bool Swim::push_effect_datagram(const hal::SockAddr& to, std::string bytes) {
  if (effects_.datagrams.size() >= config_.effects_max) {
    ++counters_.effects_dropped;
    return false;
  }
  ++counters_.datagrams_out;
  effects_.datagrams.push_back(OutDatagram{to, std::move(bytes)});
  return true;
}

void Swim::open_push_pull(const hal::SockAddr& to, bool join) {
  if (push_pulls_in_flight_ >= config_.push_pulls_in_flight_max) return;
  if (effects_.push_pulls.size() >= config_.effects_max) {
    ++counters_.effects_dropped;
    return;
  }
  ++push_pulls_in_flight_;
  ++counters_.push_pulls_opened;
  effects_.push_pulls.push_back(PushPullOpen{to, encode_state(join), join});
  join_floor_exchange_opened(to);
}

std::string Swim::encode_state(bool join) const {
  wire::PushPull pp;
  pp.join = join;
  pp.event_ltime = event_clock_.time();
  pp.members.reserve(members_.size());
  for (const auto& [name, n] : members_) {
    wire::PushPullMember m;
    m.name = n.m.name;
    m.addr = n.m.addr;
    m.incarnation = n.m.incarnation;
    m.state = to_wire(n.m.state);
    m.tags = n.m.tags;
    pp.members.push_back(std::move(m));
  }
  const size_t first = recent_events_.size() > wire::kPushPullEventsMax ? recent_events_.size() - wire::kPushPullEventsMax : 0;
  for (size_t i = first; i < recent_events_.size(); ++i) {
    const ReceivedUserEvent& e = recent_events_[i];
    pp.events.push_back(wire::UserEvent{e.ltime, e.name, e.payload});
  }
  std::string out;
  wire::encode_push_pull(pp, &out);
  return out;
}

void Swim::merge_state(const wire::PushPull& pp, base::MonoTime now) {
  event_clock_.witness(pp.event_ltime);
  // Serf's push-pull carries recent events too: anti-entropy for what gossip missed.
  for (const auto& e : pp.events) handle_user_event(e, now);
  for (const auto& m : pp.members) {
    switch (m.state) {
      case wire::WireState::kAlive: {
        wire::Alive a;
        a.incarnation = m.incarnation;
        a.name = m.name;
        a.addr = m.addr;
        a.tags = m.tags;
        handle_alive(a, now, true);
        break;
      }
      case wire::WireState::kLeft: {
        wire::Leave l;
        l.incarnation = m.incarnation;
        l.name = m.name;
        handle_leave(l, now);
        break;
      }
      case wire::WireState::kDead:
      case wire::WireState::kSuspect: {
        // memberlist's mergeState: a remote "dead" becomes a local suspicion, so a stale view
        // cannot kill a member that is in fact alive; the suspect gets its chance to refute.
        wire::Suspect s;
        s.incarnation = m.incarnation;
        s.name = m.name;
        s.from = identity_.name;
        handle_suspect(s, now);
        break;
      }
    }
  }
}

// --- tables ---------------------------------------------------------------------------------------

void Swim::insert_probe_order(const std::string& name) {
  // SWIM 4.3: a new member goes in at a random position of the rest of this round, so it is
  // probed within the round without biasing the order.
  const size_t lo = std::min(probe_index_, probe_order_.size());
  const size_t pos = lo + prng_.uniform(probe_order_.size() - lo + 1);
  probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(pos), name);
}

bool Swim::next_probe_target(std::string* out) {
  // At most two passes: the rest of this round, then one fresh round.
  for (size_t guard = 0; guard < 2 * (probe_order_.size() + names_.size()) + 2; ++guard) {
    if (probe_index_ >= probe_order_.size()) {
      // SWIM 4.3: a new round in a fresh random order (Fisher-Yates).
      probe_order_.clear();
      for (const auto& n : names_) {
        if (is_live(members_.at(n).m.state)) probe_order_.push_back(n);
      }
      for (size_t i = probe_order_.size(); i > 1; --i) std::swap(probe_order_[i - 1], probe_order_[prng_.uniform(i)]);
      probe_index_ = 0;
      if (probe_order_.empty()) return false;
    }
    const std::string& name = probe_order_[probe_index_++];
    auto it = members_.find(name);
    if (it != members_.end() && is_live(it->second.m.state) && name != identity_.name) {
      *out = name;
      return true;
    }
  }
  return false;
}

std::vector<const Swim::Node*> Swim::random_members(size_t k, std::string_view exclude, bool include_recent_dead,
                                                    base::MonoTime now) {
  std::vector<const Node*> out;
  if (k == 0 || names_.empty()) return out;
  // Random draws with rejection, bounded: cheap for large fleets where most members qualify.
  // For small fleets a full scan follows if the draws came up short.
  std::set<std::string_view> chosen;
  auto ok = [&](const Node& n) {
    if (n.m.name == exclude) return false;
    if (is_live(n.m.state)) return true;
    return include_recent_dead && n.m.state == MemberState::kDead && now - n.m.state_change < config_.gossip_to_the_dead;
  };
  for (size_t tries = 0; tries < 4 * k + 8 && out.size() < k; ++tries) {
    const std::string& name = names_[prng_.uniform(names_.size())];
    const Node& n = members_.at(name);
    if (!ok(n) || chosen.count(name)) continue;
    chosen.insert(name);
    out.push_back(&n);
  }
  if (out.size() < k && names_.size() <= 64) {
    std::vector<const Node*> rest;
    for (const auto& name : names_) {
      const Node& n = members_.at(name);
      if (ok(n) && !chosen.count(name)) rest.push_back(&n);
    }
    while (out.size() < k && !rest.empty()) {
      const size_t i = prng_.uniform(rest.size());
      out.push_back(rest[i]);
      rest[i] = rest.back();
      rest.pop_back();
    }
  }
  return out;
}

uint32_t Swim::retransmit_limit_now() const { return retransmit_limit(config_.retransmit_mult, alive_count_); }

}  // namespace gossip
