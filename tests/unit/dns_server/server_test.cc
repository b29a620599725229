// dns::Server over a real loopback UDP socket: answers from the view, REFUSED with the question
// for other names, FORMERR for a malformed query, short datagrams and responses dropped and
// counted, and the server still answering after all of them.
#include "agent/dns/server/server.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <vector>

#include "hal/posix/posix_env.h"
#include "tests/unit/dns/dns_test_util.h"

namespace dns {
namespace {

using base::Duration;

class DnsServerTest : public ::testing::Test {
 protected:
  DnsServerTest() : loop_(env_.clock(), env_.poller()) {
    node_.name = "n1";
    node_.address.bytes[0] = 10;
    node_.address.bytes[3] = 1;
    ServerOptions o;
    o.bind = hal::SockAddr::ipv4(127, 0, 0, 1, 0);
    o.responder.domain = test::name("weft");
    server_ = std::make_unique<Server>(loop_, env_.net(), o, [this] { return View{{}, std::span(&node_, 1)}; });
    EXPECT_TRUE(server_->start().is_ok());
    addr_ = server_->local_addr().value();
    client_ = env_.net().udp_open(hal::SockAddr::ipv4(127, 0, 0, 1, 0)).value();
  }
  ~DnsServerTest() override {
    env_.net().close(client_);
    server_.reset();
  }

  // Sends `q` and runs the loop until an answer arrives (or 5 s pass, or `expect_none`: until the
  // server counted the datagram).
  std::optional<std::vector<uint8_t>> exchange(const std::vector<uint8_t>& q, bool expect_none = false) {
    const uint64_t before = server_->counters().received;
    EXPECT_TRUE(env_.net().udp_send(client_, addr_, q).is_ok());
    const base::MonoTime deadline = loop_.refresh_now() + Duration::seconds(5);
    std::vector<uint8_t> buf(4096);
    while (loop_.refresh_now() < deadline) {
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
      if (expect_none && server_->counters().received > before) return std::nullopt;
      hal::SockAddr from;
      auto n = env_.net().udp_recv(client_, buf, &from);
      if (n.is_ok()) {
        buf.resize(*n);
        return buf;
      }
    }
    ADD_FAILURE() << "no answer within 5 s";
    return std::nullopt;
  }

  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  NodeEntry node_;
  std::unique_ptr<Server> server_;
  hal::SockAddr addr_;
  hal::Handle client_ = hal::kInvalidHandle;
};

TEST_F(DnsServerTest, AnswersRefusesAndRejects) {
  auto a = exchange(test::query_bytes("n1.node.weft", kTypeA));
  ASSERT_TRUE(a.has_value());
  test::Parsed p = test::parse(*a);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 0x4242);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata, (std::vector<uint8_t>{10, 0, 0, 1}));

  a = exchange(test::query_bytes("example.org", kTypeA));
  ASSERT_TRUE(a.has_value());
  p = test::parse(*a);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.flags & 0xF, kRcodeRefused);
  EXPECT_EQ(p.qname, "example.org.");

  std::vector<uint8_t> bad = test::query_bytes("n1.node.weft", kTypeA);
  bad[12] = 0x50;  // a label type 0x40: not allowed
  a = exchange(bad);
  ASSERT_TRUE(a.has_value());
  p = test::parse(*a);
  EXPECT_EQ(p.flags & 0xF, kRcodeFormErr);
  EXPECT_EQ(server_->counters().formerr, 1u);

  EXPECT_FALSE(exchange({1, 2, 3}, true).has_value());
  EXPECT_FALSE(exchange(test::query_bytes("n1.node.weft", kTypeA, -1, 0, kFlagQr), true).has_value());
  EXPECT_EQ(server_->counters().dropped_short, 1u);
  EXPECT_EQ(server_->counters().dropped_response, 1u);

  a = exchange(test::query_bytes("n2.node.weft", kTypeA));  // still answering: NXDOMAIN
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(test::parse(*a).flags & 0xF, kRcodeNxDomain);
  EXPECT_EQ(server_->counters().answered, 2u);
  EXPECT_EQ(server_->counters().refused, 1u);
}

}  // namespace
}  // namespace dns
