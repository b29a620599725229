// Sim streams: TCP-like semantics -- connect/accept, in-order bytes, EOF and half-close,
// refused connects, bounded buffers, RST on close with unread data, a crash resetting the peer,
// stalls and timeouts across a partition, and node-local Unix sockets.
#include <gtest/gtest.h>

#include "sim_unit_helpers.h"

using base::Code;
using base::Duration;

namespace {

struct Fixture {
  sim::World w{21};
  sim::NodeId a = w.add_node("a");
  sim::NodeId b = w.add_node("b");
  hal::Net& na = *w.node(a).env().net;
  hal::Net& nb = *w.node(b).env().net;
  hal::Handle listener = hal::kInvalidHandle;

  // Connects a -> b:80, returns (client, server) once both are established.
  std::pair<hal::Handle, hal::Handle> connect_pair() {
    if (listener == hal::kInvalidHandle) {
      auto l = nb.listen(hal::SockAddr::ipv4(0, 0, 0, 0, 80), {});
      EXPECT_TRUE(l.is_ok());
      listener = *l;
    }
    auto c = na.connect(w.node(b).address(80));
    EXPECT_TRUE(c.is_ok());
    EXPECT_EQ(na.connect_result(*c).code(), Code::kUnavailable);  // in progress
    hal::Handle s = hal::kInvalidHandle;
    hal::SockAddr peer;
    EXPECT_TRUE(simtest::run_until(w, [&] {
      if (s == hal::kInvalidHandle) {
        auto r = nb.accept(listener, &peer);
        if (r.is_ok()) s = *r;
      }
      return s != hal::kInvalidHandle && na.connect_result(*c).is_ok();
    }));
    EXPECT_EQ(peer.family, hal::AddrFamily::kIpv4);
    EXPECT_EQ(peer.ip, w.node(a).address(0).ip);
    return {*c, s};
  }
};

}  // namespace

TEST(SimStream, ConnectAcceptAndInOrderBytes) {
  Fixture f;
  auto [c, s] = f.connect_pair();
  EXPECT_EQ(f.w.node(f.a).net().readiness(c) & hal::kWritable, hal::kWritable);
  std::string sent;
  for (int i = 0; i < 200; ++i) {
    std::string part = "chunk-" + std::to_string(i) + ";";
    ASSERT_EQ(*f.na.write(c, simtest::bytes(part)), part.size());
    sent += part;
  }
  std::string got;
  bool eof = false;
  ASSERT_TRUE(simtest::run_until(f.w, [&] {
    EXPECT_EQ(simtest::drain(f.nb, s, &got, &eof).code(), Code::kUnavailable);
    return got.size() == sent.size();
  }));
  EXPECT_EQ(got, sent);  // in order despite random per-chunk delays
  EXPECT_FALSE(eof);
}

TEST(SimStream, HalfCloseThenEofBothWays) {
  Fixture f;
  auto [c, s] = f.connect_pair();
  ASSERT_TRUE(f.na.write(c, simtest::bytes("request")).is_ok());
  f.na.shutdown_write(c);
  EXPECT_EQ(f.na.write(c, simtest::bytes("more")).status().code(), Code::kIo);
  std::string got;
  bool eof = false;
  ASSERT_TRUE(simtest::run_until(f.w, [&] {
    base::Status st = simtest::drain(f.nb, s, &got, &eof);
    return eof;
  }));
  EXPECT_EQ(got, "request");
  // The server can still answer on its half, then close.
  ASSERT_TRUE(f.nb.write(s, simtest::bytes("response")).is_ok());
  f.nb.close(s);
  std::string back;
  bool eof2 = false;
  ASSERT_TRUE(simtest::run_until(f.w, [&] {
    base::Status st = simtest::drain(f.na, c, &back, &eof2);
    return eof2;
  }));
  EXPECT_EQ(back, "response");
  EXPECT_EQ(f.w.node(f.a).net().readiness(c) & hal::kHangup, hal::kHangup);
  f.na.close(c);
  f.w.run_for(Duration::millis(10));
  EXPECT_EQ(f.w.network().connections(), 0u);  // both closed: nothing left behind
}

TEST(SimStream, ConnectToNodeWithNoListenerIsRefused) {
  Fixture f;
  auto c = f.na.connect(f.w.node(f.b).address(81));
  ASSERT_TRUE(c.is_ok());
  ASSERT_TRUE(simtest::run_until(f.w, [&] { return f.w.node(f.a).net().readiness(*c) != 0; }));
  uint8_t r = f.w.node(f.a).net().readiness(*c);
  EXPECT_TRUE(r & hal::kWritable);
  EXPECT_TRUE(r & hal::kError);
  base::Status st = f.na.connect_result(*c);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("refused"), std::string::npos);
  EXPECT_EQ(f.w.stats().streams_refused, 1u);
  f.na.close(*c);
}

TEST(SimStream, ConnectToUnknownAddressFails) {
  Fixture f;
  auto c = f.na.connect(hal::SockAddr::ipv4(10, 7, 7, 7, 80));
  ASSERT_TRUE(c.is_ok());
  ASSERT_TRUE(simtest::run_until(f.w, [&] { return f.na.connect_result(*c).code() != Code::kUnavailable; }));
  EXPECT_EQ(f.na.connect_result(*c).code(), Code::kIo);
}

TEST(SimStream, WriteIsBoundedByPeerUnreadBytes) {
  sim::SimConfig cfg;
  cfg.stream_buffer_bytes = 1000;
  sim::World w(3, cfg);
  sim::NodeId a = w.add_node("a"), b = w.add_node("b");
  hal::Net& na = *w.node(a).env().net;
  hal::Net& nb = *w.node(b).env().net;
  auto l = nb.listen(hal::SockAddr::ipv4(0, 0, 0, 0, 80), {});
  auto c = na.connect(w.node(b).address(80));
  ASSERT_TRUE(simtest::run_until(w, [&] { return na.connect_result(*c).is_ok(); }));
  auto s = nb.accept(*l, nullptr);
  ASSERT_TRUE(s.is_ok());
  std::string big(1500, 'z');
  EXPECT_EQ(*na.write(*c, simtest::bytes(big)), 1000u);
  EXPECT_EQ(na.write(*c, simtest::bytes(big)).status().code(), Code::kUnavailable);
  EXPECT_EQ(w.node(a).net().readiness(*c) & hal::kWritable, 0);
  w.run_for(Duration::millis(5));
  uint8_t buf[300];
  ASSERT_EQ(*nb.read(*s, buf), 300u);
  // Reading opens the window at once (the ack is not modelled as traffic).
  EXPECT_EQ(w.node(a).net().readiness(*c) & hal::kWritable, hal::kWritable);
  EXPECT_EQ(*na.write(*c, simtest::bytes(big)), 300u);
}

TEST(SimStream, CloseWithUnreadDataResetsPeer) {
  Fixture f;
  auto [c, s] = f.connect_pair();
  ASSERT_TRUE(f.na.write(c, simtest::bytes("unread")).is_ok());
  f.w.run_for(Duration::millis(5));
  f.nb.close(s);  // "unread" never read: RST, not FIN
  ASSERT_TRUE(simtest::run_until(f.w, [&] { return f.na.connect_result(c).code() != Code::kOk; }));
  uint8_t buf[8];
  EXPECT_EQ(f.na.read(c, buf).status().code(), Code::kIo);
  EXPECT_EQ(f.na.write(c, simtest::bytes("x")).status().code(), Code::kIo);
  EXPECT_TRUE(f.w.node(f.a).net().readiness(c) & hal::kError);
}

TEST(SimStream, CrashResetsPeerConnectionsAndRestartRefuses) {
  Fixture f;
  auto [c, s] = f.connect_pair();
  (void)s;
  f.w.crash(f.b);
  ASSERT_TRUE(simtest::run_until(f.w, [&] { return f.na.connect_result(c).code() != Code::kOk; }));
  uint8_t buf[8];
  auto r = f.na.read(c, buf);
  EXPECT_EQ(r.status().code(), Code::kIo);
  EXPECT_NE(r.status().message().find("reset"), std::string::npos);
  f.na.close(c);
  // Down: a SYN gets no answer; after the restart (no listener in the new process) it is refused.
  auto c2 = f.na.connect(f.w.node(f.b).address(80));
  f.w.run_for(Duration::seconds(1));
  EXPECT_EQ(f.na.connect_result(*c2).code(), Code::kUnavailable);
  f.w.restart(f.b);
  ASSERT_TRUE(simtest::run_until(f.w, [&] { return f.na.connect_result(*c2).code() != Code::kUnavailable; }));
  EXPECT_EQ(f.na.connect_result(*c2).code(), Code::kIo);
}

TEST(SimStream, PartitionStallsThenHealResumes) {
  Fixture f;
  auto [c, s] = f.connect_pair();
  sim::PartitionId p = f.w.partition({f.a}, {f.b});
  ASSERT_TRUE(f.na.write(c, simtest::bytes("across")).is_ok());
  f.w.run_for(Duration::seconds(2));
  uint8_t buf[16];
  EXPECT_EQ(f.nb.read(s, buf).status().code(), Code::kUnavailable);  // stalled, not lost
  EXPECT_EQ(f.w.stats().stream_stalls, 1u);
  f.w.heal(p);
  std::string got;
  bool eof = false;
  ASSERT_TRUE(simtest::run_until(f.w, [&] {
    base::Status st = simtest::drain(f.nb, s, &got, &eof);
    return got == "across";
  }));
  EXPECT_TRUE(f.na.connect_result(c).is_ok());
}

TEST(SimStream, PartitionLongerThanStallTimeoutResetsBothEnds) {
  Fixture f;
  auto [c, s] = f.connect_pair();
  f.w.partition({f.a}, {f.b});
  ASSERT_TRUE(f.na.write(c, simtest::bytes("lost cause")).is_ok());
  f.w.run_for(f.w.config().stream_stall_timeout + Duration::seconds(1));
  EXPECT_EQ(f.na.connect_result(c).code(), Code::kTimeout);
  EXPECT_EQ(f.nb.connect_result(s).code(), Code::kTimeout);
  EXPECT_EQ(f.w.stats().streams_timed_out, 1u);
}

TEST(SimStream, ConnectAcrossPartitionTimesOut) {
  Fixture f;
  auto l = f.nb.listen(hal::SockAddr::ipv4(0, 0, 0, 0, 80), {});
  ASSERT_TRUE(l.is_ok());
  f.w.partition({f.a}, {f.b});
  auto c = f.na.connect(f.w.node(f.b).address(80));
  f.w.run_for(f.w.config().stream_stall_timeout + Duration::seconds(1));
  EXPECT_EQ(f.na.connect_result(*c).code(), Code::kTimeout);
  EXPECT_EQ(f.nb.accept(*l, nullptr).status().code(), Code::kUnavailable);
}

TEST(SimStream, UnixSocketsAreLocalToTheNode) {
  Fixture f;
  auto l = f.na.listen(hal::SockAddr::unix_path("/run/agent/agent.sock"), {});
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(f.na.listen(hal::SockAddr::unix_path("/run/agent/agent.sock"), {}).status().code(),
            Code::kAlreadyExists);
  // From another node the path does not exist.
  auto remote = f.nb.connect(hal::SockAddr::unix_path("/run/agent/agent.sock"));
  ASSERT_TRUE(remote.is_ok());
  auto local = f.na.connect(hal::SockAddr::unix_path("/run/agent/agent.sock"));
  ASSERT_TRUE(local.is_ok());
  ASSERT_TRUE(simtest::run_until(f.w, [&] {
    return f.na.connect_result(*local).is_ok() && f.nb.connect_result(*remote).code() != Code::kUnavailable;
  }));
  EXPECT_EQ(f.nb.connect_result(*remote).code(), Code::kIo);
  hal::SockAddr peer;
  auto s = f.na.accept(*l, &peer);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(peer.family, hal::AddrFamily::kUnix);
  ASSERT_TRUE(f.na.write(*local, simtest::bytes("ctl")).is_ok());
  std::string got;
  bool eof = false;
  ASSERT_TRUE(simtest::run_until(f.w, [&] {
    base::Status st = simtest::drain(f.na, *s, &got, &eof);
    return got == "ctl";
  }));
}

TEST(SimStream, ListenRulesAndCloseOfWatchedHandleAsserts) {
  Fixture f;
  auto l = f.nb.listen(hal::SockAddr::ipv4(0, 0, 0, 0, 80), {});
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(f.nb.listen(hal::SockAddr::ipv4(10, 0, 0, 2, 80), {}).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(f.nb.listen(hal::SockAddr::ipv4(10, 0, 0, 1, 81), {}).status().code(), Code::kInvalidArgument);
  auto eph = f.nb.listen(hal::SockAddr::ipv4(0, 0, 0, 0, 0), {});
  ASSERT_TRUE(eph.is_ok());
  EXPECT_NE(f.nb.local_addr(*eph)->port, 0);
  ASSERT_TRUE(f.w.node(f.b).env().poller->add(*l, hal::kReadable).is_ok());
  EXPECT_DEATH(f.nb.close(*l), "still registered");
}
