// DNS query decoding: real query bytes decode, and each RFC 9267 pitfall is rejected.
#include <gtest/gtest.h>

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
  EXPECT_EQ(q.qname.bytes[1], 'w');  // lower-cased
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
