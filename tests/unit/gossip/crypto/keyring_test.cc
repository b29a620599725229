// Proves the keyring behaves like Serf's (install, use, remove -- never the primary -- and list
// by key id without revealing keys), stays bounded, and survives a persistence round trip, while
// every corrupt keyring file is refused with kInvalidArgument instead of loading a wrong key.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "agent/gossip/crypto/keyring.h"
#include "hal/crypto.h"

namespace {

using base::Code;
using gossip::crypto::Keyring;
using gossip::crypto::kKeyringFileBytesMax;
using gossip::crypto::kKeyringKeysMax;

// Base64 of 32 bytes all equal to `fill` (distinct keys for distinct fills).
std::string key_b64(uint8_t fill) {
  std::string raw(32, static_cast<char>(fill));
  return Keyring::encode_key(base::as_bytes(raw)).value();
}
std::string id_of(uint8_t fill) {
  std::string raw(32, static_cast<char>(fill));
  return Keyring::key_id(base::as_bytes(raw));
}

TEST(Keyring, InstallUseRemoveListLikeSerf) {
  auto ring = Keyring::with_primary(key_b64(1));
  ASSERT_TRUE(ring.is_ok());
  ASSERT_EQ(ring->size(), 1u);
  EXPECT_TRUE(ring->list()[0].primary);
  EXPECT_EQ(ring->list()[0].id, id_of(1));

  uint64_t gen = ring->generation();
  ASSERT_TRUE(ring->install(key_b64(2)).is_ok());
  EXPECT_GT(ring->generation(), gen);
  gen = ring->generation();
  ASSERT_TRUE(ring->install(key_b64(2)).is_ok());  // again: no change
  EXPECT_EQ(ring->generation(), gen);
  ASSERT_EQ(ring->size(), 2u);
  EXPECT_FALSE(ring->list()[1].primary);

  EXPECT_EQ(ring->remove(key_b64(1)).code(), Code::kFailedPrecondition);  // the primary
  ASSERT_TRUE(ring->use(key_b64(2)).is_ok());
  auto listed = ring->list();
  EXPECT_EQ(listed[0].id, id_of(2));
  EXPECT_TRUE(listed[0].primary);
  EXPECT_EQ(listed[1].id, id_of(1));  // the old primary is the first secondary
  EXPECT_FALSE(listed[1].primary);

  // Keys can be named by id as well as by value.
  EXPECT_EQ(ring->remove(id_of(2)).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(ring->remove(id_of(1)).is_ok());
  EXPECT_EQ(ring->size(), 1u);
  EXPECT_EQ(ring->remove(key_b64(1)).code(), Code::kNotFound);
  EXPECT_EQ(ring->use(key_b64(9)).code(), Code::kNotFound);
  EXPECT_EQ(ring->use(id_of(9)).code(), Code::kNotFound);
}

TEST(Keyring, ListingNeverShowsKeyMaterial) {
  auto ring = Keyring::with_primary(key_b64(7));
  ASSERT_TRUE(ring.is_ok());
  std::string id = ring->list()[0].id;
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find(base::hex(base::as_bytes(std::string(4, '\x07')))), std::string::npos);
  EXPECT_NE(id, key_b64(7).substr(0, 16));
}

TEST(Keyring, RefusesMalformedKeys) {
  Keyring ring;
  EXPECT_TRUE(ring.empty());
  for (const std::string& bad :
       {std::string(""), std::string("not base64!"), key_b64(1).substr(0, 40),
        hal::crypto::base64_encode(base::as_bytes(std::string(16, 'k'))),  // AES-128 size
        hal::crypto::base64_encode(base::as_bytes(std::string(33, 'k'))), key_b64(1) + "\n",
        " " + key_b64(1)}) {
    EXPECT_EQ(ring.install(bad).code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(ring.use(bad).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(Keyring::encode_key(base::as_bytes("short")).status().code(), Code::kInvalidArgument);
  // The first key installed into an empty ring becomes the primary.
  ASSERT_TRUE(ring.install(key_b64(3)).is_ok());
  EXPECT_TRUE(ring.list()[0].primary);
}

TEST(Keyring, IsBounded) {
  auto ring = Keyring::with_primary(key_b64(0));
  ASSERT_TRUE(ring.is_ok());
  for (size_t i = 1; i < kKeyringKeysMax; ++i) {
    ASSERT_TRUE(ring->install(key_b64(static_cast<uint8_t>(i))).is_ok());
  }
  EXPECT_EQ(ring->install(key_b64(200)).code(), Code::kResourceExhausted);
  EXPECT_EQ(ring->size(), kKeyringKeysMax);
  EXPECT_TRUE(ring->install(key_b64(1)).is_ok());  // already installed: still fine
  EXPECT_LE(ring->serialize().size(), kKeyringFileBytesMax);
}

TEST(Keyring, PersistenceRoundTripKeepsKeysAndPrimary) {
  auto ring = Keyring::with_primary(key_b64(1));
  ASSERT_TRUE(ring.is_ok());
  ASSERT_TRUE(ring->install(key_b64(2)).is_ok());
  ASSERT_TRUE(ring->install(key_b64(3)).is_ok());
  ASSERT_TRUE(ring->use(key_b64(3)).is_ok());  // mid-rotation: new primary, old keys kept
  std::string file = ring->serialize();
  EXPECT_EQ(file.size(), 4u + 1 + 1 + 3 * 32 + 4);

  auto back = Keyring::parse(base::as_bytes(file));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  ASSERT_EQ(back->size(), 3u);
  auto a = ring->list(), b = back->list();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].primary, b[i].primary);
  }
  EXPECT_EQ(back->serialize(), file);
  // The restored keys really are the keys: a packet sealed by one opens with the other.
  std::string nonce(12, 'n'), sealed, opened;
  ASSERT_TRUE(ring->aead(0).seal(base::as_bytes(nonce), {}, base::as_bytes("hi"), &sealed).is_ok());
  ASSERT_TRUE(back->aead(0).open(base::as_bytes(nonce), {}, base::as_bytes(sealed), &opened).is_ok());
  EXPECT_EQ(opened, "hi");

  // An empty keyring round-trips too.
  Keyring empty;
  auto empty_back = Keyring::parse(base::as_bytes(empty.serialize()));
  ASSERT_TRUE(empty_back.is_ok());
  EXPECT_TRUE(empty_back->empty());
}

TEST(Keyring, RefusesCorruptFiles) {
  auto ring = Keyring::with_primary(key_b64(1));
  ASSERT_TRUE(ring.is_ok());
  ASSERT_TRUE(ring->install(key_b64(2)).is_ok());
  const std::string file = ring->serialize();

  // Every single-bit flip anywhere in the file.
  for (size_t bit = 0; bit < file.size() * 8; ++bit) {
    std::string bad = file;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_EQ(Keyring::parse(base::as_bytes(bad)).status().code(), Code::kInvalidArgument)
        << "bit " << bit;
  }
  // Every truncation and an extension.
  for (size_t n = 0; n < file.size(); ++n) {
    EXPECT_EQ(Keyring::parse(base::as_bytes(file.substr(0, n))).status().code(),
              Code::kInvalidArgument)
        << n;
  }
  EXPECT_FALSE(Keyring::parse(base::as_bytes(file + "x")).is_ok());
  EXPECT_FALSE(Keyring::parse(base::as_bytes(std::string(kKeyringFileBytesMax + 1, 'x'))).is_ok());

  // Well-checksummed but wrong: too many keys, a duplicate key, an unknown version.
  auto with_crc = [](std::string body) {
    uint32_t crc = base::crc32c(base::as_bytes(body));
    for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>(crc >> (8 * i)));
    return body;
  };
  std::string dup = "WKRG";
  dup += '\x01';
  dup += '\x02';
  dup += std::string(32, 'a') + std::string(32, 'a');
  EXPECT_EQ(Keyring::parse(base::as_bytes(with_crc(dup))).status().code(), Code::kInvalidArgument);
  std::string too_many = "WKRG";
  too_many += '\x01';
  too_many += static_cast<char>(kKeyringKeysMax + 1);
  for (size_t i = 0; i <= kKeyringKeysMax; ++i) too_many += std::string(32, static_cast<char>('a' + i));
  EXPECT_EQ(Keyring::parse(base::as_bytes(with_crc(too_many))).status().code(),
            Code::kInvalidArgument);
  std::string v2 = file.substr(0, file.size() - 4);
  v2[4] = 2;
  EXPECT_EQ(Keyring::parse(base::as_bytes(with_crc(v2))).status().code(), Code::kInvalidArgument);
  std::string ok = file.substr(0, file.size() - 4);
  EXPECT_TRUE(Keyring::parse(base::as_bytes(with_crc(ok))).is_ok());  // the helper is right
}

// An in-memory disk that records how files were written.
class MemFs : public hal::Fs {
 public:
  struct File {
    std::string data;
    uint32_t mode = 0;
    bool durable = false;
  };
  std::map<std::string, File, std::less<>> files;
  bool fail_writes = false;

  base::Result<std::string> read_file(std::string_view path, size_t bytes_max) override {
    auto it = files.find(path);
    if (it == files.end()) return base::Status(Code::kNotFound, "no such file");
    if (it->second.data.size() > bytes_max) return base::Status(Code::kResourceExhausted, "big");
    return it->second.data;
  }
  base::Status write_file(std::string_view path, base::ByteSpan data, uint32_t mode,
                          bool durable) override {
    if (fail_writes) return base::Status(Code::kIo, "fsync failed");
    files[std::string(path)] = File{std::string(base::as_chars(data)), mode, durable};
    return base::Status::ok();
  }
  base::Status make_dirs(std::string_view, uint32_t) override { return base::Status::ok(); }
  base::Result<std::vector<std::string>> list_dir(std::string_view) override {
    return std::vector<std::string>{};
  }
  base::Result<hal::FileInfo> stat(std::string_view) override {
    return base::Status(Code::kUnimplemented, "");
  }
  base::Status remove(std::string_view) override { return base::Status::ok(); }
  base::Status remove_tree(std::string_view) override { return base::Status::ok(); }
  base::Result<std::string> make_temp_dir(std::string_view) override {
    return base::Status(Code::kUnimplemented, "");
  }
  base::Status chmod(std::string_view, uint32_t) override { return base::Status::ok(); }
};

TEST(Keyring, SavesDurablyOwnerOnlyAndLoadsBackAfterARestartMidRotation) {
  MemFs fs;
  const std::string path = "/var/lib/agent/gossip.keyring";
  EXPECT_EQ(gossip::crypto::load_keyring(fs, path).status().code(), Code::kNotFound);

  auto ring = Keyring::with_primary(key_b64(1));
  ASSERT_TRUE(ring.is_ok());
  ASSERT_TRUE(ring->install(key_b64(2)).is_ok());
  ASSERT_TRUE(gossip::crypto::save_keyring(fs, path, *ring).is_ok());
  ASSERT_TRUE(ring->use(key_b64(2)).is_ok());
  ASSERT_TRUE(gossip::crypto::save_keyring(fs, path, *ring).is_ok());
  EXPECT_TRUE(fs.files[path].durable);
  EXPECT_EQ(fs.files[path].mode, 0600u);

  // "Restart": a new keyring from the file has both keys and the new primary.
  auto back = gossip::crypto::load_keyring(fs, path);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(back->list()[0].id, Keyring::key_id(base::as_bytes(std::string(32, '\x02'))));

  // A corrupt or oversized file is refused loudly, naming the file.
  fs.files[path].data[7] ^= 1;
  auto corrupt = gossip::crypto::load_keyring(fs, path);
  EXPECT_EQ(corrupt.status().code(), Code::kInvalidArgument);
  EXPECT_NE(corrupt.status().message().find(path), std::string::npos);
  fs.files[path].data = std::string(kKeyringFileBytesMax + 1, 'x');
  EXPECT_EQ(gossip::crypto::load_keyring(fs, path).status().code(), Code::kInvalidArgument);
  // A failed durable write is reported as is.
  fs.fail_writes = true;
  EXPECT_EQ(gossip::crypto::save_keyring(fs, path, *ring).code(), Code::kIo);
}

}  // namespace
