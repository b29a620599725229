// The tar reader's checks (image/layer.h): each hostile entry is refused before anything is
// written; the digests are those of the compressed and uncompressed streams.
#include "agent/image/layer.h"

#include <gtest/gtest.h>

#include "hal/posix/posix_fs.h"
#include "hal/posix/posix_mounts.h"
#include "tests/unit/image/image_builder.h"

namespace image {
namespace {

using testing::make_tar;
using testing::TarEntry;

base::Result<UnpackResult> check(const std::string& bytes, Limits limits = {}) {
  MemorySource source(base::as_bytes(bytes));
  return unpack(source, TarKind::kLayer, UnpackTarget{}, limits);
}

std::string refusal(const std::vector<TarEntry>& entries, Limits limits = {}) {
  auto r = check(make_tar(entries), limits);
  return r.is_ok() ? "accepted" : r.status().message();
}

class LayerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fs_.make_temp_dir("layer-test").value(); }
  void TearDown() override { fs_.remove_tree(dir_).ignore(); }
  hal::posix::PosixFs fs_;
  hal::posix::PosixMounts mounts_;
  std::string dir_;
};

// Names are made relative; ".." and absolute names are refused.
TEST(CleanPath, RelativeNamesOnly) {
  EXPECT_EQ(clean_path("./a//b/").value(), "a/b");
  EXPECT_EQ(clean_path(".").value(), "");
  EXPECT_FALSE(clean_path("/etc/passwd").is_ok());
  EXPECT_FALSE(clean_path("a/../../b").is_ok());
  EXPECT_FALSE(clean_path("..").is_ok());
  EXPECT_FALSE(clean_path(std::string(5000, 'a')).is_ok());
}

// Symlink targets resolve inside the root, absolute ones against it.
TEST(LinkEscapes, LexicalResolution) {
  EXPECT_FALSE(link_escapes("bin/sh", "busybox"));
  EXPECT_FALSE(link_escapes("bin/sh", "/bin/busybox"));
  EXPECT_FALSE(link_escapes("a/b/c", "../../x"));
  EXPECT_TRUE(link_escapes("a/b/c", "../../../x"));
  EXPECT_TRUE(link_escapes("x", "../etc/passwd"));
  EXPECT_TRUE(link_escapes("x", "/../etc"));
  EXPECT_TRUE(link_escapes("x", ""));
}

// Every hostile entry named in store.h is refused, with the entry in the message.
TEST(Unpack, RefusesHostileEntries) {
  EXPECT_NE(refusal({{.name = "../evil", .data = "x"}}).find("\"..\""), std::string::npos);
  EXPECT_NE(refusal({{.name = "/etc/evil", .data = "x"}}).find("absolute"), std::string::npos);
  EXPECT_NE(refusal({{.name = "a/../../evil", .data = "x"}}).find(".."), std::string::npos);
  EXPECT_NE(refusal({{.name = "esc", .type = 'l', .link = "../../etc/shadow"}}).find("symlink"), std::string::npos);
  EXPECT_NE(refusal({{.name = "esc", .type = 'h', .link = "../etc/shadow"}}).find(".."), std::string::npos);
  EXPECT_NE(refusal({{.name = "esc", .type = 'h', .link = "/etc/shadow"}}).find("absolute"), std::string::npos);
  EXPECT_NE(refusal({{.name = "null", .type = 'c', .rdev_major = 1, .rdev_minor = 3}}).find("device"), std::string::npos);
  EXPECT_NE(refusal({{.name = "sda", .type = 'b'}}).find("device"), std::string::npos);
  EXPECT_NE(refusal({{.name = "fifo", .type = 'p'}}).find("FIFO"), std::string::npos);
  // A symlink to an absolute path is fine in the image, but nothing may be written through it.
  EXPECT_EQ(refusal({{.name = "etc", .type = 'l', .link = "/etc"}}), "accepted");
  EXPECT_NE(refusal({{.name = "etc", .type = 'l', .link = "/etc"}, {.name = "etc/passwd", .data = "x"}}).find("through a symlink"),
            std::string::npos);
  EXPECT_NE(refusal({{.name = "l", .type = 'l', .link = "/"}, {.name = "h", .type = 'h', .link = "l/etc/shadow"}}).find("hard link"),
            std::string::npos);
}

// The size and entry bounds are enforced while reading, before the data is written.
TEST(Unpack, RefusesOversize) {
  Limits small{.entries_max = 3, .unpacked_bytes_max = 100};
  auto r = check(make_tar({{.name = "big", .data = std::string(101, 'x')}}), small);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kResourceExhausted);
  r = check(make_tar({{.name = "a"}, {.name = "b"}, {.name = "c"}, {.name = "d"}}), small);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kResourceExhausted);
  EXPECT_FALSE(check(std::string(300, 'z')).is_ok());  // not a tar at all
}

// Both digests come from one pass: the blob's over the gzip bytes, the diff_id over the tar.
TEST(Unpack, DigestsOfBothStreams) {
  std::vector<TarEntry> entries = {{.name = "bin", .type = 'd'}, {.name = "bin/sh", .data = "#!"}};
  std::string tar = make_tar(entries), gz = make_tar(entries, true);
  auto plain = check(tar);
  ASSERT_TRUE(plain.is_ok()) << plain.status().message();
  EXPECT_EQ(plain->diff_id, testing::digest_of(tar));
  EXPECT_EQ(plain->compressed_digest, testing::digest_of(tar));
  auto zipped = check(gz);
  ASSERT_TRUE(zipped.is_ok()) << zipped.status().message();
  EXPECT_EQ(zipped->diff_id, testing::digest_of(tar));
  EXPECT_EQ(zipped->compressed_digest, testing::digest_of(gz));
  EXPECT_EQ(zipped->size_bytes, 2u);
  EXPECT_EQ(zipped->entries, 2u);
}

// Writing: files, links and whiteouts land in the target; whiteouts in overlayfs's form.
TEST_F(LayerTest, WritesFilesLinksAndWhiteouts) {
  std::string tar = make_tar({{.name = "bin", .type = 'd'},
                              {.name = "bin/busybox", .data = "elf", .mode = 0755},
                              {.name = "bin/sh", .type = 'l', .link = "busybox"},
                              {.name = "bin/ash", .type = 'h', .link = "bin/busybox"},
                              {.name = "etc/.wh.gone"},
                              {.name = "var/.wh..wh..opq"}});
  MemorySource source(base::as_bytes(tar));
  auto r = unpack(source, TarKind::kLayer, UnpackTarget{dir_, &fs_, &mounts_}, {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(fs_.read_file(dir_ + "/bin/busybox", 100).value(), "elf");
  EXPECT_EQ(fs_.stat(dir_ + "/bin/sh").value().type, hal::FileType::kSymlink);
  EXPECT_EQ(fs_.read_file(dir_ + "/bin/ash", 100).value(), "elf");
  EXPECT_EQ(r->whiteouts, std::vector<std::string>{"etc/gone"});
  EXPECT_EQ(r->opaque_dirs, std::vector<std::string>{"var"});
  if (r->overlay_ready) {
    EXPECT_EQ(fs_.stat(dir_ + "/etc/gone").value().type, hal::FileType::kOther);  // the 0/0 device
  }
  EXPECT_FALSE(fs_.stat(dir_ + "/etc/.wh.gone").is_ok());
}

// A refused entry stops the unpack: nothing after it is written.
TEST_F(LayerTest, StopsAtTheFirstRefusal) {
  std::string tar = make_tar({{.name = "ok", .data = "1"}, {.name = "../../escape", .data = "2"}, {.name = "after", .data = "3"}});
  MemorySource source(base::as_bytes(tar));
  auto r = unpack(source, TarKind::kLayer, UnpackTarget{dir_, &fs_, &mounts_}, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument);
  EXPECT_FALSE(fs_.stat(dir_ + "/after").is_ok());
}

}  // namespace
}  // namespace image
