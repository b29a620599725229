// The transport on two simulated nodes: datagrams and push-pull frames go through the Sealer on
// both sides (a toy XOR envelope here; crypto::Envelope in the agent); a peer whose packets do
// not open is dropped and counted by reason and never becomes a member; the API refuses calls
// before start() and bad identities.
#include <gtest/gtest.h>

#include "agent/gossip/transport.h"
#include "hal/sim/world.h"

using base::Duration;

namespace {

// Prefixes a magic byte and XORs the rest; open() refuses other magic as kAuth.
class XorSealer final : public gossip::Sealer {
 public:
  explicit XorSealer(uint8_t key) : key_(key) {}
  base::Status seal(gossip::crypto::EnvelopeKind kind, base::ByteSpan plain, base::MonoTime, std::string* out) override {
    out->assign(1, static_cast<char>(key_ + static_cast<uint8_t>(kind)));
    for (uint8_t b : plain) out->push_back(static_cast<char>(b ^ key_));
    ++sealed;
    return base::Status::ok();
  }
  gossip::crypto::DropReason open(gossip::crypto::EnvelopeKind kind, base::ByteSpan packet, base::MonoTime,
                                  std::string* plain) override {
    if (packet.empty()) return gossip::crypto::DropReason::kTruncated;
    if (packet[0] != static_cast<uint8_t>(key_ + static_cast<uint8_t>(kind))) return gossip::crypto::DropReason::kAuth;
    plain->clear();
    for (size_t i = 1; i < packet.size(); ++i) plain->push_back(static_cast<char>(packet[i] ^ key_));
    return gossip::crypto::DropReason::kNone;
  }
  uint64_t sealed = 0;

 private:
  uint8_t key_;
};

struct Member final : sim::Process {
  Member(sim::Node& node, uint8_t key, sim::Node* join) : sealer(key) {
    gossip::TransportConfig c;
    c.name = node.name();
    c.generation = 1;
    t = std::make_unique<gossip::Transport>(node.env(), node.loop(), c);
    t->set_sealer(&sealer);
    base::Status st = t->start(hal::SockAddr::ipv4(0, 0, 0, 0, 7702), node.address(7702));
    AGENT_ASSERT(st.is_ok());
    if (join != nullptr) {
      hal::SockAddr a = join->address(7702);
      AGENT_ASSERT(t->join(std::span<const hal::SockAddr>(&a, 1), true).is_ok());
    }
  }
  XorSealer sealer;  // declared before the transport: outlives it
  std::unique_ptr<gossip::Transport> t;
};

TEST(Transport, SealedGossipConvergesAndForeignKeysAreDroppedAndCounted) {
  sim::World w(1);
  w.add_node("a", [](sim::Node& n) { return std::make_unique<Member>(n, 0x5a, nullptr); });
  w.add_node("b", [&w](sim::Node& n) { return std::make_unique<Member>(n, 0x5a, &w.node(0)); });
  w.add_node("c", [&w](sim::Node& n) { return std::make_unique<Member>(n, 0x33, &w.node(0)); });
  w.run_for(Duration::seconds(20));
  auto& a = *w.node(0).process_as<Member>().t;
  auto& b = *w.node(1).process_as<Member>().t;
  auto& c = *w.node(2).process_as<Member>().t;
  EXPECT_EQ(a.members().size(), 2u);  // a and b; never c
  EXPECT_EQ(b.members().size(), 2u);
  EXPECT_EQ(c.members().size(), 1u);
  EXPECT_GT(a.counters().datagrams_received, 10u);
  EXPECT_GT(w.node(0).process_as<Member>().sealer.sealed, 10u);
  // c's join frame did not open at a: counted by reason, stream closed.
  EXPECT_GE(a.counters().envelope_dropped[static_cast<size_t>(gossip::crypto::DropReason::kAuth)], 1u);
  EXPECT_EQ(a.swim_counters().decode_errors, 0u);
  EXPECT_GE(c.swim_counters().push_pulls_failed, 1u);
}

TEST(Transport, RefusesBeforeStartAndBadIdentities) {
  sim::World w(2);
  w.add_node("a", nullptr);
  sim::Node& n = w.node(0);
  gossip::TransportConfig c;
  c.name = "";  // empty: refused
  gossip::Transport t(n.env(), n.loop(), c);
  EXPECT_EQ(t.send_user_event("x", "").code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(t.start(hal::SockAddr::ipv4(0, 0, 0, 0, 7702), n.address(7702)).code(), base::Code::kInvalidArgument);
  gossip::TransportConfig c2;
  c2.name = "a";
  gossip::Transport t2(n.env(), n.loop(), c2);
  // The unspecified address cannot be advertised.
  EXPECT_EQ(t2.start(hal::SockAddr::ipv4(0, 0, 0, 0, 7702), hal::SockAddr::ipv4(0, 0, 0, 0, 0)).code(),
            base::Code::kInvalidArgument);
  ASSERT_TRUE(t2.start(hal::SockAddr::ipv4(0, 0, 0, 0, 7702), n.address(0)).is_ok());
  EXPECT_EQ(t2.bound_addr().port, 7702);
  EXPECT_EQ(t2.members().at(0).addr.port, 7702);  // advertise port 0 -> the bound port
  EXPECT_EQ(t2.start(hal::SockAddr::ipv4(0, 0, 0, 0, 7702), n.address(7702)).code(), base::Code::kFailedPrecondition);
}

}  // namespace
