// The gossip envelope: how every gossip datagram and stream frame is encrypted and authenticated
// (AES-256-GCM under a Keyring), bound to the fleet's cluster label, and checked for replay.
//
// THIS HEADER IS THE SEAM between the SWIM transport (agent/gossip/) and the crypto module
// (agent/gossip/crypto/): the transport calls seal() on everything it sends and open() on
// everything it receives, and knows nothing else about keys. The implementation and the exact
// wire layout are the crypto module's (documented in envelope.cc); what the transport relies on:
//   - seal() appends at most kEnvelopeOverheadBytesMax bytes to the plaintext's length;
//   - open() never asserts on input: every failure is a DropReason, counted here;
//   - a packet sealed with kind kDatagram never opens as kStream and the other way round, and a
//     packet sealed under another cluster label never opens;
//   - a packet that opened once does not open again (replay), within the bounds documented in
//     envelope.cc (a per-sender sliding window; a bounded table of senders).
//
// Threading: one Envelope per node, used on the loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/base/bytes.h"
#include "agent/base/status.h"
#include "agent/base/time.h"

namespace gossip::crypto {

class Keyring;

// What a packet carries: a SWIM datagram or one frame of a push-pull stream.
enum class EnvelopeKind : uint8_t { kDatagram = 1, kStream = 2 };

// Why open() refused a packet. Every value has a counter.
enum class DropReason : uint8_t {
  kNone = 0,
  kTruncated,    // shorter than the header and tag
  kOversized,    // longer than the configured maximum
  kVersion,      // unknown envelope version (or plaintext gossip arriving at an encrypted node)
  kWrongKind,    // a datagram where a stream frame was expected, or the other way round
  kAuth,         // no installed key opens it: wrong key, wrong cluster label, or tampered
  kReplay,       // opened before (or too old for the sender's window)
  kCount_,       // not a reason: the number of reasons
};

std::string_view drop_reason_name(DropReason reason);

// Bytes seal() adds at most; the transport keeps its compound packets within mtu minus this.
inline constexpr size_t kEnvelopeOverheadBytesMax = 64;

struct EnvelopeCounters {
  uint64_t sealed = 0;
  uint64_t opened = 0;
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount_)> dropped{};
};

class Envelope {
 public:
  // `keyring` must outlive the Envelope; its primary key seals, any installed key opens.
  // `cluster_label` is bound into every packet's authenticated data. `seed` (from hal::Entropy
  // at start-up) seeds this process's sender id and nonces. Packets longer than
  // `packet_bytes_max` are refused on both sides.
  Envelope(Keyring& keyring, std::string cluster_label, uint64_t seed, size_t packet_bytes_max);
  ~Envelope();
  Envelope(const Envelope&) = delete;
  Envelope& operator=(const Envelope&) = delete;

  // Appends the sealed packet to `out`. kFailedPrecondition when the keyring has no primary key,
  // kResourceExhausted when the result would pass packet_bytes_max.
  [[nodiscard]] base::Status seal(EnvelopeKind kind, base::ByteSpan plaintext, base::MonoTime now,
                                  std::string* out);
  // Opens `packet` into `plaintext` (replacing its content); kNone on success.
  DropReason open(EnvelopeKind kind, base::ByteSpan packet, base::MonoTime now, std::string* plaintext);

  const EnvelopeCounters& counters() const { return counters_; }

 private:
  struct State;  // the implementation's (sender id, counter, nonce base, replay table, buffers)
  Keyring& keyring_;
  std::string cluster_label_;
  size_t packet_bytes_max_;
  EnvelopeCounters counters_;
  std::unique_ptr<State> state_;
};

}  // namespace gossip::crypto
