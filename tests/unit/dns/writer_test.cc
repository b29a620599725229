// DNS response encoding: exact bytes for a compressed answer, SRV targets left uncompressed,
// case-insensitive compression, whole-RRset truncation (TC for answers, none for additional),
// the OPT record kept in a truncated response, and no byte past the limit.
#include "agent/dns/writer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/dns/dns_test_util.h"

namespace dns {
namespace {

using test::be16;
using test::name;
using test::parse;
using test::Parsed;

constexpr uint8_t kAddr[4] = {10, 0, 0, 7};

TEST(DnsWriter, ExactBytesOfACompressedAnswer) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 512);
  ASSERT_TRUE(w.header(0xBEEF, kFlagQr | kFlagAa | kFlagRd));
  ASSERT_TRUE(w.question(name("Web.service.weft"), kTypeA, kClassIn));
  w.begin_rrset(Section::kAnswer);
  w.add_a(name("web.service.weft"), 30, kAddr);  // other case: still compressed onto the question
  ASSERT_TRUE(w.end_rrset());
  buf.resize(w.finish());
  const std::vector<uint8_t> want = {
      0xBE, 0xEF, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0,                                   // header
      3, 'W', 'e', 'b', 7, 's', 'e', 'r', 'v', 'i', 'c', 'e', 4, 'w', 'e', 'f', 't', 0,  // as asked
      0, 1, 0, 1,                                                                        // A IN
      0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 7};                             // answer
  EXPECT_EQ(buf, want);
}

TEST(DnsWriter, SrvTargetIsNotCompressedAndAdditionalPointsAtIt) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 512);
  ASSERT_TRUE(w.header(7, kFlagQr | kFlagAa));
  ASSERT_TRUE(w.question(name("_web._tcp.service.weft"), kTypeSrv, kClassIn));
  w.begin_rrset(Section::kAnswer);
  w.add_srv(name("_web._tcp.service.weft"), 0, 1, 1, 8080, name("node1.node.weft"));
  w.add_srv(name("_web._tcp.service.weft"), 0, 1, 1, 8081, name("node2.node.weft"));
  ASSERT_TRUE(w.end_rrset());
  w.begin_rrset(Section::kAdditional);
  w.add_a(name("node1.node.weft"), 0, kAddr);
  ASSERT_TRUE(w.end_rrset());
  buf.resize(w.finish());
  Parsed p = parse(buf);
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.rrs.size(), 3u);
  EXPECT_EQ(p.counts[1], 2);
  EXPECT_EQ(p.counts[3], 1);
  // The second target's "node.weft" could have pointed at the first's; RFC 2782 forbids it.
  const std::vector<uint8_t>& rd = p.rrs[1].rdata;
  ASSERT_EQ(rd.size(), 6u + name("node2.node.weft").size);
  EXPECT_EQ(rd[6], 5);
  EXPECT_EQ(be16(rd, 4), 8081);
  // The additional owner is a pointer to the first SRV's target.
  const size_t owner_at = p.rrs[1].rdata_at + p.rrs[1].rdata.size();
  EXPECT_EQ(buf[owner_at] & 0xC0, 0xC0);
  EXPECT_EQ(((buf[owner_at] & 0x3F) << 8 | buf[owner_at + 1]), static_cast<int>(p.rrs[0].rdata_at + 6));
  EXPECT_EQ(p.rrs[2].owner, "node1.node.weft.");
}

TEST(DnsWriter, AnAnswerThatDoesNotFitIsRemovedWholeAndSetsTc) {
  std::vector<uint8_t> buf(4096);
  const OptData opt{.udp_size = 1232, .extended_rcode = 0, .dnssec_ok = false};
  MessageWriter w(buf, 512, &opt);
  ASSERT_TRUE(w.header(1, kFlagQr | kFlagAa));
  ASSERT_TRUE(w.question(name("web.service.weft"), kTypeA, kClassIn));
  w.begin_rrset(Section::kAnswer);
  for (int i = 0; i < 40; ++i) w.add_a(name("web.service.weft"), 0, kAddr);  // 40 x 16 bytes
  EXPECT_FALSE(w.end_rrset());
  EXPECT_TRUE(w.truncated());
  w.begin_rrset(Section::kAuthority);  // refused after truncation, though it would fit
  w.add_soa(name("weft"), 0, SoaData{.mname = name("ns.weft"), .rname = name("hostmaster.weft")});
  EXPECT_FALSE(w.end_rrset());
  const size_t size = w.finish();
  ASSERT_LE(size, 512u);
  buf.resize(size);
  Parsed p = parse(buf);
  ASSERT_TRUE(p.ok);
  EXPECT_NE(p.flags & kFlagTc, 0);
  EXPECT_EQ(p.counts[1], 0);
  EXPECT_EQ(p.counts[2], 0);
  ASSERT_EQ(p.counts[3], 1);  // the OPT record survives truncation
  EXPECT_EQ(p.rrs[0].type, kTypeOpt);
  EXPECT_EQ(p.rrs[0].klass, 1232);
  EXPECT_EQ(p.qname, "web.service.weft.");

  // The control: 20 records fit in 512 and nothing is truncated.
  std::vector<uint8_t> buf2(4096);
  MessageWriter w2(buf2, 512, &opt);
  ASSERT_TRUE(w2.header(1, kFlagQr));
  ASSERT_TRUE(w2.question(name("web.service.weft"), kTypeA, kClassIn));
  w2.begin_rrset(Section::kAnswer);
  for (int i = 0; i < 20; ++i) w2.add_a(name("web.service.weft"), 0, kAddr);
  EXPECT_TRUE(w2.end_rrset());
  buf2.resize(w2.finish());
  Parsed p2 = parse(buf2);
  ASSERT_TRUE(p2.ok);
  EXPECT_EQ(p2.flags & kFlagTc, 0);
  EXPECT_EQ(p2.counts[1], 20);
}

TEST(DnsWriter, AnAdditionalThatDoesNotFitIsDroppedWithoutTc) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 100);
  ASSERT_TRUE(w.header(1, kFlagQr));
  ASSERT_TRUE(w.question(name("web.service.weft"), kTypeSrv, kClassIn));
  w.begin_rrset(Section::kAnswer);
  w.add_srv(name("web.service.weft"), 0, 1, 1, 80, name("n1.node.weft"));
  ASSERT_TRUE(w.end_rrset());
  w.begin_rrset(Section::kAdditional);
  for (int i = 0; i < 4; ++i) w.add_aaaa(name("n1.node.weft"), 0, {});
  EXPECT_FALSE(w.end_rrset());
  EXPECT_FALSE(w.truncated());
  buf.resize(w.finish());
  Parsed p = parse(buf);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.flags & kFlagTc, 0);
  EXPECT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.counts[3], 0);
}

TEST(DnsWriter, BadRecordsFailTheirRRset) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 512);
  ASSERT_TRUE(w.header(1, kFlagQr));
  ASSERT_TRUE(w.question(name("t.weft"), kTypeTxt, kClassIn));
  const std::string big(256, 'x');
  const std::string_view strings[] = {"ok", big};
  w.begin_rrset(Section::kAdditional);
  w.add_txt(name("t.weft"), 0, strings);  // a 256-byte string
  EXPECT_FALSE(w.end_rrset());
  w.begin_rrset(Section::kAdditional);
  w.add_name_rr(name("t.weft"), kTypeA, 0, name("x.weft"));  // not a name type
  EXPECT_FALSE(w.end_rrset());
  Name broken = name("t.weft");
  broken.bytes[0] = 9;  // label runs past the end
  w.begin_rrset(Section::kAdditional);
  w.add_a(broken, 0, kAddr);
  EXPECT_FALSE(w.end_rrset());
  w.begin_rrset(Section::kAdditional);
  const std::string_view fine[] = {"v=1", std::string_view(big).substr(0, 255)};
  w.add_txt(name("t.weft"), 0, fine);
  EXPECT_TRUE(w.end_rrset());
  buf.resize(w.finish());
  Parsed p = parse(buf);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.counts[3], 1);
  EXPECT_EQ(p.rrs[0].rdata.size(), 1u + 3 + 1 + 255);
}

// Every limit from 0 to 300 bytes: nothing is written past it, the message parses, and what is
// kept is whole RRsets.
TEST(DnsWriter, NeverWritesPastTheLimit) {
  const OptData opt{.udp_size = 4096, .extended_rcode = 0, .dnssec_ok = true};
  for (size_t limit = 0; limit <= 300; ++limit) {
    std::vector<uint8_t> buf(400, 0xEE);
    MessageWriter w(std::span(buf.data(), 400), limit, limit % 2 == 0 ? &opt : nullptr);
    if (!w.header(9, kFlagQr | kFlagAa)) {
      EXPECT_LT(limit, kHeaderBytes + (limit % 2 == 0 ? kOptBytes : 0));
      continue;
    }
    (void)w.question(name("api.service.weft"), kTypeSrv, kClassIn);
    w.begin_rrset(Section::kAnswer);
    w.add_srv(name("api.service.weft"), 5, 1, 1, 443, name("a.node.dc1.weft"));
    w.add_srv(name("api.service.weft"), 5, 1, 1, 443, name("b.node.dc1.weft"));
    const bool answer = w.end_rrset();
    w.begin_rrset(Section::kAdditional);
    w.add_a(name("a.node.dc1.weft"), 5, kAddr);
    (void)w.end_rrset();
    const size_t size = w.finish();
    ASSERT_LE(size, limit) << limit;
    for (size_t i = limit; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0xEE) << "limit " << limit << " byte " << i;
    buf.resize(size);
    Parsed p = parse(buf);
    ASSERT_TRUE(p.ok) << limit;
    EXPECT_TRUE(p.counts[1] == 0 || p.counts[1] == 2) << limit;
    EXPECT_EQ(answer, p.counts[1] == 2) << limit;
    EXPECT_EQ((p.flags & kFlagTc) != 0, !answer) << limit;
  }
}

}  // namespace
}  // namespace dns
