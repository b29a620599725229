// The host's snapshot file (wire/snapshot_file.h): format 2 round-trips with its configuration,
// format 1 (no configuration) is still read, and every malformed header is refused -- every
// truncation, a wrong magic or format, index or term 0, a configuration that is too long, does
// not decode or has no voter.
#include <gtest/gtest.h>

#include "agent/base/bytes.h"
#include "agent/wire/snapshot_file.h"

namespace {

using wire::SnapshotFileHeader;

bool decodes(const std::string& b) {
  SnapshotFileHeader h;
  std::string_view image;
  return wire::decode_snapshot_file(b, &h, &image).is_ok();
}

// A header written field by field, so that invalid ones can be built.
std::string raw(uint32_t format, uint64_t index, uint64_t term, const std::string& config, bool with_config = true) {
  std::string out;
  base::ByteWriter w(&out, 1u << 16);
  w.raw(wire::kSnapshotFileMagic);
  w.u32(format);
  w.u64(index);
  w.u64(term);
  if (with_config) {
    w.u32(static_cast<uint32_t>(config.size()));
    w.raw(config);
  }
  w.raw(std::string_view("image"));
  return out;
}

}  // namespace

TEST(SnapshotFile, RoundTripsWithItsConfiguration) {
  const SnapshotFileHeader h{42, 7, wire::RaftMembership{{1, 5, 9}, {12}}};
  const std::string image("\0sqlite image\xff", 14);
  const std::string b = wire::encode_snapshot_file(h, image);
  SnapshotFileHeader out;
  std::string_view img;
  ASSERT_TRUE(wire::decode_snapshot_file(b, &out, &img).is_ok());
  EXPECT_EQ(out, h);
  EXPECT_EQ(img, image);
  // Every truncation inside the header is refused; one inside the image only shortens the image
  // (the image carries its own SHA-256, which state::Store::restore checks).
  const size_t header_bytes = b.size() - image.size();
  for (size_t n = 0; n < header_bytes; ++n) EXPECT_FALSE(decodes(b.substr(0, n))) << n;
}

TEST(SnapshotFile, Format1IsReadWithoutAConfiguration) {
  SnapshotFileHeader out;
  std::string_view img;
  const std::string file = raw(1, 3, 2, "", /*with_config=*/false);  // the image views into it
  ASSERT_TRUE(wire::decode_snapshot_file(file, &out, &img).is_ok());
  EXPECT_EQ(out.index, 3u);
  EXPECT_EQ(out.term, 2u);
  EXPECT_TRUE(out.config.voters.empty());
  EXPECT_EQ(img, "image");
}

TEST(SnapshotFile, MalformedHeadersAreRefused) {
  const std::string ok = wire::encode_raft_membership(wire::RaftMembership{{1, 2, 3}, {}});
  EXPECT_TRUE(decodes(raw(2, 3, 2, ok))) << "the hand encoder matches";
  std::string b = raw(2, 3, 2, ok);
  b[0] = 'X';
  EXPECT_FALSE(decodes(b)) << "magic";
  EXPECT_FALSE(decodes(raw(3, 3, 2, ok))) << "a newer format";
  EXPECT_FALSE(decodes(raw(0, 3, 2, ok))) << "format 0";
  EXPECT_FALSE(decodes(raw(2, 0, 2, ok))) << "index 0";
  EXPECT_FALSE(decodes(raw(2, 3, 0, ok))) << "term 0";
  EXPECT_FALSE(decodes(raw(2, 3, 2, wire::encode_raft_membership(wire::RaftMembership{}))))
      << "a configuration without a voter";
  EXPECT_FALSE(decodes(raw(2, 3, 2, std::string("\x01\x02\x05\x05\x00", 5)))) << "a duplicate voter";
  EXPECT_FALSE(decodes(raw(2, 3, 2, std::string(wire::kMembershipBytesMax + 1, '\x01')))) << "too long";
  // A length past the end of the file.
  std::string cut = raw(2, 3, 2, ok, /*with_config=*/false);
  EXPECT_FALSE(decodes(cut.substr(0, cut.size() - 5) + std::string("\xff\xff\x00\x00", 4)));
}
