// Fuzzes the plaintext gossip decoders (what is left after the envelope opened a packet, or all
// of it on a plaintext fleet) and the SWIM core behind them. The first byte picks the target:
//   0  decode_packet (single and compound datagrams): a decoded packet re-encodes to bytes that
//      decode to the same messages (decode -> encode -> decode is stable);
//   1  decode_push_pull: the same stability for the full-state message;
//   2  Swim::on_datagram and 3 Swim::on_push_pull on one long-lived core: untrusted bytes must
//      never assert, and the core's tables stay within their bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/gossip/swim.h"
#include "agent/wire/gossip_message.h"

namespace {

gossip::Swim& core() {
  static std::unique_ptr<gossip::Swim> s = [] {
    gossip::SwimIdentity id;
    id.name = "fuzz";
    id.advertise = hal::SockAddr::ipv4(10, 0, 0, 1, 7702);
    id.generation = 1;
    gossip::SwimConfig c = gossip::profile_config(gossip::Profile::kLan);
    c.members_max = 256;  // keep the fuzzer's memory small; the bound is what is tested
    return std::make_unique<gossip::Swim>(c, id, 1, base::MonoTime::from_ns(0));
  }();
  return *s;
}

void check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 4;
  base::ByteSpan in(data + 1, size - 1);
  static int64_t t_ns = 0;
  switch (mode) {
    case 0: {
      std::vector<wire::GossipMessage> msgs;
      if (!wire::decode_packet(in, &msgs).is_ok() || msgs.empty()) break;
      const std::string again = wire::encode_packet(msgs);
      std::vector<wire::GossipMessage> msgs2;
      check(wire::decode_packet(base::as_bytes(again), &msgs2).is_ok());
      check(msgs == msgs2);
      check(wire::encode_packet(msgs2) == again);
      break;
    }
    case 1: {
      wire::PushPull pp;
      if (!wire::decode_push_pull(in, &pp).is_ok()) break;
      std::string again;
      check(wire::encode_push_pull(pp, &again) == pp.members.size());
      wire::PushPull pp2;
      check(wire::decode_push_pull(base::as_bytes(again), &pp2).is_ok());
      check(pp == pp2);
      break;
    }
    case 2:
    case 3: {
      gossip::Swim& s = core();
      t_ns += 50 * 1000 * 1000;
      const base::MonoTime now = base::MonoTime::from_ns(t_ns);
      const hal::SockAddr from = hal::SockAddr::ipv4(10, 0, 0, 2, 7702);
      if (mode == 2) s.on_datagram(from, in, now);
      else (void)s.on_push_pull(from, in, now);
      if (s.next_deadline() <= now) s.on_tick(now);
      (void)s.take_effects();
      check(s.member_count() <= 256);
      check(s.recent_events().size() <= s.config().recent_events_max);
      break;
    }
  }
  return 0;
}
