// The gossip keyring (see keyring.h).
//
// Keyring file layout, version 1 (all integers little-endian; written by serialize(), checked
// field by field by parse()):
//
//   offset  size       field
//   0       4          magic "WKRG"
//   4       1          version = 1
//   5       1          key count n, 0..kKeyringKeysMax
//   6       32 * n     raw keys; the first is the primary
//   6+32n   4          CRC-32C of every preceding byte
//
// The file is written whole by a durable write (temporary file, fsync, rename), so a torn file is
// not expected; the checksum catches disk corruption and hand edits, and parse() refuses anything
// but this exact shape, so a damaged file fails loudly at start-up instead of loading a wrong key.
#include "agent/gossip/crypto/keyring.h"

#include <algorithm>

namespace gossip::crypto {

namespace {

constexpr char kMagic[4] = {'W', 'K', 'R', 'G'};
constexpr uint8_t kFileVersion = 1;
constexpr std::string_view kKeyIdDomain{"weft-gossip-key-id\0", 19};

bool is_key_id(std::string_view text) {
  if (text.size() != kKeyIdBytes * 2) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Decodes base64 of exactly kKeyBytes into `raw`.
base::Status decode_key(std::string_view key_b64, std::array<uint8_t, kKeyBytes>* raw) {
  auto decoded = hal::crypto::base64_decode(key_b64, kKeyBytes);
  if (!decoded.is_ok() || decoded->size() != kKeyBytes) {
    if (decoded.is_ok()) hal::crypto::secure_zero(decoded->data(), decoded->size());
    return base::error(base::Code::kInvalidArgument,
                       "a gossip key is base64 of %zu bytes (44 characters)", kKeyBytes);
  }
  std::copy(decoded->begin(), decoded->end(), raw->begin());
  hal::crypto::secure_zero(decoded->data(), decoded->size());
  return base::Status::ok();
}

}  // namespace

std::string Keyring::key_id(base::ByteSpan raw_key) {
  hal::crypto::Digest digest = hal::crypto::sha256({base::as_bytes(kKeyIdDomain), raw_key});
  return base::hex(base::ByteSpan(digest.data(), kKeyIdBytes));
}

base::Result<std::string> Keyring::encode_key(base::ByteSpan raw_key) {
  if (raw_key.size() != kKeyBytes) {
    return base::error(base::Code::kInvalidArgument, "a gossip key is %zu bytes, not %zu",
                       kKeyBytes, raw_key.size());
  }
  return hal::crypto::base64_encode(raw_key);
}

base::Result<Keyring> Keyring::with_primary(std::string_view key_b64) {
  Keyring ring;
  AGENT_TRY(ring.install(key_b64));
  return ring;
}

base::Status Keyring::add(base::ByteSpan raw) {
  AGENT_ASSERT(raw.size() == kKeyBytes);
  AGENT_ASSIGN_OR_RETURN(hal::crypto::Aes256Gcm aead, hal::crypto::Aes256Gcm::create(raw));
  std::array<uint8_t, kKeyBytes> bytes;
  std::copy(raw.begin(), raw.end(), bytes.begin());
  keys_.emplace_back(bytes, key_id(raw), std::move(aead));
  hal::crypto::secure_zero(bytes.data(), bytes.size());
  return base::Status::ok();
}

base::Status Keyring::install(std::string_view key_b64) {
  std::array<uint8_t, kKeyBytes> raw;
  AGENT_TRY(decode_key(key_b64, &raw));
  base::ByteSpan raw_span(raw.data(), raw.size());
  bool present = std::any_of(keys_.begin(), keys_.end(), [&](const Key& k) {
    return hal::crypto::constant_time_equal(base::ByteSpan(k.raw.data(), k.raw.size()), raw_span);
  });
  base::Status status;
  if (present) {
    status = base::Status::ok();
  } else if (keys_.size() >= kKeyringKeysMax) {
    status = base::error(base::Code::kResourceExhausted,
                         "the keyring holds %zu keys already; remove one first", kKeyringKeysMax);
  } else {
    status = add(raw_span);
    if (status.is_ok()) ++generation_;
  }
  hal::crypto::secure_zero(raw.data(), raw.size());
  return status;
}

base::Result<size_t> Keyring::find(std::string_view key) const {
  if (is_key_id(key)) {
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i].id == key) return i;
    }
    return keys_.size();
  }
  std::array<uint8_t, kKeyBytes> raw;
  AGENT_TRY(decode_key(key, &raw));
  size_t found = keys_.size();
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (hal::crypto::constant_time_equal(base::ByteSpan(keys_[i].raw.data(), kKeyBytes),
                                         base::ByteSpan(raw.data(), kKeyBytes))) {
      found = i;
    }
  }
  hal::crypto::secure_zero(raw.data(), raw.size());
  return found;
}

base::Status Keyring::use(std::string_view key) {
  AGENT_ASSIGN_OR_RETURN(size_t index, find(key));
  if (index == keys_.size()) {
    return base::Status(base::Code::kNotFound, "that key is not installed; install it first");
  }
  if (index != 0) {
    // Keep the others in installation order: the old primary becomes the first secondary, so
    // open() tries it right after the new primary while the fleet is mid-rotation.
    std::rotate(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(index),
                keys_.begin() + static_cast<std::ptrdiff_t>(index) + 1);
    ++generation_;
  }
  return base::Status::ok();
}

base::Status Keyring::remove(std::string_view key) {
  AGENT_ASSIGN_OR_RETURN(size_t index, find(key));
  if (index == keys_.size()) return base::Status(base::Code::kNotFound, "that key is not installed");
  if (index == 0) {
    return base::Status(base::Code::kFailedPrecondition,
                        "that key is the primary; make another key primary first");
  }
  keys_.erase(keys_.begin() + static_cast<std::ptrdiff_t>(index));
  ++generation_;
  return base::Status::ok();
}

std::vector<KeyInfo> Keyring::list() const {
  std::vector<KeyInfo> out;
  out.reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) out.push_back(KeyInfo{keys_[i].id, i == 0});
  return out;
}

hal::crypto::Aes256Gcm& Keyring::aead(size_t index) {
  AGENT_ASSERT(index < keys_.size());
  return keys_[index].aead;
}

const std::string& Keyring::id(size_t index) const {
  AGENT_ASSERT(index < keys_.size());
  return keys_[index].id;
}

std::string Keyring::serialize() const {
  std::string out;
  out.reserve(kKeyringFileBytesMax);
  base::ByteWriter w(&out, kKeyringFileBytesMax);
  w.raw(std::string_view(kMagic, sizeof(kMagic)));
  w.u8(kFileVersion);
  w.u8(static_cast<uint8_t>(keys_.size()));
  for (const Key& k : keys_) w.raw(base::ByteSpan(k.raw.data(), k.raw.size()));
  w.u32(base::crc32c(base::as_bytes(out)));
  AGENT_ASSERT(w.ok());  // the bound is the largest keyring this class can hold
  return out;
}

base::Result<Keyring> Keyring::parse(base::ByteSpan file) {
  constexpr size_t kFixedBytes = 4 + 1 + 1 + 4;
  if (file.size() < kFixedBytes || file.size() > kKeyringFileBytesMax) {
    return base::error(base::Code::kInvalidArgument, "keyring file is %zu bytes, not a keyring",
                       file.size());
  }
  base::ByteReader r(file);
  base::ByteSpan magic = r.raw(sizeof(kMagic));
  if (!std::equal(magic.begin(), magic.end(), reinterpret_cast<const uint8_t*>(kMagic))) {
    return base::Status(base::Code::kInvalidArgument, "keyring file has the wrong magic");
  }
  uint8_t version = r.u8();
  if (version != kFileVersion) {
    return base::error(base::Code::kInvalidArgument, "keyring file version %u is not supported",
                       version);
  }
  size_t count = r.u8();
  if (count > kKeyringKeysMax || file.size() != kFixedBytes + count * kKeyBytes) {
    return base::error(base::Code::kInvalidArgument,
                       "keyring file claims %zu keys in %zu bytes", count, file.size());
  }
  uint32_t want_crc = base::crc32c(file.first(file.size() - 4));
  base::ByteReader tail(file.last(4));
  if (tail.u32() != want_crc) {
    return base::Status(base::Code::kInvalidArgument, "keyring file checksum mismatch");
  }
  Keyring ring;
  for (size_t i = 0; i < count; ++i) {
    base::ByteSpan raw = r.raw(kKeyBytes);
    for (const Key& k : ring.keys_) {
      if (std::equal(raw.begin(), raw.end(), k.raw.begin())) {
        return base::Status(base::Code::kInvalidArgument, "keyring file lists a key twice");
      }
    }
    AGENT_TRY(ring.add(raw));
  }
  AGENT_ASSERT(r.ok() && r.remaining() == 4);
  return ring;
}

base::Result<Keyring> load_keyring(hal::Fs& fs, std::string_view path) {
  base::Result<std::string> file = fs.read_file(path, kKeyringFileBytesMax);
  if (!file.is_ok()) {
    if (file.status().code() == base::Code::kResourceExhausted) {
      return base::error(base::Code::kInvalidArgument,
                         "keyring file %.*s is larger than any keyring (%zu bytes)",
                         static_cast<int>(path.size()), path.data(), kKeyringFileBytesMax);
    }
    return file.status();
  }
  base::Result<Keyring> ring = Keyring::parse(base::as_bytes(file.value()));
  hal::crypto::secure_zero(file->data(), file->size());
  if (!ring.is_ok()) {
    return base::error(ring.status().code(), "%.*s: %s", static_cast<int>(path.size()),
                       path.data(), ring.status().message().c_str());
  }
  return ring;
}

base::Status save_keyring(hal::Fs& fs, std::string_view path, const Keyring& ring) {
  std::string file = ring.serialize();
  base::Status s = fs.write_file(path, base::as_bytes(file), 0600, /*durable=*/true);
  hal::crypto::secure_zero(file.data(), file.size());
  return s;
}

}  // namespace gossip::crypto
