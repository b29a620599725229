// See client.h. Layout: helpers; start, timers and transitions; messages sent; replies received;
// the lease built from an ACK.
#include "boot/dhcp/client.h"

#include <algorithm>
#include <cstring>

namespace dhcp {
namespace {

using base::Duration;
using base::MonoTime;

// The options asked for in DISCOVER and REQUEST (option 55): mask, broadcast, router, DNS, host
// name, domain, MTU, classless routes.
constexpr uint8_t kParameters[] = {kOptSubnetMask, kOptBroadcast,  kOptRouter, kOptDnsServer,
                                   kOptHostname,   kOptDomainName, kOptMtu,    kOptClasslessRoutes};

// An address a client may take as its own: not 0/8, loopback, multicast, class E or broadcast.
bool is_unicast(Ipv4 a) {
  const uint32_t first = a >> 24;
  return first != 0 && first != 127 && first < 224;
}

// RFC 1123 §2.1 host name characters, dot-separated labels of 1..63 bytes, at most `max` bytes.
bool valid_name(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    (c == '-' && label > 0);
    if (!ok || ++label > 63) return false;
  }
  return true;
}

uint8_t classful_prefix_len(Ipv4 a) {
  const uint32_t first = a >> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

}  // namespace

std::string_view state_name(State s) {
  switch (s) {
    case State::kStopped:
      return "STOPPED";
    case State::kInit:
      return "INIT";
    case State::kSelecting:
      return "SELECTING";
    case State::kRequesting:
      return "REQUESTING";
    case State::kBound:
      return "BOUND";
    case State::kRenewing:
      return "RENEWING";
    case State::kRebinding:
      return "REBINDING";
    case State::kInitReboot:
      return "INIT-REBOOT";
    case State::kRebooting:
      return "REBOOTING";
  }
  return "?";
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kMalformed:
      return "malformed";
    case Verdict::kNotReply:
      return "not_reply";
    case Verdict::kUnexpected:
      return "unexpected";
    case Verdict::kWrongXid:
      return "wrong_xid";
    case Verdict::kWrongChaddr:
      return "wrong_chaddr";
    case Verdict::kWrongServer:
      return "wrong_server";
    case Verdict::kInvalid:
      return "invalid";
  }
  return "?";
}

Client::Client(ClientConfig config, uint64_t seed) : config_(std::move(config)), prng_(seed) {
  AGENT_ASSERT(config_.retransmit_jitter >= Duration::zero());
  AGENT_ASSERT(config_.retransmit_initial > config_.retransmit_jitter);
  AGENT_ASSERT(config_.retransmit_max >= config_.retransmit_initial);
  AGENT_ASSERT(config_.renew_retransmit_min > Duration::zero());
  AGENT_ASSERT(config_.request_tries_max >= 1);
  AGENT_ASSERT(config_.max_message_bytes >= 576 && config_.max_message_bytes <= kMessageBytesMax);
  AGENT_ASSERT(config_.client_id.size() != 1 && config_.client_id.size() <= 255);
  AGENT_ASSERT(config_.hostname.size() <= 63);
  if (config_.client_id.empty()) {
    config_.client_id.push_back(static_cast<char>(kHtypeEthernet));
    config_.client_id.append(reinterpret_cast<const char*>(config_.mac.data()), config_.mac.size());
  }
}

// --- start, timers, transitions ---

void Client::start(MonoTime now, std::optional<Ipv4> remembered) {
  AGENT_ASSERT(state_ == State::kStopped);
  Duration wait = Duration::zero();
  if (config_.init_delay_max > Duration::zero()) {
    wait = Duration::millis(prng_.range(0, config_.init_delay_max.ms()));
  }
  if (remembered && is_unicast(*remembered)) {
    requested_ = *remembered;
    hint_ = *remembered;
    state_ = State::kInitReboot;
    init_at_ = now + wait;
  } else {
    enter_init(now, wait);
  }
  on_tick(now);
}

void Client::enter_init(MonoTime now, Duration wait) {
  state_ = State::kInit;
  init_at_ = now + wait;
  retransmit_at_ = MonoTime::never();
  requested_ = 0;
  offered_ = 0;
  offer_server_ = 0;
}

void Client::new_exchange(MonoTime now) {
  xid_ = static_cast<uint32_t>(prng_.next_u64());
  exchange_start_ = now;
  transmissions_ = 0;
}

void Client::on_tick(MonoTime now) {
  // Each pass either returns (nothing more is due) or moves to a state whose timers lie later;
  // the longest chain is BOUND -> expired -> INIT -> SELECTING.
  for (int pass = 0; pass < 8; ++pass) {
    switch (state_) {
      case State::kStopped:
        return;
      case State::kInit:
        if (now < init_at_) return;
        new_exchange(now);
        state_ = State::kSelecting;
        send_discover(now);
        break;
      case State::kInitReboot:
        if (now < init_at_) return;
        new_exchange(now);
        state_ = State::kRebooting;
        send_request(now);
        break;
      case State::kSelecting:
        if (now < retransmit_at_) return;
        ++counters_.retransmits;
        send_discover(now);
        break;
      case State::kRequesting:
      case State::kRebooting:
        if (now < retransmit_at_) return;
        if (transmissions_ >= config_.request_tries_max) {
          // §4.4.1: "the client reverts to INIT state and restarts the initialization process",
          // asking for the same address again.
          ++counters_.request_timeouts;
          hint_ = state_ == State::kRequesting ? offered_ : requested_;
          enter_init(now, Duration::zero());
        } else {
          ++counters_.retransmits;
          send_request(now);
        }
        break;
      case State::kBound:
        if (now >= lease_->expires_at)
          expire(now);
        else if (now >= lease_->rebind_at)
          enter_rebinding(now);
        else if (now >= lease_->renew_at)
          enter_renewing(now);
        else
          return;
        break;
      case State::kRenewing:
        if (now >= lease_->expires_at) {
          expire(now);
        } else if (now >= lease_->rebind_at) {
          enter_rebinding(now);
        } else if (now >= retransmit_at_) {
          ++counters_.retransmits;
          send_request(now);
          arm_renew_retransmit(now, lease_->rebind_at);
        } else {
          return;
        }
        break;
      case State::kRebinding:
        if (now >= lease_->expires_at) {
          expire(now);
        } else if (now >= retransmit_at_) {
          ++counters_.retransmits;
          send_request(now);
          arm_renew_retransmit(now, lease_->expires_at);
        } else {
          return;
        }
        break;
    }
  }
  AGENT_UNREACHABLE();
}

MonoTime Client::next_wakeup() const {
  switch (state_) {
    case State::kStopped:
      return MonoTime::never();
    case State::kInit:
    case State::kInitReboot:
      return init_at_;
    case State::kSelecting:
    case State::kRequesting:
    case State::kRebooting:
      return retransmit_at_;
    case State::kBound:
      return lease_->renew_at;
    case State::kRenewing:
      return std::min({retransmit_at_, lease_->rebind_at, lease_->expires_at});
    case State::kRebinding:
      return std::min(retransmit_at_, lease_->expires_at);
  }
  return MonoTime::never();
}

// §4.4.5: T1 starts RENEWING with a new exchange.
void Client::enter_renewing(MonoTime now) {
  state_ = State::kRenewing;
  new_exchange(now);
  send_request(now);
  arm_renew_retransmit(now, lease_->rebind_at);
}

// §4.4.5: T2 starts REBINDING, broadcast to any server.
void Client::enter_rebinding(MonoTime now) {
  state_ = State::kRebinding;
  new_exchange(now);
  send_request(now);
  arm_renew_retransmit(now, lease_->expires_at);
}

void Client::expire(MonoTime now) {
  ++counters_.expiries;
  hint_ = lease_->address;
  drop_lease(now);
  enter_init(now, Duration::zero());
}

// Deconfigures the lease in force. A configure of it that the caller has not taken yet is
// withdrawn instead; a deconfigure is due only if the caller holds an address (from an earlier
// take_effects()) that no pending deconfigure removes already. The address is the same either
// way: every ACK of a lease's renewals names the address it started with.
void Client::drop_lease(MonoTime now) {
  AGENT_ASSERT(lease_.has_value());
  std::vector<Action>& a = effects_.actions;
  a.erase(std::remove_if(a.begin(), a.end(),
                         [](const Action& x) { return x.kind == Action::Kind::kConfigure; }),
          a.end());
  const bool pending = std::any_of(
      a.begin(), a.end(), [](const Action& x) { return x.kind == Action::Kind::kDeconfigure; });
  if (caller_holds_lease_ && !pending) push_lease(Action::Kind::kDeconfigure, *lease_);
  lease_.reset();
}

void Client::push_lease(Action::Kind kind, const Lease& lease) {
  Action a;
  a.kind = kind;
  a.lease = lease;
  effects_.actions.push_back(std::move(a));
}

// §4.1: the n-th wait is min(initial * 2^(n-1), max), randomized by +-jitter.
Duration Client::backoff(uint32_t transmissions) {
  Duration wait = config_.retransmit_initial;
  for (uint32_t i = 1; i < transmissions && wait < config_.retransmit_max; ++i) wait = wait * 2;
  if (wait > config_.retransmit_max) wait = config_.retransmit_max;
  const int64_t jitter_ms = config_.retransmit_jitter.ms();
  return wait + Duration::millis(prng_.range(-jitter_ms, jitter_ms));
}

void Client::arm_retransmit(MonoTime now) { retransmit_at_ = now + backoff(transmissions_); }

// §4.4.5: "wait one-half of the remaining time until T2 (in RENEWING state) and one-half of the
// remaining lease time (in REBINDING state), down to a minimum of 60 seconds", but never past
// `limit`, where the next state takes over.
void Client::arm_renew_retransmit(MonoTime now, MonoTime limit) {
  Duration wait = (limit - now) / 2;
  if (wait < config_.renew_retransmit_min) wait = config_.renew_retransmit_min;
  retransmit_at_ = std::min(now + wait, limit);
}

// --- messages sent ---

Message Client::base_message(MessageType type, MonoTime now) const {
  Message m;
  m.op = kOpRequest;
  m.htype = kHtypeEthernet;
  m.hlen = 6;
  m.xid = xid_;
  const int64_t secs = (now - exchange_start_).sec();
  m.secs = static_cast<uint16_t>(secs < 0 ? 0 : secs > 0xffff ? 0xffff : secs);
  std::memcpy(m.chaddr.data(), config_.mac.data(), config_.mac.size());
  m.type = type;
  m.client_id = config_.client_id;
  if (type == MessageType::kDiscover || type == MessageType::kRequest) {
    m.max_message_bytes = config_.max_message_bytes;
    m.parameter_list.assign(std::begin(kParameters), std::end(kParameters));
    m.hostname = config_.hostname;
  }
  return m;
}

void Client::emit(const Message& m, bool broadcast, Ipv4 to) {
  auto bytes = encode(m);
  // Every field comes from our config (checked at construction) or a decoded reply.
  AGENT_ASSERT_MSG(bytes.is_ok(), bytes.status().message().c_str());
  Action a;
  a.kind = Action::Kind::kSend;
  a.send = Send{.type = m.type,
                .bytes = std::move(bytes).value(),
                .broadcast = broadcast,
                .to = broadcast ? 0 : to};
  effects_.actions.push_back(std::move(a));
  ++counters_.sends;
}

void Client::send_discover(MonoTime now) {
  Message m = base_message(MessageType::kDiscover, now);
  if (config_.broadcast_flag) m.flags = kFlagBroadcast;
  if (hint_ != 0) m.requested_ip = hint_;  // Table 5: MAY, a former address
  discover_secs_ = m.secs;
  emit(m, true, 0);
  ++transmissions_;
  arm_retransmit(now);
}

// RFC 2131 Table 5 and §4.3.2: what a REQUEST carries depends on the state it is sent from.
void Client::send_request(MonoTime now) {
  if (transmissions_ == 0) first_sent_ = now;
  Message m = base_message(MessageType::kRequest, now);
  switch (state_) {
    case State::kRequesting:  // SELECTING's answer: 50 and 54, the DISCOVER's secs
      if (config_.broadcast_flag) m.flags = kFlagBroadcast;
      m.secs = discover_secs_;
      m.requested_ip = offered_;
      m.server_id = offer_server_;
      emit(m, true, 0);
      break;
    case State::kRebooting:  // INIT-REBOOT: 50, no 54, ciaddr 0
      if (config_.broadcast_flag) m.flags = kFlagBroadcast;
      m.requested_ip = requested_;
      emit(m, true, 0);
      break;
    case State::kRenewing:  // ciaddr, neither 50 nor 54, unicast to the server
      m.ciaddr = lease_->address;
      emit(m, false, lease_->server_id);
      break;
    case State::kRebinding:  // ciaddr, neither 50 nor 54, broadcast
      m.ciaddr = lease_->address;
      emit(m, true, 0);
      break;
    default:
      AGENT_UNREACHABLE();
  }
  ++transmissions_;
  if (state_ == State::kRequesting || state_ == State::kRebooting) arm_retransmit(now);
}

void Client::release(MonoTime now) {
  if (lease_) {
    // §4.4.6 and Table 5: a new xid, ciaddr, option 54, no 50; unicast to the server from the
    // leased address, which is dropped after it.
    new_exchange(now);
    Message m = base_message(MessageType::kRelease, now);
    m.secs = 0;
    m.ciaddr = lease_->address;
    m.server_id = lease_->server_id;
    emit(m, false, lease_->server_id);
    ++counters_.releases;
    drop_lease(now);
  }
  state_ = State::kStopped;
  retransmit_at_ = MonoTime::never();
  init_at_ = MonoTime::never();
}

base::Status Client::decline(MonoTime now) {
  if (!lease_) return base::error(base::Code::kFailedPrecondition, "no lease to decline");
  // §4.4.1 and Table 5: ciaddr 0, options 50 and 54, broadcast -- after the address is gone, so
  // that it leaves from 0.0.0.0; then a wait before INIT.
  const Lease declined = *lease_;
  drop_lease(now);
  new_exchange(now);
  Message m = base_message(MessageType::kDecline, now);
  m.secs = 0;
  m.requested_ip = declined.address;
  m.server_id = declined.server_id;
  emit(m, true, 0);
  ++counters_.declines;
  hint_ = 0;
  enter_init(now, config_.decline_wait);
  return base::Status::ok();
}

Effects Client::take_effects() {
  Effects out = std::move(effects_);
  effects_ = Effects{};
  for (const Action& a : out.actions) {
    if (a.kind == Action::Kind::kDeconfigure) caller_holds_lease_ = false;
    if (a.kind == Action::Kind::kConfigure) caller_holds_lease_ = true;
  }
  return out;
}

// --- replies received ---

Verdict Client::ignore(Verdict v) {
  ++counters_.ignored[static_cast<size_t>(v)];
  return v;
}

Verdict Client::on_packet(std::span<const uint8_t> bytes, MonoTime now) {
  ++counters_.packets_in;
  Message m;
  const DecodeError e = decode(bytes, &m);
  if (e != DecodeError::kNone) {
    ++counters_.decode_errors[static_cast<size_t>(e)];
    return Verdict::kMalformed;
  }
  if (m.op != kOpReply) return ignore(Verdict::kNotReply);
  switch (state_) {
    case State::kSelecting:
    case State::kRequesting:
    case State::kRebooting:
    case State::kRenewing:
    case State::kRebinding:
      break;
    default:
      return ignore(Verdict::kUnexpected);  // no exchange in flight
  }
  if (m.xid != xid_) return ignore(Verdict::kWrongXid);
  if (m.htype != kHtypeEthernet || m.hlen != 6 ||
      std::memcmp(m.chaddr.data(), config_.mac.data(), config_.mac.size()) != 0) {
    return ignore(Verdict::kWrongChaddr);
  }
  Verdict v = Verdict::kUnexpected;
  switch (m.type) {
    case MessageType::kOffer:
      v = on_offer(m, now);
      break;
    case MessageType::kAck:
      v = on_ack(m, now);
      break;
    case MessageType::kNak:
      v = on_nak(m, now);
      break;
    default:
      break;
  }
  if (v != Verdict::kAccepted) return ignore(v);
  on_tick(now);  // a NAK's INIT may send its DISCOVER at once
  return v;
}

Verdict Client::on_offer(const Message& m, MonoTime now) {
  if (state_ != State::kSelecting) return Verdict::kUnexpected;  // e.g. a second server's OFFER
  if (!m.server_id || !is_unicast(*m.server_id) || !is_unicast(m.yiaddr)) return Verdict::kInvalid;
  ++counters_.offers;
  offered_ = m.yiaddr;
  offer_server_ = *m.server_id;
  state_ = State::kRequesting;
  transmissions_ = 0;  // the same exchange (xid, secs), a new message
  send_request(now);
  return Verdict::kAccepted;
}

Verdict Client::on_ack(const Message& m, MonoTime now) {
  Ipv4 expected_address = 0;
  Ipv4 expected_server = 0;  // 0: any server may answer
  switch (state_) {
    case State::kRequesting:
      expected_address = offered_;
      expected_server = offer_server_;
      break;
    case State::kRebooting:
      expected_address = requested_;
      break;
    case State::kRenewing:
      expected_address = lease_->address;
      expected_server = lease_->server_id;
      break;
    case State::kRebinding:
      expected_address = lease_->address;
      break;
    default:
      return Verdict::kUnexpected;
  }
  // RENEWING unicasts to the server id, so it has to be an address one can unicast to.
  if (!m.server_id || !is_unicast(*m.server_id)) return Verdict::kInvalid;
  if (expected_server != 0 && *m.server_id != expected_server) return Verdict::kWrongServer;
  if (m.yiaddr != expected_address || !m.lease_time_s || *m.lease_time_s == 0)
    return Verdict::kInvalid;
  ++counters_.acks;
  lease_ = lease_from(m);
  push_lease(Action::Kind::kConfigure, *lease_);
  state_ = State::kBound;
  retransmit_at_ = MonoTime::never();
  naks_ = 0;
  hint_ = 0;
  requested_ = 0;
  return Verdict::kAccepted;
}

Verdict Client::on_nak(const Message& m, MonoTime now) {
  Ipv4 expected_server = 0;
  switch (state_) {
    case State::kRequesting:
      expected_server = offer_server_;
      break;
    case State::kRenewing:
      expected_server = lease_->server_id;
      break;
    case State::kRebooting:
    case State::kRebinding:
      break;
    default:
      return Verdict::kUnexpected;
  }
  if (expected_server != 0 && m.server_id != expected_server) return Verdict::kWrongServer;
  ++counters_.naks;
  ++naks_;
  hint_ = 0;  // the server refused the address: do not ask for it again
  if (lease_) drop_lease(now);
  enter_init(now, naks_ <= 1 ? Duration::zero() : backoff(naks_ - 1));
  return Verdict::kAccepted;
}

Lease Client::lease_from(const Message& ack) const {
  Lease l;
  l.address = ack.yiaddr;
  // A mask of 0.0.0.0 says nothing about the link: treated as absent.
  const int from_mask = ack.subnet_mask ? mask_prefix_len(*ack.subnet_mask) : 0;
  l.prefix_len = from_mask > 0 ? static_cast<uint8_t>(from_mask) : classful_prefix_len(ack.yiaddr);
  l.broadcast = ack.broadcast ? *ack.broadcast : (l.address | ~prefix_mask(l.prefix_len));
  l.server_id = *ack.server_id;
  if (!ack.classless_routes.empty()) {
    // RFC 3442: "the DHCP client MUST ignore the Router option" when this one is present.
    for (const Route& r : ack.classless_routes) {
      if (r.prefix_len == 0) {
        if (l.router == 0) l.router = r.router;
      } else {
        l.routes.push_back(r);
      }
    }
  } else if (!ack.routers.empty()) {
    l.router = ack.routers.front();
  }
  l.dns_servers = ack.dns_servers;
  if (valid_name(ack.hostname, 63)) l.hostname = ack.hostname;
  if (valid_name(ack.domain_name, 253)) l.domain_name = ack.domain_name;
  l.mtu = ack.mtu.value_or(0);

  // §4.4.5 defaults and the T1 < T2 < lease order; see the file comment.
  l.acquired = first_sent_;
  if (*ack.lease_time_s == kLeaseInfinite) {
    l.lease_time = l.t1 = l.t2 = Duration::infinite();
    l.renew_at = l.rebind_at = l.expires_at = MonoTime::never();
    return l;
  }
  l.lease_time = Duration::seconds(*ack.lease_time_s);
  l.t2 = ack.rebinding_time_s ? Duration::seconds(*ack.rebinding_time_s) : Duration::zero();
  if (l.t2 <= Duration::zero() || l.t2 >= l.lease_time) l.t2 = l.lease_time / 8 * 7;
  l.t1 = ack.renewal_time_s ? Duration::seconds(*ack.renewal_time_s) : Duration::zero();
  if (l.t1 <= Duration::zero() || l.t1 >= l.t2) l.t1 = l.lease_time / 2;
  if (l.t1 >= l.t2) l.t1 = l.t2 / 2;
  l.renew_at = l.acquired + l.t1;
  l.rebind_at = l.acquired + l.t2;
  l.expires_at = l.acquired + l.lease_time;
  return l;
}

}  // namespace dhcp
