// dns::describe_response (agentctl dns): every record type the server writes comes back in dig's
// presentation, in its section; OPT is left out; a response cut at any length, or a record whose
// data runs past the end, is an error and never a partial read; type names and numbers parse.
#include "agent/dns/describe.h"

#include <gtest/gtest.h>

#include <vector>

#include "agent/dns/writer.h"
#include "tests/unit/dns/dns_test_util.h"

namespace {

using namespace dns;  // NOLINT: the test speaks the codec's vocabulary

std::vector<uint8_t> sample() {
  std::vector<uint8_t> buf(1024);
  OptData opt;
  opt.udp_size = 1232;
  MessageWriter w(buf, buf.size(), &opt);
  EXPECT_TRUE(w.header(7, kFlagQr | kFlagAa | kFlagRd));
  EXPECT_TRUE(w.question(test::name("_web._tcp.service.weft"), kTypeSrv, kClassIn));
  w.begin_rrset(Section::kAnswer);
  w.add_srv(test::name("_web._tcp.service.weft"), 30, 1, 1, 8080, test::name("web1.node.weft"));
  EXPECT_TRUE(w.end_rrset());
  w.begin_rrset(Section::kAuthority);
  w.add_soa(test::name("weft"), 0, SoaData{test::name("ns.weft"), test::name("hostmaster.weft"), 1, 3600, 600, 86400, 0});
  EXPECT_TRUE(w.end_rrset());
  w.begin_rrset(Section::kAdditional);
  const uint8_t v4[4] = {10, 0, 0, 1};
  w.add_a(test::name("web1.node.weft"), 30, v4);
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  w.add_aaaa(test::name("web1.node.weft"), 30, v6);
  w.add_name_rr(test::name("1.0.0.10.in-addr.arpa"), kTypePtr, 5, test::name("web1.node.weft"));
  const std::string_view txt[] = {"a=1", "b"};
  w.add_txt(test::name("web1.node.weft"), 0, txt);
  EXPECT_TRUE(w.end_rrset());
  buf.resize(w.finish());
  return buf;
}

TEST(Describe, EveryRecordTypeInDigsPresentation) {
  auto r = describe_response(sample());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->rcode, "NOERROR");
  EXPECT_TRUE(r->authoritative);
  EXPECT_FALSE(r->truncated);
  ASSERT_EQ(r->answer.size(), 1u);
  EXPECT_EQ(r->answer[0].name, "_web._tcp.service.weft.");
  EXPECT_EQ(r->answer[0].type, "SRV");
  EXPECT_EQ(r->answer[0].ttl, 30u);
  EXPECT_EQ(r->answer[0].data, "1 1 8080 web1.node.weft.");
  ASSERT_EQ(r->authority.size(), 1u);
  EXPECT_EQ(r->authority[0].data, "ns.weft. hostmaster.weft. 1 3600 600 86400 0");
  ASSERT_EQ(r->additional.size(), 4u);  // the OPT record is not shown
  EXPECT_EQ(r->additional[0].data, "10.0.0.1");
  EXPECT_EQ(r->additional[1].data, "2001:db8:0:0:0:0:0:1");
  EXPECT_EQ(r->additional[2].type, "PTR");
  EXPECT_EQ(r->additional[2].data, "web1.node.weft.");
  EXPECT_EQ(r->additional[3].data, "\"a=1\" \"b\"");
}

TEST(Describe, MalformedResponsesAreErrorsNotPartialReads) {
  const std::vector<uint8_t> whole = sample();
  for (size_t len = 0; len < whole.size(); ++len) {
    EXPECT_FALSE(describe_response(std::span<const uint8_t>(whole.data(), len)).is_ok()) << len;
  }
  std::vector<uint8_t> longer = whole;
  longer.push_back(0);
  EXPECT_FALSE(describe_response(longer).is_ok());
  // An A record claiming 5 bytes of data.
  std::vector<uint8_t> bad(whole.begin(), whole.end());
  for (size_t i = 12; i + 10 < bad.size(); ++i) {
    if (bad[i] == 0 && bad[i + 1] == kTypeA && bad[i + 2] == 0 && bad[i + 3] == 1 && bad[i + 8] == 0 && bad[i + 9] == 4) {
      bad[i + 9] = 5;
      break;
    }
  }
  EXPECT_FALSE(describe_response(bad).is_ok());
}

TEST(Describe, QueriesAndTypes) {
  auto q = build_query("web.service.weft", kTypeSrv);
  ASSERT_TRUE(q.is_ok());
  Query parsed;
  ASSERT_EQ(decode_query(*q, &parsed), DecodeError::kNone);
  EXPECT_EQ(parsed.qtype, kTypeSrv);
  EXPECT_FALSE(build_query("a..b", kTypeA).is_ok());
  EXPECT_FALSE(build_query(std::string(64, 'x') + ".weft", kTypeA).is_ok());
  EXPECT_EQ(type_from_text("srv"), kTypeSrv);
  EXPECT_EQ(type_from_text("AAAA"), kTypeAaaa);
  EXPECT_EQ(type_from_text("65"), 65);
  EXPECT_EQ(type_from_text("0"), 0);
  EXPECT_EQ(type_from_text("70000"), 0);
  EXPECT_EQ(type_from_text("MX"), 0);
  EXPECT_EQ(type_name(99), "TYPE99");
}

}  // namespace
