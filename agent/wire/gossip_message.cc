// Encoders and decoders of the gossip wire format; the layout is documented in gossip_message.h.
// Decoders validate every length against the bounds there and return kInvalidArgument naming the
// field; they never assert on input.
#include "agent/wire/gossip_message.h"

namespace wire {

namespace {

base::Status bad(const char* what) { return base::error(base::Code::kInvalidArgument, "gossip: bad %s", what); }

void put_str(base::ByteWriter& w, std::string_view s) { w.str(s); }

// Reads a string of at most `max` bytes; fails the reader on a longer one.
bool get_str(base::ByteReader& r, size_t max, std::string* out) {
  std::string_view v = r.str(max);
  if (!r.ok()) return false;
  out->assign(v.data(), v.size());
  return true;
}

size_t varint_bytes(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

std::string_view gossip_type_name(GossipType type) {
  switch (type) {
    case GossipType::kPing: return "ping";
    case GossipType::kIndirectPing: return "indirect_ping";
    case GossipType::kAck: return "ack";
    case GossipType::kNack: return "nack";
    case GossipType::kAlive: return "alive";
    case GossipType::kSuspect: return "suspect";
    case GossipType::kDead: return "dead";
    case GossipType::kLeave: return "leave";
    case GossipType::kUserEvent: return "user_event";
  }
  return "unknown";
}

void encode_addr(const hal::SockAddr& addr, base::ByteWriter& w) {
  if (addr.family == hal::AddrFamily::kIpv6) {
    w.u8(6);
    w.raw(base::ByteSpan(addr.ip.data(), 16));
  } else {
    // IPv4 -- and, defensively, anything else, which encodes as 0.0.0.0 and is refused by
    // receivers as unreachable rather than crashing the sender.
    w.u8(4);
    w.raw(base::ByteSpan(addr.ip.data(), 4));
  }
  w.u16(addr.port);
}

base::Status decode_addr(base::ByteReader& r, hal::SockAddr* out) {
  *out = hal::SockAddr{};
  const uint8_t fam = r.u8();
  size_t n = 0;
  if (fam == 4) {
    out->family = hal::AddrFamily::kIpv4;
    n = 4;
  } else if (fam == 6) {
    out->family = hal::AddrFamily::kIpv6;
    n = 16;
  } else {
    return bad("address family");
  }
  base::ByteSpan ip = r.raw(n);
  if (!r.ok()) return bad("address");
  for (size_t i = 0; i < n; ++i) out->ip[i] = ip[i];
  out->port = r.u16();
  if (!r.ok()) return bad("port");
  return base::Status::ok();
}

size_t encoded_tags_bytes(const Tags& tags) {
  size_t n = varint_bytes(tags.size());
  for (const auto& [k, v] : tags) n += varint_bytes(k.size()) + k.size() + varint_bytes(v.size()) + v.size();
  return n;
}

void encode_tags(const Tags& tags, base::ByteWriter& w) {
  w.varint(tags.size());
  for (const auto& [k, v] : tags) {
    put_str(w, k);
    put_str(w, v);
  }
}

base::Status decode_tags(base::ByteReader& r, Tags* out) {
  out->clear();
  const size_t start = r.position();
  const uint64_t count = r.varint();
  if (!r.ok() || count > kTagCountMax) return bad("tag count");
  std::string prev;
  for (uint64_t i = 0; i < count; ++i) {
    std::string k, v;
    if (!get_str(r, kTagsBytesMax, &k) || !get_str(r, kTagsBytesMax, &v)) return bad("tag");
    // Canonical: strictly increasing keys, so equal tag sets always have equal bytes.
    if (i > 0 && !(prev < k)) return bad("tag order");
    prev = k;
    out->emplace(std::move(k), std::move(v));
  }
  if (r.position() - start > kTagsBytesMax) return bad("tags size");
  return base::Status::ok();
}

void encode_body(const GossipMessage& m, base::ByteWriter& w) {
  switch (m.type) {
    case GossipType::kPing:
      w.u32(m.ping.seq);
      put_str(w, m.ping.target);
      put_str(w, m.ping.source);
      encode_addr(m.ping.source_addr, w);
      w.u8(m.ping.has_buddy ? 1 : 0);
      if (m.ping.has_buddy) {
        w.u64(m.ping.buddy_incarnation);
        put_str(w, m.ping.buddy_from);
      }
      break;
    case GossipType::kIndirectPing:
      w.u32(m.indirect.seq);
      put_str(w, m.indirect.target);
      encode_addr(m.indirect.target_addr, w);
      put_str(w, m.indirect.source);
      encode_addr(m.indirect.source_addr, w);
      w.u8(m.indirect.want_nack ? 1 : 0);
      break;
    case GossipType::kAck:
      w.u32(m.ack.seq);
      break;
    case GossipType::kNack:
      w.u32(m.nack.seq);
      break;
    case GossipType::kAlive:
      w.u64(m.alive.incarnation);
      put_str(w, m.alive.name);
      encode_addr(m.alive.addr, w);
      encode_tags(m.alive.tags, w);
      break;
    case GossipType::kSuspect:
      w.u64(m.suspect.incarnation);
      put_str(w, m.suspect.name);
      put_str(w, m.suspect.from);
      break;
    case GossipType::kDead:
      w.u64(m.dead.incarnation);
      put_str(w, m.dead.name);
      put_str(w, m.dead.from);
      break;
    case GossipType::kLeave:
      w.u64(m.leave.incarnation);
      put_str(w, m.leave.name);
      break;
    case GossipType::kUserEvent:
      w.u64(m.event.ltime);
      put_str(w, m.event.name);
      put_str(w, m.event.payload);
      break;
  }
}

size_t encoded_message_bytes(const GossipMessage& msg) {
  std::string body;
  base::ByteWriter w(&body, kDatagramBytesMax);
  encode_body(msg, w);
  return 1 + varint_bytes(body.size()) + body.size();
}

void encode_message(const GossipMessage& msg, base::ByteWriter& w) {
  std::string body;
  base::ByteWriter bw(&body, kDatagramBytesMax);
  encode_body(msg, bw);
  w.u8(static_cast<uint8_t>(msg.type));
  w.bytes(base::as_bytes(body));
}

base::Status decode_body(GossipType type, base::ByteSpan body, GossipMessage* out) {
  base::ByteReader r(body);
  out->type = type;
  switch (type) {
    case GossipType::kPing: {
      Ping& p = out->ping;
      p = Ping{};
      p.seq = r.u32();
      if (!get_str(r, kNodeNameBytesMax, &p.target) || !get_str(r, kNodeNameBytesMax, &p.source)) return bad("ping");
      AGENT_TRY(decode_addr(r, &p.source_addr));
      const uint8_t flags = r.u8();
      if (!r.ok() || flags > 1) return bad("ping flags");
      p.has_buddy = flags == 1;
      if (p.has_buddy) {
        p.buddy_incarnation = r.u64();
        if (!get_str(r, kNodeNameBytesMax, &p.buddy_from)) return bad("ping buddy");
      }
      break;
    }
    case GossipType::kIndirectPing: {
      IndirectPing& p = out->indirect;
      p = IndirectPing{};
      p.seq = r.u32();
      if (!get_str(r, kNodeNameBytesMax, &p.target)) return bad("indirect ping target");
      AGENT_TRY(decode_addr(r, &p.target_addr));
      if (!get_str(r, kNodeNameBytesMax, &p.source)) return bad("indirect ping source");
      AGENT_TRY(decode_addr(r, &p.source_addr));
      const uint8_t nack = r.u8();
      if (!r.ok() || nack > 1) return bad("indirect ping flags");
      p.want_nack = nack == 1;
      break;
    }
    case GossipType::kAck:
      out->ack.seq = r.u32();
      break;
    case GossipType::kNack:
      out->nack.seq = r.u32();
      break;
    case GossipType::kAlive: {
      Alive& a = out->alive;
      a.incarnation = r.u64();
      if (!get_str(r, kNodeNameBytesMax, &a.name)) return bad("alive name");
      AGENT_TRY(decode_addr(r, &a.addr));
      AGENT_TRY(decode_tags(r, &a.tags));
      break;
    }
    case GossipType::kSuspect:
      out->suspect.incarnation = r.u64();
      if (!get_str(r, kNodeNameBytesMax, &out->suspect.name) || !get_str(r, kNodeNameBytesMax, &out->suspect.from)) {
        return bad("suspect");
      }
      break;
    case GossipType::kDead:
      out->dead.incarnation = r.u64();
      if (!get_str(r, kNodeNameBytesMax, &out->dead.name) || !get_str(r, kNodeNameBytesMax, &out->dead.from)) {
        return bad("dead");
      }
      break;
    case GossipType::kLeave:
      out->leave.incarnation = r.u64();
      if (!get_str(r, kNodeNameBytesMax, &out->leave.name)) return bad("leave");
      break;
    case GossipType::kUserEvent:
      out->event.ltime = r.u64();
      if (!get_str(r, kEventNameBytesMax, &out->event.name) ||
          !get_str(r, kEventPayloadBytesMax, &out->event.payload)) {
        return bad("user event");
      }
      break;
    default:
      return bad("message type");
  }
  if (!r.ok()) return bad(gossip_type_name(type).data());
  if (!r.at_end()) return bad("trailing bytes in message");
  return base::Status::ok();
}

// --- compound packets ---------------------------------------------------------------------------

PacketBuilder::PacketBuilder(size_t bytes_max) : bytes_max_(bytes_max) {}

size_t PacketBuilder::bytes_free() const {
  // Header: version byte + the count varint once one more message is added.
  const size_t header = 1 + varint_bytes(count_ + 1);
  const size_t used = header + body_.size();
  return used >= bytes_max_ ? 0 : bytes_max_ - used;
}

bool PacketBuilder::add(const GossipMessage& msg) {
  if (count_ >= kMessagesPerPacketMax) return false;
  const size_t cost = encoded_message_bytes(msg);
  if (cost > bytes_free()) return false;
  base::ByteWriter w(&body_, kDatagramBytesMax);
  encode_message(msg, w);
  if (!w.ok()) return false;
  ++count_;
  return true;
}

bool PacketBuilder::add_encoded(std::string_view encoded) {
  if (count_ >= kMessagesPerPacketMax || encoded.size() > bytes_free()) return false;
  body_.append(encoded);
  ++count_;
  return true;
}

std::string PacketBuilder::finish() const {
  std::string out;
  out.reserve(2 + body_.size());
  base::ByteWriter w(&out, kDatagramBytesMax);
  w.u8(kGossipProtocolVersion);
  w.varint(count_);
  w.raw(base::as_bytes(body_));
  return out;
}

base::Status decode_packet(base::ByteSpan packet, std::vector<GossipMessage>* out, size_t* unknown_skipped) {
  out->clear();
  if (unknown_skipped) *unknown_skipped = 0;
  if (packet.size() > kDatagramBytesMax) return bad("packet size");
  base::ByteReader r(packet);
  const uint8_t version = r.u8();
  if (!r.ok()) return bad("packet header");
  if (version != kGossipProtocolVersion) {
    return base::error(base::Code::kInvalidArgument, "gossip: protocol version %u not supported", version);
  }
  const uint64_t count = r.varint();
  if (!r.ok() || count == 0 || count > kMessagesPerPacketMax) return bad("message count");
  out->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t type = r.u8();
    base::ByteSpan body = r.bytes(kDatagramBytesMax);
    if (!r.ok()) return bad("message framing");
    if (type < static_cast<uint8_t>(GossipType::kPing) || type > static_cast<uint8_t>(GossipType::kUserEvent)) {
      if (unknown_skipped) ++*unknown_skipped;
      continue;
    }
    out->emplace_back();
    AGENT_TRY(decode_body(static_cast<GossipType>(type), body, &out->back()));
  }
  if (!r.at_end()) return bad("trailing bytes after messages");
  return base::Status::ok();
}

std::string encode_packet(const std::vector<GossipMessage>& msgs) {
  std::string body;
  base::ByteWriter bw(&body, kDatagramBytesMax);
  for (const auto& m : msgs) encode_message(m, bw);
  std::string out;
  base::ByteWriter w(&out, kDatagramBytesMax);
  w.u8(kGossipProtocolVersion);
  w.varint(msgs.size());
  w.raw(base::as_bytes(body));
  return out;
}

// --- push-pull ------------------------------------------------------------------------------------

size_t encode_push_pull(const PushPull& pp, std::string* out) {
  out->clear();
  // Encode members first to know how many fit, then write the header and count.
  std::string members;
  size_t written = 0;
  const size_t header_bytes_max = 1 + 1 + 8 + base::kVarintBytesMax;
  for (const auto& m : pp.members) {
    if (written >= kPushPullMembersMax) break;
    std::string one;
    base::ByteWriter w(&one, kPushPullBytesMax);
    put_str(w, m.name);
    encode_addr(m.addr, w);
    w.u64(m.incarnation);
    w.u8(static_cast<uint8_t>(m.state));
    encode_tags(m.tags, w);
    if (!w.ok() || members.size() + one.size() + header_bytes_max > kPushPullBytesMax) break;
    members += one;
    ++written;
  }
  std::string events;
  size_t events_written = 0;
  const size_t first = pp.events.size() > kPushPullEventsMax ? pp.events.size() - kPushPullEventsMax : 0;
  for (size_t i = first; i < pp.events.size(); ++i) {
    const UserEvent& e = pp.events[i];
    if (e.name.size() > kEventNameBytesMax || e.payload.size() > kEventPayloadBytesMax) continue;
    std::string one;
    base::ByteWriter w(&one, kPushPullBytesMax);
    w.u64(e.ltime);
    put_str(w, e.name);
    put_str(w, e.payload);
    if (members.size() + events.size() + one.size() + 2 * header_bytes_max > kPushPullBytesMax) break;
    events += one;
    ++events_written;
  }
  base::ByteWriter w(out, kPushPullBytesMax);
  w.u8(kGossipProtocolVersion);
  w.u8(pp.join ? 1 : 0);
  w.u64(pp.event_ltime);
  w.varint(written);
  w.raw(base::as_bytes(members));
  w.varint(events_written);
  w.raw(base::as_bytes(events));
  return written;
}

base::Status decode_push_pull(base::ByteSpan bytes, PushPull* out) {
  *out = PushPull{};
  if (bytes.size() > kPushPullBytesMax) return bad("push-pull size");
  base::ByteReader r(bytes);
  const uint8_t version = r.u8();
  if (!r.ok() || version != kGossipProtocolVersion) return bad("push-pull version");
  const uint8_t flags = r.u8();
  if (!r.ok() || flags > 1) return bad("push-pull flags");
  out->join = flags == 1;
  out->event_ltime = r.u64();
  const uint64_t count = r.varint();
  if (!r.ok() || count > kPushPullMembersMax) return bad("push-pull member count");
  // Each member takes at least 1+1+2+4+8+1+1 bytes; refuse counts the bytes cannot hold before
  // reserving memory for them.
  if (count > r.remaining() / 18) return bad("push-pull member count");
  out->members.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    PushPullMember m;
    if (!get_str(r, kNodeNameBytesMax, &m.name)) return bad("push-pull member name");
    AGENT_TRY(decode_addr(r, &m.addr));
    m.incarnation = r.u64();
    const uint8_t st = r.u8();
    if (!r.ok() || st > static_cast<uint8_t>(WireState::kLeft)) return bad("push-pull member state");
    m.state = static_cast<WireState>(st);
    AGENT_TRY(decode_tags(r, &m.tags));
    out->members.push_back(std::move(m));
  }
  const uint64_t events = r.varint();
  if (!r.ok() || events > kPushPullEventsMax) return bad("push-pull event count");
  out->events.reserve(events);
  for (uint64_t i = 0; i < events; ++i) {
    UserEvent e;
    e.ltime = r.u64();
    if (!get_str(r, kEventNameBytesMax, &e.name) || !get_str(r, kEventPayloadBytesMax, &e.payload)) {
      return bad("push-pull event");
    }
    out->events.push_back(std::move(e));
  }
  if (!r.at_end()) return bad("trailing bytes after push-pull");
  return base::Status::ok();
}

}  // namespace wire
