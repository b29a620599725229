// Proves the wire encoders round-trip and that the reader rejects truncated, over-long and
// oversized input instead of reading past the end.
#include "agent/base/bytes.h"

#include <gtest/gtest.h>

namespace {

TEST(Bytes, RoundTripsFixedAndVarints) {
  std::string buf;
  base::ByteWriter w(&buf, 1024);
  w.u8(0xab);
  w.u16(0x1234);
  w.u32(0xdeadbeef);
  w.u64(0x0102030405060708ull);
  w.varint(0);
  w.varint(127);
  w.varint(128);
  w.varint(UINT64_MAX);
  w.svarint(-1);
  w.svarint(INT64_MIN);
  w.str("hello");
  ASSERT_TRUE(w.ok());
  // Little-endian on the wire regardless of host.
  EXPECT_EQ(static_cast<uint8_t>(buf[1]), 0x34);
  EXPECT_EQ(static_cast<uint8_t>(buf[2]), 0x12);

  base::ByteReader r(buf);
  EXPECT_EQ(r.u8(), 0xab);
  EXPECT_EQ(r.u16(), 0x1234);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.u64(), 0x0102030405060708ull);
  EXPECT_EQ(r.varint(), 0u);
  EXPECT_EQ(r.varint(), 127u);
  EXPECT_EQ(r.varint(), 128u);
  EXPECT_EQ(r.varint(), UINT64_MAX);
  EXPECT_EQ(r.svarint(), -1);
  EXPECT_EQ(r.svarint(), INT64_MIN);
  EXPECT_EQ(r.str(16), "hello");
  EXPECT_TRUE(r.at_end());
}

TEST(Bytes, WriterStopsAtLimit) {
  std::string buf;
  base::ByteWriter w(&buf, 5);
  w.u32(1);
  EXPECT_TRUE(w.ok());
  w.u16(2);
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(buf.size(), 4u);
  w.u8(3);  // stays failed, writes nothing
  EXPECT_EQ(buf.size(), 4u);
}

TEST(Bytes, ReaderFailsOnTruncation) {
  std::string buf = "\x01\x02\x03";
  base::ByteReader r(buf);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u8(), 0u);  // stays failed
}

TEST(Bytes, ReaderRejectsOverlongVarint) {
  std::string buf(11, '\x80');
  base::ByteReader r(buf);
  r.varint();
  EXPECT_FALSE(r.ok());
  // Ten bytes whose last carries more than the top bit overflow 64 bits.
  std::string over(9, '\xff');
  over.push_back('\x02');
  base::ByteReader r2(over);
  r2.varint();
  EXPECT_FALSE(r2.ok());
}

TEST(Bytes, ReaderRejectsLengthBeyondLimitOrData) {
  std::string buf;
  base::ByteWriter w(&buf, 64);
  w.str("0123456789");
  base::ByteReader limited(buf);
  limited.str(5);
  EXPECT_FALSE(limited.ok());
  std::string lying = "\x40" "abc";  // claims 64 bytes, has 3
  base::ByteReader r(lying);
  r.str(1000);
  EXPECT_FALSE(r.ok());
}

TEST(Bytes, Crc32cKnownVector) {
  // RFC 3720 B.4: CRC-32C of "123456789" is 0xE3069283.
  EXPECT_EQ(base::crc32c(base::as_bytes("123456789")), 0xE3069283u);
}

}  // namespace
