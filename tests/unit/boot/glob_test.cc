// boot/glob.h: fnmatch(pattern, text, 0) as kmod uses it, and kmod's normalisations -- the rules
// case by case, then glob_match() against glibc's own fnmatch on many seeded random patterns.
#include "boot/glob.h"

#include <fnmatch.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace boot {
namespace {

bool glibc(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

// Literals, '?' and '*', which matches any run of bytes, '/' and a leading '.' included (kmod
// passes no FNM_PATHNAME or FNM_PERIOD).
TEST(GlobTest, LiteralsQuestionMarksAndStars) {
  EXPECT_TRUE(glob_match("virtio:d00000001v*", "virtio:d00000001v00001AF4"));
  EXPECT_FALSE(glob_match("virtio:d00000001v*", "virtio:d00000002v00001AF4"));
  EXPECT_TRUE(glob_match("pci:v*d*sv*sd*bc01sc06i01*",
                         "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"));
  EXPECT_FALSE(glob_match("pci:v*d*sv*sd*bc01sc06i01*",
                          "pci:v00008086d00002922sv00001AF4sd00001100bc01sc08i02"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("**", "anything/at.all"));
  EXPECT_FALSE(glob_match("a*", ".a/b"));
  EXPECT_TRUE(glob_match("*b", ".a/b"));
  EXPECT_TRUE(glob_match("?a", ".a"));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_TRUE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(40, 'a') + "b"));
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(4000, 'a')));
}

// Bracket expressions as the kernel writes them (bcdDevice ranges in USB aliases) and their
// corners: negation with '!' or '^', ']' first is a member, '-' last is a member, quoting.
TEST(GlobTest, BracketExpressions) {
  const std::string usb = "usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in*";
  EXPECT_TRUE(glob_match(usb, "usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00"));
  EXPECT_FALSE(glob_match(usb, "usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip50in00"));
  EXPECT_TRUE(glob_match("[!a]", "b"));
  EXPECT_FALSE(glob_match("[!a]", "a"));
  EXPECT_TRUE(glob_match("[^a]", "b"));
  EXPECT_TRUE(glob_match("[]a]", "]"));
  EXPECT_TRUE(glob_match("[!]a]", "b"));
  EXPECT_FALSE(glob_match("[!]a]", "]"));
  EXPECT_TRUE(glob_match("[a-]", "-"));
  EXPECT_TRUE(glob_match("[a-c-e]", "-"));
  EXPECT_FALSE(glob_match("[a-c-e]", "d"));
  EXPECT_TRUE(glob_match("[\\]]", "]"));
  EXPECT_TRUE(glob_match("[A-\\]]", "Z"));
  EXPECT_FALSE(glob_match("[a-\\]]", "Z"));
  EXPECT_FALSE(glob_match("[z-a]", "m"));          // an empty range
  EXPECT_TRUE(glob_match("[\x80-\xff]", "\xc3"));  // bytes compare unsigned
}

// glibc's odd corners: an unclosed '[' is a byte unless the partial set names the byte being
// matched; a trailing '\' never matches; a NUL ends pattern and text.
TEST(GlobTest, UnterminatedBracketsAndEscapes) {
  EXPECT_TRUE(glob_match("[ab", "[ab"));
  EXPECT_FALSE(glob_match("[ab", "a"));
  EXPECT_TRUE(glob_match("[[a", "[[a"));
  EXPECT_FALSE(glob_match("[]", "]"));
  EXPECT_TRUE(glob_match("[\\]", "[]"));  // the set never closes: '[' then a quoted ']'
  EXPECT_TRUE(glob_match("[!a", "[!a"));
  EXPECT_FALSE(glob_match("[a-", "[a-"));
  EXPECT_TRUE(glob_match("[-", "[-"));
  EXPECT_FALSE(glob_match("a\\", "a\\"));
  EXPECT_TRUE(glob_match("\\*", "*"));
  EXPECT_FALSE(glob_match("\\*", "a"));
  EXPECT_TRUE(glob_match(std::string("ab\0cd", 5), "ab"));
  EXPECT_TRUE(glob_match("ab", std::string("ab\0cd", 5)));
  for (const char* p : {"[ab", "[[a", "[!a", "[a-", "a\\", "\\*", "[a\\", "[\\", "[]", "[!]"}) {
    for (const char* t : {"[ab", "a", "[[a", "[!a", "[a-", "a\\", "*", "[", "]", "[]", "[!]"}) {
      EXPECT_EQ(glob_match(p, t), glibc(p, t)) << p << " / " << t;
    }
  }
}

// Seeded random patterns and texts over the bytes that matter to the grammar, compared with
// glibc's fnmatch(3): 300,000 pairs, every rule and corner above in combinations.
TEST(GlobTest, AgreesWithGlibcFnmatch) {
  std::mt19937 prng(20240707);
  const std::string pattern_bytes = "ab-*?[]!^\\";
  const std::string text_bytes = "ab-[]!^\\";
  auto draw = [&](const std::string& from, size_t length_max) {
    std::string s(prng() % (length_max + 1), ' ');
    for (char& c : s) c = from[prng() % from.size()];
    return s;
  };
  size_t matches = 0;
  for (int i = 0; i < 300000; ++i) {
    const std::string p = draw(pattern_bytes, 8);
    const std::string t = draw(text_bytes, 6);
    ASSERT_TRUE(glob_supported(p));
    const bool want = glibc(p, t);
    ASSERT_EQ(glob_match(p, t), want) << "pattern \"" << p << "\" text \"" << t << "\"";
    matches += want;
  }
  EXPECT_GT(matches, 10000u);  // the draw makes matches often enough to test them
}

// What glob_match() does not model is said by glob_supported().
TEST(GlobTest, UnsupportedBracketSyntaxIsNamed) {
  EXPECT_FALSE(glob_supported("[[:alpha:]]"));
  EXPECT_FALSE(glob_supported("x[[=a=]]"));
  EXPECT_FALSE(glob_supported("[[.a.]]"));
  EXPECT_TRUE(glob_supported("pci:v*d*sv*sd*bc01sc06i01*"));
  EXPECT_TRUE(glob_supported(std::string("a\0[:", 4)));
}

// alias_normalize(): '-' to '_' outside brackets only; unpaired brackets and overlong aliases
// are refused.
TEST(GlobTest, NormalizeAlias) {
  EXPECT_EQ(*normalize_alias("crypto-twofish-asm"), "crypto_twofish_asm");
  EXPECT_EQ(*normalize_alias("usb:v13FDp3940d0[0-2]*"), "usb:v13FDp3940d0[0-2]*");
  EXPECT_EQ(*normalize_alias("a-[x-z]-b"), "a_[x-z]_b");
  EXPECT_EQ(normalize_alias("a]").status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(normalize_alias("a[b").status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(normalize_alias("[]]").status().code(), base::Code::kInvalidArgument);
  EXPECT_TRUE(normalize_alias(std::string(kAliasBytesMax, 'a')).is_ok());
  EXPECT_EQ(normalize_alias(std::string(kAliasBytesMax + 1, 'a')).status().code(),
            base::Code::kInvalidArgument);
}

// modname_normalize() and path_to_modname(): '-' to '_', the name ends at the first '.'.
TEST(GlobTest, ModuleNames) {
  EXPECT_EQ(normalize_module_name("nvme-core"), "nvme_core");
  EXPECT_EQ(normalize_module_name("virtio_net.ko"), "virtio_net");
  EXPECT_EQ(module_name_from_path("kernel/drivers/nvme/host/nvme-core.ko"), "nvme_core");
  EXPECT_EQ(module_name_from_path("kernel/drivers/net/virtio_net.ko.xz"), "virtio_net");
  EXPECT_EQ(module_name_from_path("kernel/lib/crc64-rocksoft.ko.zst"), "crc64_rocksoft");
  EXPECT_EQ(module_name_from_path("e1000.ko"), "e1000");
  EXPECT_EQ(module_name_from_path("kernel/"), "");
}

}  // namespace
}  // namespace boot
