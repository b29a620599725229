// Proves the crypto seam computes what the standards say: AES-256-GCM against the GCM
// specification's AES-256 test cases 13-16 (96-bit IVs, as in NIST SP 800-38D's validation
// suite), SHA-256 of "abc" (FIPS 180-2), HMAC-SHA-256 (RFC 4231 case 2), base64 (RFC 4648), and
// that every malformed or tampered input is refused with a Status, never a crash.
#include <gtest/gtest.h>

#include <string>

#include "hal/crypto.h"

namespace {

using base::ByteSpan;
using base::Code;
namespace crypto = hal::crypto;

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

ByteSpan b(const std::string& s) { return base::as_bytes(s); }

struct GcmVector {
  const char* name;
  const char* key;
  const char* iv;
  const char* aad;
  const char* pt;
  const char* ct;
  const char* tag;
};

// McGrew & Viega, "The Galois/Counter Mode of Operation", appendix B, AES-256 cases.
constexpr GcmVector kVectors[] = {
    {"case 13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"case 14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"case 15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"case 16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(Aes256Gcm, MatchesTheSpecificationVectors) {
  for (const GcmVector& v : kVectors) {
    SCOPED_TRACE(v.name);
    std::string key = unhex(v.key), iv = unhex(v.iv), aad = unhex(v.aad), pt = unhex(v.pt);
    auto gcm = crypto::Aes256Gcm::create(b(key));
    ASSERT_TRUE(gcm.is_ok());
    std::string out = "hdr";  // seal appends after what the caller already holds
    ASSERT_TRUE(gcm->seal(b(iv), b(aad), b(pt), &out).is_ok());
    EXPECT_EQ(base::hex(b(out)), base::hex(base::as_bytes("hdr")) + v.ct + v.tag);

    std::string sealed = out.substr(3), opened = "junk";
    ASSERT_TRUE(gcm->open(b(iv), b(aad), b(sealed), &opened).is_ok());
    EXPECT_EQ(opened, pt);
  }
}

TEST(Aes256Gcm, RefusesEveryTamperingWithPermissionDenied) {
  std::string key = unhex(kVectors[3].key), iv = unhex(kVectors[3].iv);
  std::string aad = unhex(kVectors[3].aad), pt = unhex(kVectors[3].pt);
  auto gcm = crypto::Aes256Gcm::create(b(key));
  ASSERT_TRUE(gcm.is_ok());
  std::string sealed;
  ASSERT_TRUE(gcm->seal(b(iv), b(aad), b(pt), &sealed).is_ok());
  std::string opened;
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    std::string bad = sealed;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    opened = "left over";
    base::Status s = gcm->open(b(iv), b(aad), b(bad), &opened);
    ASSERT_EQ(s.code(), Code::kPermissionDenied) << "bit " << bit;
    ASSERT_TRUE(opened.empty());
  }
  std::string bad_iv = iv;
  bad_iv[0] ^= 1;
  EXPECT_EQ(gcm->open(b(bad_iv), b(aad), b(sealed), &opened).code(), Code::kPermissionDenied);
  std::string bad_aad = aad + "x";
  EXPECT_EQ(gcm->open(b(iv), b(bad_aad), b(sealed), &opened).code(), Code::kPermissionDenied);
  std::string other_key(32, '\x01');
  auto other = crypto::Aes256Gcm::create(b(other_key));
  EXPECT_EQ(other->open(b(iv), b(aad), b(sealed), &opened).code(), Code::kPermissionDenied);
}

TEST(Aes256Gcm, RefusesBadArgumentsWithoutAsserting) {
  EXPECT_EQ(crypto::Aes256Gcm::create(b(std::string(16, 'k'))).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(crypto::Aes256Gcm::create(b(std::string(33, 'k'))).status().code(),
            Code::kInvalidArgument);
  auto gcm = crypto::Aes256Gcm::create(b(std::string(32, 'k')));
  ASSERT_TRUE(gcm.is_ok());
  std::string out, short_iv(8, 'n'), iv(12, 'n');
  EXPECT_EQ(gcm->seal(b(short_iv), {}, {}, &out).code(), Code::kInvalidArgument);
  EXPECT_TRUE(out.empty());
  std::string plaintext;
  EXPECT_EQ(gcm->open(b(iv), {}, b(std::string(15, 't')), &plaintext).code(),
            Code::kInvalidArgument);
  // Moving keeps the expanded key usable.
  crypto::Aes256Gcm moved = std::move(gcm.value());
  ASSERT_TRUE(moved.seal(b(iv), {}, base::as_bytes("x"), &out).is_ok());
  ASSERT_TRUE(moved.open(b(iv), {}, b(out), &plaintext).is_ok());
  EXPECT_EQ(plaintext, "x");
}

TEST(Sha256, MatchesFips180) {
  EXPECT_EQ(base::hex(crypto::sha256(base::as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(base::hex(crypto::sha256(base::ByteSpan())),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Parts hash as their concatenation.
  EXPECT_EQ(crypto::sha256({base::as_bytes("a"), base::as_bytes(""), base::as_bytes("bc")}),
            crypto::sha256(base::as_bytes("abc")));
}

TEST(HmacSha256, MatchesRfc4231) {
  EXPECT_EQ(base::hex(crypto::hmac_sha256(base::as_bytes("Jefe"),
                                          {base::as_bytes("what do ya want "),
                                           base::as_bytes("for nothing?")})),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Base64, RoundTripsAndRefusesMalformedText) {
  EXPECT_EQ(crypto::base64_encode(base::as_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(crypto::base64_encode(base::as_bytes("fo")), "Zm8=");
  EXPECT_EQ(crypto::base64_encode({}), "");
  EXPECT_EQ(crypto::base64_decode("Zm9vYg==", 16).value(), "foob");
  EXPECT_EQ(crypto::base64_decode("Zm8=", 16).value(), "fo");
  EXPECT_EQ(crypto::base64_decode("", 16).value(), "");
  for (const char* bad : {"Zm9", "Zm9v YmFy", "Zm9v\nYmFy", "Zm=v", "Z===", "Zm9*", "=Zm9",
                          "Zm9vYmFy\n", "Zg==Zg=="}) {
    EXPECT_EQ(crypto::base64_decode(bad, 16).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(crypto::base64_decode("Zm9vYmFy", 5).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(crypto::base64_decode("Zm9vYmFy", 6).is_ok());
  std::string key(32, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 7);
  std::string text = crypto::base64_encode(b(key));
  EXPECT_EQ(text.size(), 44u);
  EXPECT_EQ(crypto::base64_decode(text, 32).value(), key);
}

TEST(ConstantTimeEqual, ComparesBytesAndLengths) {
  EXPECT_TRUE(crypto::constant_time_equal(base::as_bytes("abc"), base::as_bytes("abc")));
  EXPECT_FALSE(crypto::constant_time_equal(base::as_bytes("abc"), base::as_bytes("abd")));
  EXPECT_FALSE(crypto::constant_time_equal(base::as_bytes("abc"), base::as_bytes("ab")));
  EXPECT_TRUE(crypto::constant_time_equal({}, {}));
  std::string secret = "secret";
  crypto::secure_zero(secret.data(), secret.size());
  EXPECT_EQ(secret, std::string(6, '\0'));
}

}  // namespace
