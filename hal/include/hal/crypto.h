// hal/crypto.h -- the crypto seam: AES-256-GCM, SHA-256, HMAC-SHA-256, base64, zeroization.
//
// The agent reaches cryptography only through this header; mbedTLS (Debian's static 2.28) is its
// one implementation (hal/common/crypto_mbedtls.cc) and no mbedTLS header leaks out of hal/.
//
// Contract:
//   - Aes256Gcm is an AEAD key object: it keeps the expanded key (the mbedTLS GCM context, an
//     RAII owner behind a pimpl) so a packet costs no key schedule. seal() appends
//     ciphertext || 16-byte tag; open() checks the tag in constant time (mbedTLS's
//     auth_decrypt) and returns kPermissionDenied on any mismatch, leaving no plaintext behind.
//     Nonces are 96 bits (the length GCM is designed for, NIST SP 800-38D section 5.2.1.1);
//     callers own nonce uniqueness per key -- a repeated nonce under one key breaks GCM.
//   - sha256()/hmac_sha256() are one-shot digests over a list of byte spans (hashed as their
//     concatenation), for key ids and fingerprints. Sha256 is the same digest fed in pieces, for
//     data too large to hold at once (image layers, checked as they stream through).
//   - base64 is RFC 4648 with padding (the alphabet of Consul's and Serf's `encrypt` keys);
//     mbedTLS 2.28 decodes it in constant time (no table lookup indexed by a secret byte).
//     Decoding refuses whitespace, characters outside the alphabet, bad padding and results
//     longer than `bytes_max`.
//   - secure_zero() wipes secrets in a way the compiler may not elide.
// Threading: the free functions are thread-safe. An Aes256Gcm is used by one thread at a time
// (mbedTLS's GCM context holds per-call state); moving it between threads is fine.
// Not here: TLS (a separate seam), random numbers (hal/entropy.h), key storage or rotation
// (agent/gossip/crypto/keyring.h), nonce management (the caller's).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "agent/base/bytes.h"
#include "agent/base/status.h"

namespace hal::crypto {

inline constexpr size_t kAes256KeyBytes = 32;
inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;
inline constexpr size_t kSha256Bytes = 32;

using Digest = std::array<uint8_t, kSha256Bytes>;

class Aes256Gcm {
 public:
  // Expands `key` (exactly 32 bytes, else kInvalidArgument). The object does not keep a copy of
  // the raw key beyond mbedTLS's round keys, which it wipes on destruction.
  static base::Result<Aes256Gcm> create(base::ByteSpan key);

  Aes256Gcm(Aes256Gcm&&) noexcept;
  Aes256Gcm& operator=(Aes256Gcm&&) noexcept;
  ~Aes256Gcm();
  Aes256Gcm(const Aes256Gcm&) = delete;
  Aes256Gcm& operator=(const Aes256Gcm&) = delete;

  // Appends ciphertext (plaintext.size() bytes) then the 16-byte tag to `out`, which may already
  // hold bytes (a header, say). `nonce` must be 12 bytes (kInvalidArgument otherwise); `out`
  // must not alias `plaintext`. kInternal only if mbedTLS fails, which it does not for valid
  // arguments.
  [[nodiscard]] base::Status seal(base::ByteSpan nonce, base::ByteSpan aad,
                                  base::ByteSpan plaintext, std::string* out);

  // `sealed` is ciphertext || tag. On success replaces `*plaintext` with the plaintext. On any
  // failure `*plaintext` is left empty: kPermissionDenied when the tag does not verify (wrong
  // key, wrong nonce or AAD, tampered bytes), kInvalidArgument when `sealed` is shorter than the
  // tag or the nonce is not 12 bytes. `plaintext` must not alias `sealed`.
  [[nodiscard]] base::Status open(base::ByteSpan nonce, base::ByteSpan aad, base::ByteSpan sealed,
                                  std::string* plaintext);

 private:
  struct Impl;  // owns the mbedtls_gcm_context
  explicit Aes256Gcm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of the concatenation of `parts`.
Digest sha256(std::initializer_list<base::ByteSpan> parts);
inline Digest sha256(base::ByteSpan data) { return sha256({data}); }

// Incremental SHA-256: update() any number of times, then finish(), after which the object
// starts a new digest. Owns its mbedTLS context (behind a pimpl); one thread at a time.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(base::ByteSpan data);
  Digest finish();

 private:
  struct Impl;  // owns the mbedtls_sha256_context
  std::unique_ptr<Impl> impl_;
};

// HMAC-SHA-256 (RFC 2104) of the concatenation of `parts` under `key`.
Digest hmac_sha256(base::ByteSpan key, std::initializer_list<base::ByteSpan> parts);

// Standard base64 with '=' padding.
std::string base64_encode(base::ByteSpan data);
// Decodes standard padded base64. kInvalidArgument for any character outside the alphabet,
// whitespace, bad padding, or a result longer than `bytes_max`.
base::Result<std::string> base64_decode(std::string_view text, size_t bytes_max);

// Compares in time that depends only on the lengths, not on where the bytes differ.
bool constant_time_equal(base::ByteSpan a, base::ByteSpan b);

// Overwrites `size` bytes at `p` with zeros; never optimised away.
void secure_zero(void* p, size_t size);

}  // namespace hal::crypto
