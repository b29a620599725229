// The gossip keyring: the AES-256 keys this node seals and opens gossip with (Serf/memberlist's
// keyring, https://github.com/hashicorp/memberlist/blob/master/keyring.go).
//
// One primary key seals everything this node sends; every installed key -- the primary and up to
// kKeyringKeysMax - 1 secondaries -- may open what it receives. That is what makes live rotation
// work: install the new key everywhere, then `use` it everywhere, then `remove` the old one
// everywhere; at every step every pair of nodes shares a key that opens the other's packets.
// Keys are given and shown in Consul's and Serf's `encrypt` format: base64 of 32 random bytes.
// Listing shows key ids (a hash, see key_id()), never keys.
//
// Persistence: serialize() gives the whole keyring as a small binary file (layout in
// keyring.cc); the agent writes it with hal::Fs durable writes after EVERY change (mode 0600 --
// it holds the keys) and parse()s it at start-up, so a node that restarts mid-rotation comes back
// with the keys it had and still opens its peers' packets. parse() treats the file as untrusted:
// any malformation is a kInvalidArgument, never an assert.
//
// Threading/ownership: plain value, one owner (the loop thread). Each key keeps its expanded AES
// context (hal::crypto::Aes256Gcm); raw key bytes are wiped when removed or destroyed.
// Not here: generating keys (the caller fills 32 bytes from hal::Entropy and calls encode_key()),
// spreading keyring commands across the fleet (agentctl and the agent do that), deciding where
// the file lives (the agent passes a path in its data dir to load_keyring()/save_keyring()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/base/status.h"
#include "hal/crypto.h"
#include "hal/fs.h"

namespace gossip::crypto {

inline constexpr size_t kKeyBytes = 32;
// Primary plus secondaries. A rotation needs two; eight leaves room for an operator who installs
// ahead of time, while bounding the keys open() may try on a packet nobody can open.
inline constexpr size_t kKeyringKeysMax = 8;
// Bytes of SHA-256 shown as a key id (16 hex characters): enough to tell keys apart, reveals
// nothing about a 256-bit random key.
inline constexpr size_t kKeyIdBytes = 8;
// The largest keyring file parse() accepts; read it with hal::Fs::read_file(path, this).
inline constexpr size_t kKeyringFileBytesMax = 4 + 1 + 1 + kKeyBytes * kKeyringKeysMax + 4;

struct KeyInfo {
  std::string id;        // key_id() of the key: 16 lower-case hex characters
  bool primary = false;  // seals outgoing packets
};

class Keyring {
 public:
  Keyring() = default;  // empty: seals nothing, opens nothing
  Keyring(Keyring&&) noexcept = default;
  Keyring& operator=(Keyring&&) noexcept = default;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // A keyring holding `key_b64` as its primary. kInvalidArgument unless it is base64 of exactly
  // 32 bytes.
  static base::Result<Keyring> with_primary(std::string_view key_b64);

  // Adds a key for receiving. The first key installed into an empty keyring becomes the primary.
  // Installing a key that is already installed is OK and changes nothing. kInvalidArgument for a
  // malformed key; kResourceExhausted when kKeyringKeysMax keys are installed.
  [[nodiscard]] base::Status install(std::string_view key_b64);
  // Makes an installed key the primary; `key` is its base64 or its key id. kNotFound if it is
  // not installed; kInvalidArgument if it is neither form.
  [[nodiscard]] base::Status use(std::string_view key);
  // Removes an installed secondary key (base64 or key id). kFailedPrecondition for the primary
  // (install and use another one first), kNotFound if it is not installed.
  [[nodiscard]] base::Status remove(std::string_view key);
  // The installed keys, primary first, then in installation order.
  std::vector<KeyInfo> list() const;

  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  // Incremented by every change; lets the owner see that a persist is due.
  uint64_t generation() const { return generation_; }

  // The AEAD of installed key `index` (0 is the primary); index < size(). For Envelope.
  hal::crypto::Aes256Gcm& aead(size_t index);
  const std::string& id(size_t index) const;

  // The keyring file (layout in keyring.cc). It holds the raw keys: store it owner-only and wipe
  // the string (hal::crypto::secure_zero) when done with it.
  std::string serialize() const;
  // Parses a keyring file. kInvalidArgument for anything but a well-formed file: wrong size,
  // magic or version, too many keys, duplicate keys, checksum mismatch.
  static base::Result<Keyring> parse(base::ByteSpan file);

  // The id shown for a raw 32-byte key: hex of the first kKeyIdBytes of
  // SHA-256("weft-gossip-key-id" || 0x00 || key).
  static std::string key_id(base::ByteSpan raw_key);
  // Base64 text of a raw 32-byte key (from hal::Entropy), for `agentctl keygen`-like commands.
  // kInvalidArgument unless `raw_key` is 32 bytes.
  static base::Result<std::string> encode_key(base::ByteSpan raw_key);

 private:
  // Every copy of raw key bytes is wiped when its Key is destroyed (moves copy the array, so
  // the moved-from Key wipes its own copy too).
  struct Key {
    Key(std::array<uint8_t, kKeyBytes> r, std::string i, hal::crypto::Aes256Gcm a)
        : raw(r), id(std::move(i)), aead(std::move(a)) {}
    Key(Key&&) noexcept = default;
    Key& operator=(Key&&) noexcept = default;
    ~Key() { hal::crypto::secure_zero(raw.data(), raw.size()); }
    std::array<uint8_t, kKeyBytes> raw;
    std::string id;
    hal::crypto::Aes256Gcm aead;
  };
  // Adds a raw key as the last key; no duplicate or bound check.
  [[nodiscard]] base::Status add(base::ByteSpan raw);
  // Index of the key named by base64 or key id; size() when absent; an error if malformed.
  base::Result<size_t> find(std::string_view key) const;

  std::vector<Key> keys_;  // keys_[0] is the primary
  uint64_t generation_ = 0;
};

// Reads and parses the keyring file at `path` through `fs`: kNotFound when there is none (a first
// start: the caller builds the keyring from config), kInvalidArgument when it is corrupt (the
// caller should stop and say so rather than start without the fleet's keys), kIo from the disk.
base::Result<Keyring> load_keyring(hal::Fs& fs, std::string_view path);

// Writes `ring` to `path` with a durable write (temporary file, fsync, rename) and mode 0600.
// Call it after every install/use/remove, before acknowledging the command. A kIo is a failed
// write or fsync: report it and stop (STYLE.md), never retry.
[[nodiscard]] base::Status save_keyring(hal::Fs& fs, std::string_view path, const Keyring& ring);

}  // namespace gossip::crypto
