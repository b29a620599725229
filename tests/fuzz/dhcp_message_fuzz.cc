// Fuzzes the DHCPv4 codec (boot/dhcp/message.h) and the client state machine behind it
// (boot/dhcp/client.h). The first byte picks the target:
//   even  decode(): any bytes decode or are refused without reading out of bounds or asserting;
//         a decoded message that encodes (it may not fit without overload) decodes to the same
//         message and encodes to the same bytes again (decode -> encode -> decode is stable).
//   odd   a script for one fresh Client: records of a command byte and its operands --
//           0 len(2) bytes   deliver the bytes as they are
//           1 len(2) bytes   deliver them as a reply to the exchange in flight (op, xid, chaddr
//                            and cookie patched in), so the fuzzer gets past the xid check
//           2 secs(2)        advance the clock and run the timers that are due
//           3 what(1)        release, decline, or start again with or without a remembered address
//           4 six bytes      a well-formed OFFER, ACK or NAK for the last message sent, from
//                            server A or B, with lease, T1 and T2 picked by the bytes
//         After every step: the client's timers lie in the future, it holds a lease exactly in
//         BOUND, RENEWING and REBINDING with 0 < T1 < T2 < lease, every message it sends decodes
//         as a BOOTREQUEST of 300..1500 bytes, a unicast one only while an address is configured,
//         and it deconfigures only what it configured.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "boot/dhcp/client.h"
#include "boot/dhcp/message.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

void fuzz_codec(base::ByteSpan in) {
  dhcp::Message m;
  if (dhcp::decode(in, &m) != dhcp::DecodeError::kNone) return;
  auto bytes = dhcp::encode(m);
  if (!bytes.is_ok()) {
    check(bytes.status().code() == base::Code::kInvalidArgument);
    return;
  }
  dhcp::Message again;
  check(dhcp::decode(base::as_bytes(*bytes), &again) == dhcp::DecodeError::kNone);
  check(again == m);
  auto bytes2 = dhcp::encode(again);
  check(bytes2.is_ok() && *bytes2 == *bytes);
}

constexpr std::array<uint8_t, 6> kMac = {0x52, 0x54, 0x00, 0x0f, 0x0f, 0x0f};
constexpr dhcp::Ipv4 kServers[2] = {0x0A000001, 0x0A000002};

class Script {
 public:
  explicit Script(base::ByteSpan in) : in_(in), client_(config(), 1) {}

  void run() {
    const bool remembered = next_u8() & 1;
    client_.start(now_, remembered ? std::optional<dhcp::Ipv4>(0x0A000032) : std::nullopt);
    after_step();
    // Every record consumes at least one byte, so this ends with the input.
    while (pos_ < in_.size()) {
      switch (next_u8() % 5) {
        case 0:
          deliver(take_bytes(), false);
          break;
        case 1:
          deliver(take_bytes(), true);
          break;
        case 2:
          advance();
          break;
        case 3:
          control();
          break;
        case 4:
          synthesize();
          break;
      }
      after_step();
    }
  }

 private:
  static dhcp::ClientConfig config() {
    dhcp::ClientConfig c;
    c.mac = kMac;
    c.hostname = "fuzz";
    return c;
  }

  uint8_t next_u8() { return pos_ < in_.size() ? in_[pos_++] : 0; }
  uint16_t next_u16() { return static_cast<uint16_t>((next_u8() << 8) | next_u8()); }
  std::vector<uint8_t> take_bytes() {
    size_t n = next_u16();
    if (n > in_.size() - pos_) n = in_.size() - pos_;
    std::vector<uint8_t> b(in_.begin() + pos_, in_.begin() + pos_ + n);
    pos_ += n;
    return b;
  }

  void deliver(std::vector<uint8_t> b, bool patch) {
    if (patch && b.size() >= dhcp::kMinBytes) {
      const uint32_t xid = client_.xid();
      b[0] = dhcp::kOpReply;
      b[1] = dhcp::kHtypeEthernet;
      b[2] = 6;
      for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<uint8_t>(xid >> (24 - 8 * i));
      std::memcpy(&b[28], kMac.data(), kMac.size());
      b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
    }
    (void)client_.on_packet(b, now_);
  }

  void advance() {
    now_ = now_ + base::Duration::seconds(next_u16());
    if (client_.next_wakeup() <= now_) client_.on_tick(now_);
  }

  void control() {
    switch (next_u8() % 4) {
      case 0:
        client_.release(now_);
        break;
      case 1:
        client_.decline(now_).ignore();
        break;
      case 2:
      case 3:
        if (client_.state() == dhcp::State::kStopped) {
          client_.start(now_, (pos_ % 2) ? std::optional<dhcp::Ipv4>(0x0A000033) : std::nullopt);
        }
        break;
    }
  }

  // A reply a server could really send to the last message: the fuzzer picks its type, server,
  // address and times.
  void synthesize() {
    const uint8_t what = next_u8();
    const uint8_t lease = next_u8();
    const uint8_t t1 = next_u8();
    const uint8_t t2 = next_u8();
    const uint8_t routes = next_u8();
    const uint8_t addr = next_u8();
    if (!last_sent_) return;
    dhcp::Message r;
    r.op = dhcp::kOpReply;
    r.xid = last_sent_->xid;
    r.flags = last_sent_->flags;
    r.chaddr = last_sent_->chaddr;
    r.ciaddr = last_sent_->ciaddr;
    const dhcp::MessageType types[3] = {dhcp::MessageType::kOffer, dhcp::MessageType::kAck,
                                        dhcp::MessageType::kNak};
    r.type = types[what % 3];
    r.server_id = kServers[(what >> 2) & 1];
    if (r.type != dhcp::MessageType::kNak) {
      r.yiaddr = (what & 0x80) ? 0x0A000000u | addr
                               : last_sent_->requested_ip.value_or(
                                     last_sent_->ciaddr ? last_sent_->ciaddr : 0x0A000032);
      // Short leases make the timers fire within a few advances; 255 is infinite.
      r.lease_time_s = lease == 255 ? dhcp::kLeaseInfinite : uint32_t{lease} * 7;
      if (what & 0x08) r.renewal_time_s = t1 * 3u;
      if (what & 0x10) r.rebinding_time_s = t2 * 5u;
      r.subnet_mask = dhcp::prefix_mask(static_cast<uint8_t>(routes % 33));
      r.routers = {kServers[0]};
      for (uint8_t i = 0; i < routes % 5; ++i) {
        r.classless_routes.push_back(
            {static_cast<dhcp::Ipv4>(i) << 24, static_cast<uint8_t>(i * 8), kServers[1]});
      }
    }
    auto bytes = dhcp::encode(r);
    check(bytes.is_ok());
    (void)client_.on_packet(base::as_bytes(*bytes), now_);
  }

  void after_step() {
    if (client_.next_wakeup() <= now_) client_.on_tick(now_);
    check(client_.next_wakeup() > now_);
    const dhcp::State s = client_.state();
    const bool leased =
        s == dhcp::State::kBound || s == dhcp::State::kRenewing || s == dhcp::State::kRebinding;
    check(client_.lease().has_value() == leased);
    if (const auto& l = client_.lease()) {
      if (l->lease_time.is_infinite()) {
        check(l->t1.is_infinite() && l->t2.is_infinite() && l->renew_at.is_never());
      } else {
        check(base::Duration::zero() < l->t1 && l->t1 < l->t2 && l->t2 < l->lease_time);
      }
      check(l->renew_at <= l->rebind_at && l->rebind_at <= l->expires_at);
      check(l->prefix_len <= 32);
    }
    for (const dhcp::Action& a : client_.take_effects().actions) {
      switch (a.kind) {
        case dhcp::Action::Kind::kDeconfigure:
          check(configured_.has_value() && configured_->address == a.lease.address);
          configured_.reset();
          break;
        case dhcp::Action::Kind::kConfigure:
          check(!configured_ || configured_->address == a.lease.address);
          configured_ = a.lease;
          break;
        case dhcp::Action::Kind::kSend: {
          const dhcp::Send& send = a.send;
          check(send.bytes.size() >= dhcp::kBootpMinBytes &&
                send.bytes.size() <= dhcp::kMessageBytesMax);
          // Unicast leaves from the leased address, so it needs one configured at this point.
          check(send.broadcast || (send.to != 0 && configured_.has_value()));
          dhcp::Message m;
          check(dhcp::decode(base::as_bytes(send.bytes), &m) == dhcp::DecodeError::kNone);
          check(m.op == dhcp::kOpRequest && m.type == send.type);
          last_sent_ = m;
          break;
        }
      }
    }
    // What the node has configured is what the client holds.
    check(configured_.has_value() == client_.lease().has_value());
  }

  base::ByteSpan in_;
  size_t pos_ = 0;
  base::MonoTime now_ = base::MonoTime::from_ns(1000);
  dhcp::Client client_;
  std::optional<dhcp::Lease> configured_;
  std::optional<dhcp::Message> last_sent_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const base::ByteSpan in(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    fuzz_codec(in);
  } else {
    Script(in).run();
  }
  return 0;
}
