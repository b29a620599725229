// hal/crypto.h over mbedTLS 2.28 (Debian's static libmbedcrypto). The only file in the tree that
// includes an mbedTLS crypto header; see hal/include/hal/crypto.h for the contract.
//
// Organisation: Aes256Gcm's Impl owns one mbedtls_gcm_context (init in create(), free in the
// destructor, which also wipes the round keys); digests use the one-shot streaming contexts on
// the stack and free them before returning. mbedTLS error codes never leave this file.
#include "hal/crypto.h"

#include <mbedtls/base64.h>
// mbedTLS 2.28's constant_time.h lacks the extern "C" guard its other headers have.
extern "C" {
#include <mbedtls/constant_time.h>
}
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <cstring>

namespace hal::crypto {

struct Aes256Gcm::Impl {
  Impl() { mbedtls_gcm_init(&gcm); }
  ~Impl() { mbedtls_gcm_free(&gcm); }  // mbedtls_gcm_free zeroizes the context
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  mbedtls_gcm_context gcm;
};

Aes256Gcm::Aes256Gcm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Aes256Gcm::Aes256Gcm(Aes256Gcm&&) noexcept = default;
Aes256Gcm& Aes256Gcm::operator=(Aes256Gcm&&) noexcept = default;
Aes256Gcm::~Aes256Gcm() = default;

base::Result<Aes256Gcm> Aes256Gcm::create(base::ByteSpan key) {
  if (key.size() != kAes256KeyBytes) {
    return base::error(base::Code::kInvalidArgument, "AES-256 key is %zu bytes, want %zu",
                       key.size(), kAes256KeyBytes);
  }
  auto impl = std::make_unique<Impl>();
  int rc = mbedtls_gcm_setkey(&impl->gcm, MBEDTLS_CIPHER_ID_AES, key.data(),
                              static_cast<unsigned>(key.size() * 8));
  if (rc != 0) return base::error(base::Code::kInternal, "mbedtls_gcm_setkey: -0x%04x", -rc);
  return Aes256Gcm(std::move(impl));
}

base::Status Aes256Gcm::seal(base::ByteSpan nonce, base::ByteSpan aad, base::ByteSpan plaintext,
                             std::string* out) {
  AGENT_ASSERT(impl_ != nullptr);  // a moved-from key is a programming error
  if (nonce.size() != kGcmNonceBytes) {
    return base::error(base::Code::kInvalidArgument, "GCM nonce is %zu bytes, want %zu",
                       nonce.size(), kGcmNonceBytes);
  }
  size_t start = out->size();
  out->resize(start + plaintext.size() + kGcmTagBytes);
  auto* dst = reinterpret_cast<unsigned char*>(out->data()) + start;
  int rc = mbedtls_gcm_crypt_and_tag(&impl_->gcm, MBEDTLS_GCM_ENCRYPT, plaintext.size(),
                                     nonce.data(), nonce.size(), aad.data(), aad.size(),
                                     plaintext.data(), dst, kGcmTagBytes,
                                     dst + plaintext.size());
  if (rc != 0) {
    out->resize(start);
    return base::error(base::Code::kInternal, "mbedtls_gcm_crypt_and_tag: -0x%04x", -rc);
  }
  return base::Status::ok();
}

base::Status Aes256Gcm::open(base::ByteSpan nonce, base::ByteSpan aad, base::ByteSpan sealed,
                             std::string* plaintext) {
  AGENT_ASSERT(impl_ != nullptr);
  plaintext->clear();
  if (nonce.size() != kGcmNonceBytes) {
    return base::error(base::Code::kInvalidArgument, "GCM nonce is %zu bytes, want %zu",
                       nonce.size(), kGcmNonceBytes);
  }
  if (sealed.size() < kGcmTagBytes) {
    return base::error(base::Code::kInvalidArgument, "sealed data shorter than the GCM tag");
  }
  size_t length = sealed.size() - kGcmTagBytes;
  plaintext->resize(length);
  // auth_decrypt decrypts, then compares the tag in constant time and wipes the output on a
  // mismatch, so no unauthenticated plaintext is ever visible.
  int rc = mbedtls_gcm_auth_decrypt(&impl_->gcm, length, nonce.data(), nonce.size(), aad.data(),
                                    aad.size(), sealed.data() + length, kGcmTagBytes,
                                    sealed.data(),
                                    reinterpret_cast<unsigned char*>(plaintext->data()));
  if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) {
    plaintext->clear();
    return base::Status(base::Code::kPermissionDenied, "GCM tag does not verify");
  }
  if (rc != 0) {
    plaintext->clear();
    return base::error(base::Code::kInternal, "mbedtls_gcm_auth_decrypt: -0x%04x", -rc);
  }
  return base::Status::ok();
}

Digest sha256(std::initializer_list<base::ByteSpan> parts) {
  Digest digest{};
  mbedtls_sha256_context ctx;
  mbedtls_sha256_init(&ctx);
  // With valid arguments these calls cannot fail in mbedTLS 2.28 (no hardware back end).
  int rc = mbedtls_sha256_starts_ret(&ctx, /*is224=*/0);
  for (base::ByteSpan part : parts) {
    if (rc == 0) rc = mbedtls_sha256_update_ret(&ctx, part.data(), part.size());
  }
  if (rc == 0) rc = mbedtls_sha256_finish_ret(&ctx, digest.data());
  mbedtls_sha256_free(&ctx);
  AGENT_ASSERT(rc == 0);
  return digest;
}

struct Sha256::Impl {
  Impl() { start(); }
  ~Impl() { mbedtls_sha256_free(&ctx); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  void start() {
    mbedtls_sha256_init(&ctx);
    AGENT_ASSERT(mbedtls_sha256_starts_ret(&ctx, /*is224=*/0) == 0);
  }
  mbedtls_sha256_context ctx;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(base::ByteSpan data) {
  AGENT_ASSERT(impl_ != nullptr);  // a moved-from digest is a programming error
  // Cannot fail with valid arguments in mbedTLS 2.28 (no hardware back end).
  int rc = mbedtls_sha256_update_ret(&impl_->ctx, data.data(), data.size());
  AGENT_ASSERT(rc == 0);
}

Digest Sha256::finish() {
  AGENT_ASSERT(impl_ != nullptr);
  Digest digest{};
  int rc = mbedtls_sha256_finish_ret(&impl_->ctx, digest.data());
  AGENT_ASSERT(rc == 0);
  mbedtls_sha256_free(&impl_->ctx);
  impl_->start();
  return digest;
}

Digest hmac_sha256(base::ByteSpan key, std::initializer_list<base::ByteSpan> parts) {
  Digest digest{};
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  AGENT_ASSERT(info != nullptr);
  mbedtls_md_context_t ctx;
  mbedtls_md_init(&ctx);
  int rc = mbedtls_md_setup(&ctx, info, /*hmac=*/1);
  if (rc == 0) rc = mbedtls_md_hmac_starts(&ctx, key.data(), key.size());
  for (base::ByteSpan part : parts) {
    if (rc == 0) rc = mbedtls_md_hmac_update(&ctx, part.data(), part.size());
  }
  if (rc == 0) rc = mbedtls_md_hmac_finish(&ctx, digest.data());
  mbedtls_md_free(&ctx);  // wipes the inner and outer pads
  // md_setup allocates; failing there means out of memory, which is fatal after start-up.
  AGENT_ASSERT_MSG(rc == 0, "mbedtls HMAC-SHA-256 failed (out of memory?)");
  return digest;
}

std::string base64_encode(base::ByteSpan data) {
  size_t needed = 0;
  (void)mbedtls_base64_encode(nullptr, 0, &needed, data.data(), data.size());
  std::string out(needed, '\0');  // includes the NUL mbedTLS writes
  size_t written = 0;
  int rc = mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                 &written, data.data(), data.size());
  AGENT_ASSERT(rc == 0);
  out.resize(written);
  return out;
}

namespace {

// 1 when c is in the standard base64 alphabet, computed without a branch per character.
inline unsigned in_alphabet(unsigned char c) {
  unsigned upper = static_cast<unsigned>(c >= 'A') & static_cast<unsigned>(c <= 'Z');
  unsigned lower = static_cast<unsigned>(c >= 'a') & static_cast<unsigned>(c <= 'z');
  unsigned digit = static_cast<unsigned>(c >= '0') & static_cast<unsigned>(c <= '9');
  unsigned sym = static_cast<unsigned>(c == '+') | static_cast<unsigned>(c == '/');
  return upper | lower | digit | sym;
}

}  // namespace

base::Result<std::string> base64_decode(std::string_view text, size_t bytes_max) {
  // mbedTLS tolerates line breaks and spaces (it decodes PEM); keys are single tokens, so be
  // strict first: only the alphabet, then at most two '=' at the very end, length a multiple
  // of four. The length checks depend only on the (public) length.
  if (text.size() % 4 != 0) {
    return base::Status(base::Code::kInvalidArgument, "base64 length is not a multiple of 4");
  }
  if (text.size() / 4 * 3 > bytes_max + 2) {
    return base::error(base::Code::kInvalidArgument, "base64 text decodes to more than %zu bytes",
                       bytes_max);
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  unsigned bad = 0;
  for (size_t i = 0; i < text.size() - pad; ++i) {
    bad |= in_alphabet(static_cast<unsigned char>(text[i])) ^ 1u;
  }
  if (bad != 0) {
    return base::Status(base::Code::kInvalidArgument, "base64 text has a character outside the alphabet");
  }
  std::string out(text.size() / 4 * 3, '\0');
  size_t written = 0;
  int rc = mbedtls_base64_decode(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                 &written, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  if (rc != 0) {
    secure_zero(out.data(), out.size());
    return base::Status(base::Code::kInvalidArgument, "malformed base64 padding");
  }
  if (written > bytes_max) {
    secure_zero(out.data(), out.size());
    return base::error(base::Code::kInvalidArgument, "base64 text decodes to more than %zu bytes",
                       bytes_max);
  }
  out.resize(written);
  return out;
}

bool constant_time_equal(base::ByteSpan a, base::ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return mbedtls_ct_memcmp(a.data(), b.data(), a.size()) == 0;
}

void secure_zero(void* p, size_t size) {
  if (size != 0) mbedtls_platform_zeroize(p, size);
}

}  // namespace hal::crypto
