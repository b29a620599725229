// The gossip envelope (contract in envelope.h): AES-256-GCM sealing of every gossip datagram and
// stream frame under the keyring's primary key, opening under any installed key, the cluster
// label bound into the authenticated data, and per-sender anti-replay.
//
// Wire layout, version 0xE1 (integers little-endian):
//
//   offset  size  field                     authenticated as AAD
//   0       1     version = 0xE1            yes
//   1       1     kind (1 datagram, 2 stream)  yes
//   2       8     sender id                 yes
//   10      8     counter                   yes
//   18      12    GCM nonce                 yes
//   30      n     ciphertext of the n-byte plaintext
//   30+n    16    GCM tag
//
// Overhead: 46 bytes (kEnvelopeOverheadBytesMax promises at most 64). The AAD is those 30 header
// bytes followed by the cluster label's bytes (the header is fixed-length, so the concatenation
// is unambiguous); a packet sealed under another label fails the tag check like a wrong key, so
// two fleets sharing a key and a network never merge. The version byte 0xE1 is not a plausible
// first byte of plaintext gossip, so plaintext arriving here is counted as kVersion.
//
// Sender id and counter. Each Envelope draws a random 64-bit sender id from its seed (so every
// process start is a new sender, and a restarted node needs no persisted counter), then numbers
// its packets 1, 2, 3, ... across both kinds and every destination. Receivers run a sliding
// replay window per sender id (replay.h) -- only after the tag verified, so a forged header
// cannot touch replay state and a tampered packet is always counted as kAuth, a replayed genuine
// one as kReplay.
//
// Nonces. GCM needs a nonce that never repeats under one key; it need not be secret or
// unpredictable (NIST SP 800-38D section 8). Each Envelope draws a random 96-bit base from its
// seed and uses nonce = base + counter (mod 2^96) -- the "random start, then count" form rather
// than 96 fresh random bits per packet, because (1) within one process a repeat is impossible by
// construction (the counter never repeats and is far below 2^96), and (2) across the fleet a
// repeat needs two processes' ranges [base, base + packets) to overlap, probability about
// P * N / 2^96 for P process lifetimes sending N packets in all under one key (2^-32 at a million
// restarts and 2^44 packets), where independent random nonces would collide with probability
// N^2 / 2^97 (2^-9 at the same N). The seed must come from hal::Entropy and must never be given
// to two Envelopes: two Envelopes with one seed would repeat each other's nonces. (The base Prng
// is not a cryptographic generator; that is fine because nothing here needs unpredictability.)
// The counter, not the nonce, is what the receiver's replay window tracks; the nonce is carried
// explicitly so that the receiver needs to know nothing about the sender's base.
//
// Open order: primary key first (the common case after a rotation completes), then the
// secondaries in keyring order, so a packet costs one GCM pass unless a rotation is under way;
// garbage costs at most kKeyringKeysMax passes.
#include "agent/gossip/crypto/envelope.h"

#include "agent/base/random.h"
#include "agent/gossip/crypto/keyring.h"
#include "agent/gossip/crypto/replay.h"
#include "hal/crypto.h"

namespace gossip::crypto {

namespace {

constexpr uint8_t kVersion = 0xE1;
constexpr size_t kHeaderBytes = 1 + 1 + 8 + 8 + hal::crypto::kGcmNonceBytes;  // 30
constexpr size_t kOverheadBytes = kHeaderBytes + hal::crypto::kGcmTagBytes;    // 46
static_assert(kOverheadBytes <= kEnvelopeOverheadBytesMax);

}  // namespace

std::string_view drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::kNone: return "none";
    case DropReason::kTruncated: return "truncated";
    case DropReason::kOversized: return "oversized";
    case DropReason::kVersion: return "version";
    case DropReason::kWrongKind: return "wrong_kind";
    case DropReason::kAuth: return "auth";
    case DropReason::kReplay: return "replay";
    case DropReason::kCount_: break;
  }
  return "unknown";
}

struct Envelope::State {
  explicit State(uint64_t seed) : prng(seed) {
    // Sender id 0 is avoided so that it can never match a freed slot in the replay table.
    do sender_id = prng.next_u64();
    while (sender_id == 0);
    nonce_base_lo = prng.next_u64();
    nonce_base_hi = static_cast<uint32_t>(prng.next_u64());
  }
  base::Prng prng;
  uint64_t sender_id = 0;
  uint64_t nonce_base_lo = 0;
  uint32_t nonce_base_hi = 0;
  uint64_t counter = 0;  // of the last packet sealed
  ReplayTable replay;
  std::string aad;  // reused: header plus cluster label
};

Envelope::Envelope(Keyring& keyring, std::string cluster_label, uint64_t seed,
                   size_t packet_bytes_max)
    : keyring_(keyring),
      cluster_label_(std::move(cluster_label)),
      packet_bytes_max_(packet_bytes_max),
      state_(std::make_unique<State>(seed)) {
  state_->aad.reserve(kHeaderBytes + cluster_label_.size());
}

Envelope::~Envelope() = default;

base::Status Envelope::seal(EnvelopeKind kind, base::ByteSpan plaintext, base::MonoTime now,
                            std::string* out) {
  if (keyring_.empty()) {
    return base::Status(base::Code::kFailedPrecondition, "the gossip keyring has no primary key");
  }
  if (plaintext.size() > packet_bytes_max_ || plaintext.size() + kOverheadBytes > packet_bytes_max_) {
    return base::error(base::Code::kResourceExhausted,
                       "sealed packet would be %zu bytes, over the %zu-byte limit",
                       plaintext.size() + kOverheadBytes, packet_bytes_max_);
  }
  State& st = *state_;
  AGENT_ASSERT(st.counter < UINT64_MAX);  // 2^64 packets: not in this universe's lifetime
  uint64_t counter = ++st.counter;
  uint64_t nonce_lo = st.nonce_base_lo + counter;
  uint32_t nonce_hi = st.nonce_base_hi + (nonce_lo < counter ? 1u : 0u);

  size_t start = out->size();
  base::ByteWriter w(out, start + kHeaderBytes);
  w.u8(kVersion);
  w.u8(static_cast<uint8_t>(kind));
  w.u64(st.sender_id);
  w.u64(counter);
  w.u64(nonce_lo);
  w.u32(nonce_hi);
  AGENT_ASSERT(w.ok());
  base::ByteSpan header(reinterpret_cast<const uint8_t*>(out->data()) + start, kHeaderBytes);
  st.aad.assign(base::as_chars(header));
  st.aad.append(cluster_label_);
  // Copy the nonce out of `out` before seal() may reallocate it.
  std::array<uint8_t, hal::crypto::kGcmNonceBytes> nonce;
  std::copy(header.begin() + 18, header.end(), nonce.begin());

  base::Status s = keyring_.aead(0).seal(nonce, base::as_bytes(st.aad), plaintext, out);
  if (!s.is_ok()) {
    out->resize(start);
    return s;
  }
  ++counters_.sealed;
  return base::Status::ok();
}

DropReason Envelope::open(EnvelopeKind kind, base::ByteSpan packet, base::MonoTime now,
                          std::string* plaintext) {
  plaintext->clear();
  auto drop = [this](DropReason reason) {
    ++counters_.dropped[static_cast<size_t>(reason)];
    return reason;
  };
  if (packet.size() > packet_bytes_max_) return drop(DropReason::kOversized);
  if (!packet.empty() && packet[0] != kVersion) return drop(DropReason::kVersion);
  if (packet.size() < kOverheadBytes) return drop(DropReason::kTruncated);
  if (packet[1] != static_cast<uint8_t>(kind)) return drop(DropReason::kWrongKind);

  base::ByteReader r(packet.first(kHeaderBytes));
  r.u8();
  r.u8();
  uint64_t sender_id = r.u64();
  uint64_t counter = r.u64();
  base::ByteSpan nonce = r.raw(hal::crypto::kGcmNonceBytes);
  AGENT_ASSERT(r.ok());  // the length was checked above

  State& st = *state_;
  st.aad.assign(base::as_chars(packet.first(kHeaderBytes)));
  st.aad.append(cluster_label_);
  base::ByteSpan sealed = packet.subspan(kHeaderBytes);
  bool opened = false;
  for (size_t i = 0; i < keyring_.size() && !opened; ++i) {
    opened = keyring_.aead(i).open(nonce, base::as_bytes(st.aad), sealed, plaintext).is_ok();
  }
  if (!opened) return drop(DropReason::kAuth);
  if (!st.replay.accept(sender_id, counter)) {
    plaintext->clear();
    return drop(DropReason::kReplay);
  }
  ++counters_.opened;
  return DropReason::kNone;
}

}  // namespace gossip::crypto
