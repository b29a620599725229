// Proves the gossip envelope's contract (envelope.h) packet by packet: round trips per kind with
// the promised overhead, and that kind confusion, another cluster label, a wrong key, any single
// flipped bit, any truncation, oversize, plaintext and replays are all dropped with the right
// DropReason and counted -- and that a live key rotation never loses a packet that a correctly
// rotated keyring should open. Senders and receivers are separate Envelopes over separate
// keyrings, as on two nodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/base/random.h"
#include "agent/gossip/crypto/envelope.h"
#include "agent/gossip/crypto/keyring.h"

namespace {

using base::ByteSpan;
using base::Code;
using base::MonoTime;
using gossip::crypto::DropReason;
using gossip::crypto::Envelope;
using gossip::crypto::EnvelopeKind;
using gossip::crypto::kEnvelopeOverheadBytesMax;
using gossip::crypto::Keyring;

constexpr size_t kMax = 1400;
constexpr size_t kOverhead = 46;  // the layout in envelope.cc

std::string key_b64(uint8_t fill) {
  std::string raw(32, static_cast<char>(fill));
  return Keyring::encode_key(base::as_bytes(raw)).value();
}

Keyring ring_of(std::initializer_list<uint8_t> fills) {
  Keyring ring;
  for (uint8_t f : fills) EXPECT_TRUE(ring.install(key_b64(f)).is_ok());
  return ring;
}

MonoTime t0() { return MonoTime::from_ns(1'000'000'000); }

std::string seal(Envelope& e, EnvelopeKind kind, std::string_view text) {
  std::string out;
  base::Status s = e.seal(kind, base::as_bytes(text), t0(), &out);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return out;
}

DropReason open(Envelope& e, EnvelopeKind kind, const std::string& packet, std::string* text) {
  return e.open(kind, base::as_bytes(packet), t0(), text);
}

uint64_t dropped(const Envelope& e, DropReason r) {
  return e.counters().dropped[static_cast<size_t>(r)];
}

struct Pair {
  Keyring tx_ring = ring_of({1});
  Keyring rx_ring = ring_of({1});
  Envelope tx{tx_ring, "fleet-a", 11, kMax};
  Envelope rx{rx_ring, "fleet-a", 22, kMax};
};

TEST(Envelope, RoundTripsEachKindWithinTheOverhead) {
  Pair p;
  for (EnvelopeKind kind : {EnvelopeKind::kDatagram, EnvelopeKind::kStream}) {
    for (std::string text : {std::string(), std::string("ping"), std::string(kMax - kOverhead, 'x')}) {
      std::string out = "prefix";  // seal appends
      ASSERT_TRUE(p.tx.seal(kind, base::as_bytes(text), t0(), &out).is_ok());
      ASSERT_EQ(out.substr(0, 6), "prefix");
      std::string packet = out.substr(6);
      EXPECT_EQ(packet.size(), text.size() + kOverhead);
      EXPECT_LE(packet.size() - text.size(), kEnvelopeOverheadBytesMax);
      std::string got = "stale";
      ASSERT_EQ(open(p.rx, kind, packet, &got), DropReason::kNone);
      EXPECT_EQ(got, text);
    }
  }
  EXPECT_EQ(p.tx.counters().sealed, 6u);
  EXPECT_EQ(p.rx.counters().opened, 6u);
}

TEST(Envelope, RefusesKindConfusion) {
  Pair p;
  std::string got;
  std::string dgram = seal(p.tx, EnvelopeKind::kDatagram, "probe");
  std::string frame = seal(p.tx, EnvelopeKind::kStream, "push-pull");
  EXPECT_EQ(open(p.rx, EnvelopeKind::kStream, dgram, &got), DropReason::kWrongKind);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, frame, &got), DropReason::kWrongKind);
  EXPECT_TRUE(got.empty());
  // Rewriting the kind byte to match does not help: the kind is authenticated.
  std::string relabelled = dgram;
  relabelled[1] = static_cast<char>(EnvelopeKind::kStream);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kStream, relabelled, &got), DropReason::kAuth);
  EXPECT_EQ(dropped(p.rx, DropReason::kWrongKind), 2u);
  // The refusals changed nothing: the genuine packets still open once each.
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, dgram, &got), DropReason::kNone);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kStream, frame, &got), DropReason::kNone);
}

TEST(Envelope, RefusesAnotherClusterLabelAndAnotherKey) {
  Keyring ring = ring_of({1});
  Keyring other_ring = ring_of({1});
  Keyring wrong_ring = ring_of({2});
  Keyring empty_ring;
  Envelope tx(ring, "fleet-a", 1, kMax);
  Envelope other_fleet(other_ring, "fleet-b", 2, kMax);
  Envelope no_label(other_ring, "", 3, kMax);
  Envelope wrong_key(wrong_ring, "fleet-a", 4, kMax);
  Envelope no_keys(empty_ring, "fleet-a", 5, kMax);
  std::string packet = seal(tx, EnvelopeKind::kDatagram, "alive");
  std::string got;
  EXPECT_EQ(open(other_fleet, EnvelopeKind::kDatagram, packet, &got), DropReason::kAuth);
  EXPECT_EQ(open(no_label, EnvelopeKind::kDatagram, packet, &got), DropReason::kAuth);
  EXPECT_EQ(open(wrong_key, EnvelopeKind::kDatagram, packet, &got), DropReason::kAuth);
  EXPECT_EQ(open(no_keys, EnvelopeKind::kDatagram, packet, &got), DropReason::kAuth);
  EXPECT_TRUE(got.empty());
  std::string out;
  EXPECT_EQ(no_keys.seal(EnvelopeKind::kDatagram, base::as_bytes("x"), t0(), &out).code(),
            Code::kFailedPrecondition);
  EXPECT_TRUE(out.empty());
}

TEST(Envelope, RefusesEverySingleBitFlip) {
  Pair p;
  const std::string packet = seal(p.tx, EnvelopeKind::kDatagram, "suspect node-7 incarnation 42");
  std::string got;
  for (size_t bit = 0; bit < packet.size() * 8; ++bit) {
    std::string bad = packet;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    DropReason want = bit < 8 ? DropReason::kVersion : bit < 16 ? DropReason::kWrongKind
                                                                : DropReason::kAuth;
    ASSERT_EQ(open(p.rx, EnvelopeKind::kDatagram, bad, &got), want) << "bit " << bit;
    ASSERT_TRUE(got.empty());
  }
  EXPECT_EQ(dropped(p.rx, DropReason::kAuth), (packet.size() - 2) * 8);
  EXPECT_EQ(p.rx.counters().opened, 0u);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, packet, &got), DropReason::kNone);
}

TEST(Envelope, RefusesEveryTruncation) {
  Pair p;
  const std::string packet = seal(p.tx, EnvelopeKind::kStream, "a push-pull frame");
  std::string got;
  for (size_t n = 0; n < packet.size(); ++n) {
    DropReason want = n < kOverhead ? DropReason::kTruncated : DropReason::kAuth;
    ASSERT_EQ(open(p.rx, EnvelopeKind::kStream, packet.substr(0, n), &got), want) << n;
  }
  EXPECT_EQ(dropped(p.rx, DropReason::kTruncated), kOverhead);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kStream, packet, &got), DropReason::kNone);
}

TEST(Envelope, RefusesOversizedPacketsOnBothSides) {
  Pair p;
  std::string out;
  std::string fits(kMax - kOverhead, 'f'), too_big(kMax - kOverhead + 1, 'b');
  EXPECT_TRUE(p.tx.seal(EnvelopeKind::kDatagram, base::as_bytes(fits), t0(), &out).is_ok());
  EXPECT_EQ(out.size(), kMax);
  std::string out2;
  EXPECT_EQ(p.tx.seal(EnvelopeKind::kDatagram, base::as_bytes(too_big), t0(), &out2).code(),
            Code::kResourceExhausted);
  EXPECT_TRUE(out2.empty());
  std::string got;
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, out + "x", &got), DropReason::kOversized);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, std::string(1 << 20, '\xE1'), &got),
            DropReason::kOversized);
  EXPECT_EQ(dropped(p.rx, DropReason::kOversized), 2u);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, out, &got), DropReason::kNone);
}

TEST(Envelope, RefusesPlaintextGossip) {
  Pair p;
  std::string got;
  base::Prng prng(5);
  for (int i = 0; i < 200; ++i) {
    std::string junk(1 + prng.uniform(300), '\0');
    for (char& c : junk) c = static_cast<char>(prng.next_u64());
    if (static_cast<uint8_t>(junk[0]) == 0xE1) junk[0] = 0;
    ASSERT_EQ(open(p.rx, EnvelopeKind::kDatagram, junk, &got), DropReason::kVersion);
  }
  EXPECT_EQ(dropped(p.rx, DropReason::kVersion), 200u);
}

TEST(Envelope, RefusesReplays) {
  Pair p;
  std::string got;
  std::string packet = seal(p.tx, EnvelopeKind::kDatagram, "ping");
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, packet, &got), DropReason::kNone);
  EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, packet, &got), DropReason::kReplay);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(dropped(p.rx, DropReason::kReplay), 1u);
  // A second receiver has not seen it: replay state is per receiver, not global.
  Keyring ring = ring_of({1});
  Envelope rx2(ring, "fleet-a", 33, kMax);
  EXPECT_EQ(open(rx2, EnvelopeKind::kDatagram, packet, &got), DropReason::kNone);
}

TEST(Envelope, AcceptsReorderingWithinTheWindowOnceAndRefusesOlder) {
  Pair p;
  std::vector<std::string> packets;
  for (int i = 0; i < 1100; ++i) packets.push_back(seal(p.tx, EnvelopeKind::kDatagram, std::to_string(i)));
  std::string got;
  // Deliver 100..1099 in a shuffled order: each opens exactly once.
  std::vector<size_t> order;
  for (size_t i = 100; i < packets.size(); ++i) order.push_back(i);
  base::Prng prng(3);
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[prng.uniform(i + 1)]);
  for (size_t i : order) {
    ASSERT_EQ(open(p.rx, EnvelopeKind::kDatagram, packets[i], &got), DropReason::kNone) << i;
    ASSERT_EQ(got, std::to_string(i));
  }
  for (size_t i : order) ASSERT_EQ(open(p.rx, EnvelopeKind::kDatagram, packets[i], &got), DropReason::kReplay);
  // Counters are 1-based: packet i carries counter i + 1; the top is 1100, so the window holds
  // counters 77..1100 (packets 76..1099). Packets 76..99 arrive late but inside it; 0..75 are
  // too old to tell and refused.
  for (size_t i = 76; i < 100; ++i) EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, packets[i], &got), DropReason::kNone) << i;
  for (size_t i = 0; i < 76; ++i) EXPECT_EQ(open(p.rx, EnvelopeKind::kDatagram, packets[i], &got), DropReason::kReplay) << i;
}

TEST(Envelope, KeyRotationLosesNothingAndRemovalRetiresTheOldKey) {
  // Node A sends to node B. Both start on key 1.
  Keyring a_ring = ring_of({1});
  Keyring b_ring = ring_of({1});
  Envelope a(a_ring, "fleet", 100, kMax);
  Envelope b(b_ring, "fleet", 200, kMax);
  std::string got;
  std::string before = seal(a, EnvelopeKind::kDatagram, "old key, before the rotation");
  std::string before_late = seal(a, EnvelopeKind::kDatagram, "old key, delivered late");

  // 1. `keyring install` everywhere: B first (A may still be on key 1 only).
  ASSERT_TRUE(b_ring.install(key_b64(2)).is_ok());
  ASSERT_TRUE(a_ring.install(key_b64(2)).is_ok());
  EXPECT_EQ(open(b, EnvelopeKind::kDatagram, before, &got), DropReason::kNone);
  // 2. `keyring use` on A: it now seals with key 2, which B opens as a secondary.
  ASSERT_TRUE(a_ring.use(key_b64(2)).is_ok());
  std::string during = seal(a, EnvelopeKind::kDatagram, "new key, during the rotation");
  std::string during_late = seal(a, EnvelopeKind::kDatagram, "new key, delivered late");
  EXPECT_EQ(open(b, EnvelopeKind::kDatagram, during, &got), DropReason::kNone);
  EXPECT_EQ(got, "new key, during the rotation");
  // A node restarting mid-rotation comes back with the same keyring from its file.
  auto b_restarted_ring = Keyring::parse(base::as_bytes(b_ring.serialize()));
  ASSERT_TRUE(b_restarted_ring.is_ok());
  Envelope b_restarted(b_restarted_ring.value(), "fleet", 201, kMax);
  EXPECT_EQ(open(b_restarted, EnvelopeKind::kDatagram, during, &got), DropReason::kNone);
  // 3. `keyring use` on B: old-key packets still open while key 1 is installed.
  ASSERT_TRUE(b_ring.use(key_b64(2)).is_ok());
  EXPECT_EQ(open(b, EnvelopeKind::kDatagram, before_late, &got), DropReason::kNone);
  // 4. `keyring remove` key 1 everywhere: old-key packets no longer open; new ones do.
  std::string before_never = seal(a, EnvelopeKind::kDatagram, "x");  // sealed with key 2 now
  ASSERT_TRUE(b_ring.remove(key_b64(1)).is_ok());
  ASSERT_TRUE(a_ring.remove(key_b64(1)).is_ok());
  Keyring old_ring = ring_of({1});
  Envelope straggler(old_ring, "fleet", 300, kMax);  // a node that missed the rotation
  std::string stale = seal(straggler, EnvelopeKind::kDatagram, "sealed under the removed key");
  EXPECT_EQ(open(b, EnvelopeKind::kDatagram, stale, &got), DropReason::kAuth);
  EXPECT_EQ(open(b, EnvelopeKind::kDatagram, during_late, &got), DropReason::kNone);
  EXPECT_EQ(open(b, EnvelopeKind::kDatagram, before_never, &got), DropReason::kNone);
  EXPECT_EQ(b.counters().dropped[static_cast<size_t>(DropReason::kAuth)], 1u);
}

TEST(Envelope, ManySendersStayBoundedAndRecentOnesAreProtected) {
  Keyring rx_ring = ring_of({1});
  Envelope rx(rx_ring, "fleet", 1, kMax);
  Keyring tx_ring = ring_of({1});
  std::string got;
  // 6,000 distinct sender processes (more than the windows and the retired ring together).
  std::vector<std::string> last_packets;
  for (uint64_t s = 0; s < 6000; ++s) {
    Envelope tx(tx_ring, "fleet", 1000 + s, kMax);
    std::string packet = seal(tx, EnvelopeKind::kDatagram, "hello");
    ASSERT_EQ(open(rx, EnvelopeKind::kDatagram, packet, &got), DropReason::kNone) << s;
    last_packets.push_back(std::move(packet));
  }
  // Recent senders' packets (windows and retired ring) are refused as replays.
  for (size_t s = 6000 - 5000; s < 6000; ++s) {
    ASSERT_EQ(open(rx, EnvelopeKind::kDatagram, last_packets[s], &got), DropReason::kReplay) << s;
  }
  EXPECT_EQ(rx.counters().opened, 6000u);
}

TEST(Envelope, NoncesNeverRepeat) {
  Keyring ring = ring_of({1});
  std::set<std::string> nonces;
  for (uint64_t seed : {1u, 2u}) {
    Envelope tx(ring, "fleet", seed, kMax);
    for (int i = 0; i < 20000; ++i) {
      std::string packet = seal(tx, EnvelopeKind::kDatagram, "");
      ASSERT_TRUE(nonces.insert(packet.substr(18, 12)).second);
    }
  }
}

// Not an assertion: prints what sealing and opening a typical packet costs on this machine.
TEST(Envelope, MeasuresSealAndOpenCost) {
  Pair p;
  for (size_t bytes : {64u, 512u, 1354u}) {
    std::string text(bytes, 'g');
    constexpr int kRounds = 5000;
    std::vector<std::string> packets(kRounds);
    auto t_seal = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_TRUE(p.tx.seal(EnvelopeKind::kDatagram, base::as_bytes(text), t0(), &packets[i]).is_ok());
    }
    auto t_open = std::chrono::steady_clock::now();
    std::string got;
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_EQ(open(p.rx, EnvelopeKind::kDatagram, packets[i], &got), DropReason::kNone);
    }
    auto t_end = std::chrono::steady_clock::now();
    double seal_ns = std::chrono::duration<double, std::nano>(t_open - t_seal).count() / kRounds;
    double open_ns = std::chrono::duration<double, std::nano>(t_end - t_open).count() / kRounds;
    std::printf("envelope %4zu-byte plaintext: seal %.0f ns, open %.0f ns per packet\n", bytes,
                seal_ns, open_ns);
  }
}

}  // namespace
