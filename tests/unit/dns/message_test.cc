// DNS query decoding: real query bytes decode, and each RFC 9267 pitfall is rejected.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/dns/message.h"

namespace dns {
namespace {

// dig +qr "web.service.weft" A, ID 0x1234, RD, with an EDNS0 OPT of 1232 bytes and DO.
std::vector<uint8_t> query_bytes() {
  return {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
          3, 'W', 'e', 'b', 7, 's', 'e', 'r', 'v', 'i', 'c', 'e', 4, 'w', 'e', 'f', 't', 0,
          0, 1, 0, 1,
          0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0};
}

TEST(DnsMessage, DecodesQueryWithEdns) {
  auto b = query_bytes();
  Query q;
  ASSERT_EQ(decode_query(b, &q), DecodeError::kNone);
  EXPECT_EQ(q.header.id, 0x1234);
  EXPECT_EQ(q.qtype, 1);
  EXPECT_EQ(q.qname.size, 18);
  EXPECT_EQ(q.qname.bytes[1], 'W');  // the case as sent, to be echoed (0x20)
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_udp_size, 1232);
  EXPECT_TRUE(q.edns_do);
}

TEST(DnsMessage, RejectsShortHeaderAndQdcount) {
  auto b = query_bytes();
  Query q;
  EXPECT_EQ(decode_query(std::span(b.data(), 11), &q), DecodeError::kShortHeader);
  b[5] = 2;
  EXPECT_EQ(decode_query(b, &q), DecodeError::kNotOneQuestion);
  EXPECT_EQ(q.header.id, 0x1234);  // readable header for FORMERR
}

TEST(DnsMessage, RejectsPointerLoopAndForwardPointer) {
  auto b = query_bytes();
  Query q;
  b[12] = 0xC0;  // points at itself
  b[13] = 12;
  EXPECT_EQ(decode_query(b, &q), DecodeError::kPointerForward);
  b[13] = 20;  // points forward
  EXPECT_EQ(decode_query(b, &q), DecodeError::kPointerForward);
}

TEST(DnsMessage, RejectsLongLabelLongNameTruncatedAndLyingCounts) {
  Query q;
  auto b = query_bytes();
  b[12] = 64;
  EXPECT_EQ(decode_query(b, &q), DecodeError::kLabelTooLong);
  std::vector<uint8_t> lng = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 5; ++i) {
    lng.push_back(60);
    lng.insert(lng.end(), 60, 'a');
  }
  lng.insert(lng.end(), {0, 0, 1, 0, 1});
  EXPECT_EQ(decode_query(lng, &q), DecodeError::kNameTooLong);
  b = query_bytes();
  EXPECT_EQ(decode_query(std::span(b.data(), 40), &q), DecodeError::kTruncated);
  b[11] = 50;  // 50 additional records in 45 bytes
  EXPECT_EQ(decode_query(b, &q), DecodeError::kCountLies);
}

}  // namespace
}  // namespace dns

namespace dns {
namespace {

// An A query for "a." with one additional record appended after the question.
std::vector<uint8_t> query_with_additional(uint16_t type, uint16_t klass, uint32_t ttl,
                                           uint8_t name_len_byte) {
  std::vector<uint8_t> b = {0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1};
  b.push_back(name_len_byte);  // 0: root name
  b.insert(b.end(), {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type),
                     static_cast<uint8_t>(klass >> 8), static_cast<uint8_t>(klass),
                     static_cast<uint8_t>(ttl >> 24), static_cast<uint8_t>(ttl >> 16),
                     static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl), 0, 2, 0xAB,
                     0xCD});
  return b;
}

TEST(DnsMessage, SkipsUnknownTypeAndReadsOptFields) {
  Query q;
  auto unknown = query_with_additional(65280, 1, 0, 0);  // private-use type, 2 bytes rdata
  ASSERT_EQ(decode_query(unknown, &q), DecodeError::kNone);
  EXPECT_FALSE(q.has_edns);
  auto opt = query_with_additional(41, 100, 0x00018000u, 0);  // size 100, version 1, DO
  ASSERT_EQ(decode_query(opt, &q), DecodeError::kNone);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_udp_size, 512);  // RFC 6891 §6.2.5: below 512 means 512
  EXPECT_EQ(q.edns_version, 1);
  EXPECT_TRUE(q.edns_do);
}

TEST(DnsMessage, RejectsMisplacedOrNamedOpt) {
  Query q;
  auto named = query_with_additional(41, 1232, 0, 0);
  named[19] = 0xC0;  // OPT owner is a pointer to "a.", not the root
  named.insert(named.begin() + 20, 12);
  EXPECT_EQ(decode_query(named, &q), DecodeError::kBadOpt);
  auto in_answer = query_with_additional(41, 1232, 0, 0);
  in_answer[7] = 1;  // same record counted as an answer
  in_answer[11] = 0;
  EXPECT_EQ(decode_query(in_answer, &q), DecodeError::kBadOpt);
}

TEST(DnsMessage, RejectsTwoPointerLoopAndReservedLabelTypes) {
  Query q;
  // Additional record owner at 19 points to 21, which points back to 19.
  auto loop = query_with_additional(1, 1, 0, 0xC0);
  loop.insert(loop.begin() + 20, {21, 0xC0, 19});
  EXPECT_EQ(decode_query(loop, &q), DecodeError::kPointerForward);
  auto b = query_with_additional(1, 1, 0, 0);
  b[12] = 0x41;  // 0b01 extended label type (RFC 6891 §5)
  EXPECT_EQ(decode_query(b, &q), DecodeError::kLabelTooLong);
  b[12] = 0x81;  // 0b10, reserved
  EXPECT_EQ(decode_query(b, &q), DecodeError::kLabelTooLong);
}

// The question name keeps the case it was sent in (a 0x20-randomised question must be echoed
// exactly); comparison folds ASCII case only.
TEST(DnsMessage, KeepsQuestionCaseAndComparesCaseInsensitively) {
  auto b = query_bytes();
  Query q;
  ASSERT_EQ(decode_query(b, &q), DecodeError::kNone);
  const uint8_t sent[] = {3, 'W', 'e', 'b', 7, 's', 'e', 'r', 'v', 'i', 'c', 'e', 4, 'w', 'e', 'f', 't', 0};
  ASSERT_EQ(q.qname.size, sizeof sent);
  EXPECT_EQ(std::vector<uint8_t>(q.qname.bytes, q.qname.bytes + q.qname.size), std::vector<uint8_t>(sent, sent + sizeof sent));

  Name lower = q.qname;
  lower_name(&lower);
  EXPECT_EQ(lower.bytes[1], 'w');
  EXPECT_TRUE(name_equal(q.qname, lower));
  Name other = lower;
  other.bytes[2] = 'x';
  EXPECT_FALSE(name_equal(q.qname, other));
  // Only A-Z fold: '[' (0x5B) and '{' (0x7B) are 0x20 apart but different characters.
  Name a{}, c{};
  a.bytes[0] = 1, a.bytes[1] = '[', a.bytes[2] = 0, a.size = 3;
  c.bytes[0] = 1, c.bytes[1] = '{', c.bytes[2] = 0, c.size = 3;
  EXPECT_FALSE(name_equal(a, c));
}

// A message with QR set is a response: it is dropped, never answered (not even FORMERR).
TEST(DnsMessage, ResponsesAreNotQueries) {
  auto b = query_bytes();
  b[2] |= 0x80;
  Query q;
  EXPECT_EQ(decode_query(b, &q), DecodeError::kNotQuery);
  EXPECT_EQ(q.header.id, 0x1234);
}

TEST(DnsMessage, NameFromText) {
  Name n;
  ASSERT_TRUE(name_from_text("Web.weft.", &n));
  const uint8_t want[] = {3, 'W', 'e', 'b', 4, 'w', 'e', 'f', 't', 0};
  EXPECT_EQ(std::vector<uint8_t>(n.bytes, n.bytes + n.size), std::vector<uint8_t>(want, want + sizeof want));
  ASSERT_TRUE(name_from_text("", &n));
  EXPECT_EQ(n.size, 1);
  ASSERT_TRUE(name_from_text(".", &n));
  EXPECT_EQ(n.size, 1);
  EXPECT_FALSE(name_from_text("a..b", &n));
  EXPECT_FALSE(name_from_text(".a", &n));
  EXPECT_FALSE(name_from_text(std::string(64, 'x'), &n));
  EXPECT_TRUE(name_from_text(std::string(63, 'x'), &n));
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'x') + ".";  // 4 x 64 + root = 257
  EXPECT_FALSE(name_from_text(long_name, &n));
  long_name.resize(long_name.size() - 3);  // labels of 63, 63, 63, 61: 3 x 64 + 62 + root = 255
  EXPECT_TRUE(name_from_text(long_name, &n));
  EXPECT_EQ(n.size, 255);
}

}  // namespace
}  // namespace dns
