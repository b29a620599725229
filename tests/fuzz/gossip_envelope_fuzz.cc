// Fuzzes the gossip envelope's decoders of untrusted bytes: Envelope::open (before decryption:
// the header checks; after: what a valid packet turned into by the fuzzer's edits does) and the
// keyring file parser. Never crash, never assert, bounded memory -- plus three oracles that
// trap on a wrong answer:
//   - a packet sealed here and delivered unchanged opens to the same plaintext, once;
//   - a sealed packet changed in any way (bytes flipped, truncated, extended) never opens;
//   - a keyring file that parses serializes back to the same bytes.
//
// Input: the first byte picks the mode (low two bits) and the kind (bit 2).
//   mode 0  the rest is a packet, opened as is (the corpus holds valid packets under the fixed
//           key below, so mutations start from packets that get past the header checks);
//   mode 1  next byte n, then n plaintext bytes are sealed; the remaining bytes are edits,
//           3 bytes each (position u16, xor mask); an edit byte 0xFF/0xFF position truncates
//           the packet at the mask (mod its length); then the packet is opened twice;
//   mode 2  the rest is a keyring file;
//   mode 3  the rest is plaintext; sealed as two packets delivered in reverse order and again.
// Everything is rebuilt per input (fresh replay state), so runs are independent.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "agent/gossip/crypto/envelope.h"
#include "agent/gossip/crypto/keyring.h"

namespace {

using gossip::crypto::DropReason;
using gossip::crypto::Envelope;
using gossip::crypto::EnvelopeKind;
using gossip::crypto::Keyring;

constexpr size_t kPacketBytesMax = 1400;
// Base64 of the 32 bytes 0x00, 0x01, ..., 0x1f: the fixed fuzzing key.
constexpr const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kSecondKey = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
constexpr const char* kLabel = "fuzz-fleet";
constexpr uint64_t kSenderSeed = 1;
constexpr uint64_t kReceiverSeed = 2;

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) abort(); \
  } while (0)

base::MonoTime now() { return base::MonoTime::from_ns(1); }

Keyring receiver_ring() {
  // Primary and a secondary, so open() tries more than one key.
  Keyring ring;
  FUZZ_CHECK(ring.install(kSecondKey).is_ok());
  FUZZ_CHECK(ring.install(kKey).is_ok());
  return ring;
}

void fuzz_open(EnvelopeKind kind, base::ByteSpan packet) {
  Keyring ring = receiver_ring();
  Envelope rx(ring, kLabel, kReceiverSeed, kPacketBytesMax);
  std::string plaintext;
  DropReason first = rx.open(kind, packet, now(), &plaintext);
  FUZZ_CHECK(first == DropReason::kNone || plaintext.empty());
  FUZZ_CHECK(plaintext.size() <= kPacketBytesMax);
  DropReason second = rx.open(kind, packet, now(), &plaintext);
  FUZZ_CHECK(second != DropReason::kNone);  // whatever opened once never opens again
  if (first == DropReason::kNone) FUZZ_CHECK(second == DropReason::kReplay);
}

void fuzz_sealed_then_edited(EnvelopeKind kind, base::ByteReader& in) {
  size_t n = in.u8();
  base::ByteSpan text = in.raw(std::min(n, in.remaining()));
  Keyring tx_ring = std::move(Keyring::with_primary(kKey).value());
  Envelope tx(tx_ring, kLabel, kSenderSeed, kPacketBytesMax);
  std::string packet;
  FUZZ_CHECK(tx.seal(kind, text, now(), &packet).is_ok());
  const std::string original = packet;
  for (int edits = 0; in.remaining() >= 3 && edits < 64; ++edits) {
    uint16_t pos = in.u16();
    uint8_t mask = in.u8();
    if (pos == 0xFFFF) {
      packet.resize(packet.empty() ? 0 : mask % packet.size());
    } else if (pos >= 0xFF00) {
      packet.push_back(static_cast<char>(mask));  // extend
    } else if (!packet.empty()) {
      packet[pos % packet.size()] = static_cast<char>(packet[pos % packet.size()] ^ mask);
    }
  }
  Keyring rx_ring = receiver_ring();
  Envelope rx(rx_ring, kLabel, kReceiverSeed, kPacketBytesMax);
  std::string got;
  DropReason r = rx.open(kind, base::as_bytes(packet), now(), &got);
  if (packet == original) {
    FUZZ_CHECK(r == DropReason::kNone);
    FUZZ_CHECK(got == base::as_chars(text));
    FUZZ_CHECK(rx.open(kind, base::as_bytes(packet), now(), &got) == DropReason::kReplay);
  } else {
    FUZZ_CHECK(r != DropReason::kNone);  // a forgery would need to guess a 128-bit tag
    FUZZ_CHECK(got.empty());
  }
  // The other kind never opens it.
  EnvelopeKind other = kind == EnvelopeKind::kDatagram ? EnvelopeKind::kStream : EnvelopeKind::kDatagram;
  FUZZ_CHECK(rx.open(other, base::as_bytes(packet), now(), &got) != DropReason::kNone);
}

void fuzz_keyring_file(base::ByteSpan file) {
  auto ring = Keyring::parse(file);
  if (!ring.is_ok()) return;
  std::string again = ring->serialize();
  FUZZ_CHECK(base::as_bytes(again).size() == file.size());
  FUZZ_CHECK(std::equal(file.begin(), file.end(), reinterpret_cast<const uint8_t*>(again.data())));
  FUZZ_CHECK(ring->size() <= gossip::crypto::kKeyringKeysMax);
  (void)ring->list();
}

void fuzz_reordered(EnvelopeKind kind, base::ByteSpan text) {
  Keyring tx_ring = std::move(Keyring::with_primary(kKey).value());
  Envelope tx(tx_ring, kLabel, kSenderSeed, kPacketBytesMax);
  std::string a, b;
  if (!tx.seal(kind, text, now(), &a).is_ok()) return;  // too long: refused, fine
  FUZZ_CHECK(tx.seal(kind, text, now(), &b).is_ok());
  Keyring rx_ring = receiver_ring();
  Envelope rx(rx_ring, kLabel, kReceiverSeed, kPacketBytesMax);
  std::string got;
  FUZZ_CHECK(rx.open(kind, base::as_bytes(b), now(), &got) == DropReason::kNone);
  FUZZ_CHECK(rx.open(kind, base::as_bytes(a), now(), &got) == DropReason::kNone);
  FUZZ_CHECK(rx.open(kind, base::as_bytes(a), now(), &got) == DropReason::kReplay);
  FUZZ_CHECK(rx.open(kind, base::as_bytes(b), now(), &got) == DropReason::kReplay);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  base::ByteReader in(base::ByteSpan(data, size));
  uint8_t selector = in.u8();
  EnvelopeKind kind = (selector & 4) ? EnvelopeKind::kStream : EnvelopeKind::kDatagram;
  base::ByteSpan rest(data + 1, size - 1);
  switch (selector & 3) {
    case 0: fuzz_open(kind, rest); break;
    case 1: fuzz_sealed_then_edited(kind, in); break;
    case 2: fuzz_keyring_file(rest); break;
    case 3: fuzz_reordered(kind, rest); break;
  }
  return 0;
}
