// Sim UDP: delivery with the sender's address, bind rules, recv into a short buffer, drops by
// reason (no listener, no route, crash), loopback, and the receive-queue bound.
#include <gtest/gtest.h>

#include "hal/sim/world.h"

namespace {

struct Pair {
  sim::World w{11};
  sim::NodeId a = w.add_node("a");
  sim::NodeId b = w.add_node("b");
  hal::Net& na = *w.node(a).env().net;
  hal::Net& nb = *w.node(b).env().net;
};

}  // namespace

TEST(SimUdp, DeliversWithSenderAddress) {
  Pair p;
  auto ha = p.na.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 5000));
  auto hb = p.nb.udp_open(hal::SockAddr::ipv4(10, 0, 0, 2, 6000));
  ASSERT_TRUE(ha.is_ok() && hb.is_ok());
  ASSERT_EQ(*p.na.udp_send(*ha, hal::SockAddr::ipv4(10, 0, 0, 2, 6000), base::as_bytes("hello")), 5u);
  uint8_t buf[64];
  hal::SockAddr from;
  EXPECT_EQ(p.nb.udp_recv(*hb, buf, &from).status().code(), base::Code::kUnavailable);
  p.w.run_for(base::Duration::millis(1));
  auto n = p.nb.udp_recv(*hb, buf, &from);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *n), "hello");
  EXPECT_EQ(from, hal::SockAddr::ipv4(10, 0, 0, 1, 5000));  // unspecified bind -> primary address
  EXPECT_EQ(p.w.stats().datagrams_delivered, 1u);
}

TEST(SimUdp, BindRules) {
  Pair p;
  EXPECT_TRUE(p.na.udp_open(hal::SockAddr::ipv4(10, 0, 0, 1, 1)).is_ok());
  EXPECT_EQ(p.na.udp_open(hal::SockAddr::ipv4(10, 0, 0, 1, 1)).status().code(), base::Code::kAlreadyExists);
  EXPECT_EQ(p.na.udp_open(hal::SockAddr::ipv4(10, 0, 0, 2, 2)).status().code(), base::Code::kInvalidArgument);
  auto eph = p.na.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  ASSERT_TRUE(eph.is_ok());
  EXPECT_GE(p.na.local_addr(*eph)->port, 49152);
  EXPECT_EQ(p.na.udp_open(hal::SockAddr::unix_path("/x")).status().code(), base::Code::kInvalidArgument);
}

TEST(SimUdp, ShortBufferDropsDatagramWithResourceExhausted) {
  Pair p;
  auto ha = p.na.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  auto hb = p.nb.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 53));
  ASSERT_TRUE(p.na.udp_send(*ha, p.w.node(p.b).address(53), base::as_bytes("0123456789")).is_ok());
  ASSERT_TRUE(p.na.udp_send(*ha, p.w.node(p.b).address(53), base::as_bytes("ok")).is_ok());
  p.w.run_for(base::Duration::millis(1));
  uint8_t small[4];
  // Datagram order is not guaranteed (delays cross): read both, one way or the other.
  int too_big = 0, fine = 0;
  for (int i = 0; i < 2; ++i) {
    auto r = p.nb.udp_recv(*hb, small, nullptr);
    if (r.is_ok()) {
      EXPECT_EQ(*r, 2u);
      ++fine;
    } else {
      EXPECT_EQ(r.status().code(), base::Code::kResourceExhausted);
      ++too_big;
    }
  }
  EXPECT_EQ(too_big, 1);
  EXPECT_EQ(fine, 1);
  EXPECT_EQ(p.nb.udp_recv(*hb, small, nullptr).status().code(), base::Code::kUnavailable);
}

TEST(SimUdp, DropsAreCountedByReason) {
  Pair p;
  auto ha = p.na.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  ASSERT_TRUE(p.na.udp_send(*ha, hal::SockAddr::ipv4(10, 0, 0, 2, 999), base::as_bytes("x")).is_ok());
  ASSERT_TRUE(p.na.udp_send(*ha, hal::SockAddr::ipv4(10, 9, 9, 9, 999), base::as_bytes("x")).is_ok());
  p.w.run_for(base::Duration::millis(1));
  EXPECT_EQ(p.w.stats().dropped(sim::DropReason::kNoListener), 1u);
  EXPECT_EQ(p.w.stats().dropped(sim::DropReason::kNoRoute), 1u);
  auto hb = p.nb.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 999));
  ASSERT_TRUE(hb.is_ok());
  ASSERT_TRUE(p.na.udp_send(*ha, hal::SockAddr::ipv4(10, 0, 0, 2, 999), base::as_bytes("x")).is_ok());
  p.w.crash(p.b);  // in flight when b goes down
  p.w.run_for(base::Duration::millis(1));
  EXPECT_EQ(p.w.stats().dropped(sim::DropReason::kCrash), 1u);
  EXPECT_EQ(p.w.stats().datagrams_sent, 3u);
  EXPECT_EQ(p.w.stats().dropped_total(), 3u);
}

TEST(SimUdp, LoopbackStaysOnTheNode) {
  Pair p;
  auto h1 = p.na.udp_open(hal::SockAddr::ipv4(127, 0, 0, 1, 100));
  auto h2 = p.na.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  ASSERT_TRUE(p.na.udp_send(*h2, hal::SockAddr::ipv4(127, 0, 0, 1, 100), base::as_bytes("me")).is_ok());
  p.w.isolate(p.a);  // partitions never cut same-node traffic
  p.w.run_for(base::Duration::millis(1));
  uint8_t buf[8];
  hal::SockAddr from;
  ASSERT_TRUE(p.na.udp_recv(*h1, buf, &from).is_ok());
  EXPECT_TRUE(from.is_loopback());
}

TEST(SimUdp, ReceiveQueueIsBounded) {
  sim::SimConfig cfg;
  cfg.udp_recv_buffer_bytes = 1000;
  sim::World w(2, cfg);
  sim::NodeId a = w.add_node("a"), b = w.add_node("b");
  hal::Net& na = *w.node(a).env().net;
  auto ha = na.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  ASSERT_TRUE(w.node(b).env().net->udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 1)).is_ok());
  std::string payload(100, 'x');
  for (int i = 0; i < 15; ++i) ASSERT_TRUE(na.udp_send(*ha, w.node(b).address(1), base::as_bytes(payload)).is_ok());
  w.run_for(base::Duration::millis(5));
  EXPECT_EQ(w.stats().datagrams_delivered, 10u);
  EXPECT_EQ(w.stats().dropped(sim::DropReason::kBufferFull), 5u);
}

TEST(SimUdp, OversizeSendRefused) {
  Pair p;
  auto ha = p.na.udp_open(hal::SockAddr::ipv4(0, 0, 0, 0, 0));
  std::string big(70000, 'x');
  EXPECT_EQ(p.na.udp_send(*ha, p.w.node(p.b).address(1), base::as_bytes(big)).status().code(),
            base::Code::kInvalidArgument);
}
