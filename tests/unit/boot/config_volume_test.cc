// Proves the CIDATA probe: labels read from ISO 9660 primary volume descriptors, FAT12/16 and
// FAT32 boot sectors and ext4 superblocks (made by hand, and by xorriso, mkfs.vfat and mkfs.ext4
// when present), "NO NAME" and
// foreign or truncated sectors give no label; meta-data's local-hostname and instance-id are
// taken from NoCloud's key: value lines, quoted or not, and junk is skipped.
#include "boot/config_volume.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/unit/hal/posix/test_util.h"

namespace boot {
namespace {

std::string iso(const std::string& label) {
  std::string b(kProbeBytes, '\0');
  b[32768] = 1;
  b.replace(32769, 5, "CD001");
  std::string padded = label + std::string(32 - label.size(), ' ');
  b.replace(32768 + 40, 32, padded);
  return b;
}

std::string fat(const std::string& label, bool fat32) {
  std::string b(512, '\0');
  b[510] = '\x55';
  b[511] = '\xAA';
  std::string padded = label + std::string(11 - label.size(), ' ');
  if (fat32) {
    b[0x42] = 0x29;
    b.replace(0x47, 11, padded);
    b.replace(0x52, 8, "FAT32   ");
  } else {
    b[0x26] = 0x29;
    b.replace(0x2B, 11, padded);
    b.replace(0x36, 8, "FAT16   ");
  }
  return b;
}

TEST(ConfigVolume, LabelsFromIsoAndFat) {
  EXPECT_EQ(volume_label(iso("CIDATA")), "CIDATA");
  EXPECT_EQ(volume_label(iso("cidata")), "cidata");
  EXPECT_EQ(volume_label(fat("CIDATA", false)), "CIDATA");
  EXPECT_EQ(volume_label(fat("CIDATA", true)), "CIDATA");
  EXPECT_EQ(volume_label(fat("NO NAME", true)), "");
  EXPECT_EQ(volume_label(std::string(kProbeBytes, '\0')), "");
  EXPECT_EQ(volume_label(iso("CIDATA").substr(0, 32800)), "") << "truncated before the identifier";
  std::string no_sig = fat("CIDATA", false);
  no_sig[0x26] = 0;
  EXPECT_EQ(volume_label(no_sig), "");
  std::string binary = iso("CI");
  binary[32768 + 40 + 2] = '\x01';
  EXPECT_EQ(volume_label(binary), "") << "control bytes are no label";
}

TEST(ConfigVolume, RealImagesWhenTheToolsExist) {
  if (std::system("command -v xorriso >/dev/null && command -v mkfs.vfat >/dev/null") != 0) {
    GTEST_SKIP() << "needs xorriso and mkfs.vfat (tools/deps installs them)";
  }
  posix_test::TempDir dir;
  const std::string iso_path = dir.join("c.iso"), fat_path = dir.join("c.img");
  ASSERT_EQ(std::system(("echo '{}' > " + dir.join("user-data") + " && xorriso -as mkisofs -quiet -V CIDATA -J -r -o " + iso_path +
                         " " + dir.join("user-data") + " 2>/dev/null")
                            .c_str()),
            0);
  ASSERT_EQ(std::system(("mkfs.vfat -C -n CIDATA " + fat_path + " 1024 >/dev/null").c_str()), 0);
  const std::string ext_path = dir.join("d.img");
  if (std::system(("mkfs.ext4 -q -F -L CIDATA " + ext_path + " 1M 2>/dev/null").c_str()) != 0) GTEST_SKIP() << "no mkfs.ext4";
  for (const std::string& p : {iso_path, fat_path, ext_path}) {
    FILE* f = std::fopen(p.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    std::string head(kProbeBytes, '\0');
    head.resize(std::fread(head.data(), 1, head.size(), f));
    std::fclose(f);
    EXPECT_EQ(volume_label(head), "CIDATA") << p;
  }
}

TEST(ConfigVolume, ExtSuperblockLabel) {
  std::string b(kProbeBytes, '\0');
  b[1024 + 0x38] = '\x53';
  b[1024 + 0x39] = '\xEF';
  b.replace(1024 + 0x78, 9, "WEFT-DATA");
  EXPECT_EQ(volume_label(b), "WEFT-DATA");
  b[1024 + 0x39] = '\x00';
  EXPECT_EQ(volume_label(b), "") << "no ext magic";
}

TEST(ConfigVolume, MetaData) {
  MetaData m = parse_meta_data("instance-id: iid-42\nlocal-hostname: \"web-1\"\n# comment\n  nested: x\njunk\n");
  EXPECT_EQ(m.instance_id, "iid-42");
  EXPECT_EQ(m.local_hostname, "web-1");
  EXPECT_EQ(parse_meta_data("local-hostname: a\x01" "b\n").local_hostname, "") << "control characters refused";
  EXPECT_EQ(parse_meta_data("local-hostname:'n2'\r\n").local_hostname, "n2");
  EXPECT_EQ(parse_meta_data("").local_hostname, "");
}

}  // namespace
}  // namespace boot
