// Anti-replay for the gossip envelope: which (sender id, counter) pairs have been opened already.
//
// Every sealed packet carries its sender's per-process random id and a per-packet counter
// (1, 2, 3, ... in send order, across all destinations and both kinds), both authenticated. A
// receiver keeps, per sender, the sliding window IPsec and WireGuard use (RFC 4303 section
// 3.4.3, RFC 6479): the highest counter accepted plus a bitmap of the kWindowCounters below it.
// A counter above the highest is new; one inside the window is new once; one below the window
// is refused as too old. UDP reorders a little and the sender's counter is shared by all of its
// destinations, so the window is wide (1024 counters, ~50 s of one sender's traffic at the lan
// profile's rates); TCP stream frames arrive in order anyway.
//
// Bounds. Windows are kept for at most `senders_max` senders; when a new sender arrives and the
// table is full, the least recently used window is retired: its id and highest counter move to a
// compact ring of `retired_max` retired senders (16 bytes each instead of ~170), and a packet
// from a retired sender is accepted only above that highest counter (reordered stragglers from
// inside its old window are refused -- the safe side). What is forgotten entirely is a sender
// pushed out of both (more than senders_max + retired_max more-recent distinct senders): packets
// recorded from it could each be replayed once more, under a key that is still installed. Only
// authenticated packets reach this table, so a forger cannot churn it; churn needs genuinely
// distinct sender ids, which appear once per process start (a restart draws a new id). At the
// defaults that is 5,120 process lifetimes; key rotation bounds it further, since a packet sealed
// under a removed key never opens. What a replayed packet can do is what a duplicated datagram
// can: SWIM orders member state by incarnation, so old news is ignored.
//
// Memory: windows and the ring grow lazily up to their bounds (about 170 B per window and 16 B
// per retired sender: ~240 KiB at the defaults, per receiving node). Eviction and the retired
// lookup scan linearly; both run only when an authenticated packet comes from a sender without
// a window, which is rare unless the fleet has more active senders than senders_max.
//
// Threading: one owner (the Envelope, on the loop thread). Not here: authentication (the caller
// calls accept() only for packets that opened), time (nothing here needs it: eviction is by use).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace gossip::crypto {

class ReplayTable {
 public:
  // Counters below a sender's highest accepted counter that are still tracked one by one.
  static constexpr uint64_t kWindowCounters = 1024;
  // Senders with a full window: a 1,000-member fleet fits, with room for restarts.
  static constexpr size_t kSendersMaxDefault = 1024;
  // Retired senders remembered by their highest counter only.
  static constexpr size_t kRetiredMaxDefault = 4096;

  explicit ReplayTable(size_t senders_max = kSendersMaxDefault,
                       size_t retired_max = kRetiredMaxDefault);

  // True, and records the counter, if `counter` from `sender_id` has not been accepted before and
  // is not too old to tell; false otherwise (counter 0 is never sent, so it is refused).
  bool accept(uint64_t sender_id, uint64_t counter);

  size_t senders() const { return windows_.size(); }
  size_t retired() const { return retired_.size(); }

 private:
  // 17 words so that a full kWindowCounters below the top fit beside the top's own word.
  static constexpr size_t kWords = kWindowCounters / 64 + 1;
  struct Window {
    uint64_t sender_id = 0;
    uint64_t top = 0;       // highest counter accepted
    uint64_t last_use = 0;  // use_seq_ when last accepted: least recent is retired first
    std::array<uint64_t, kWords> bitmap{};  // bit (c % 64) of word (c / 64 % kWords): c seen
  };
  struct Retired {
    uint64_t sender_id = 0;
    uint64_t top = 0;
  };
  static bool window_accept(Window& w, uint64_t counter);
  size_t new_window(uint64_t sender_id);  // returns its index

  size_t senders_max_;
  size_t retired_max_;
  uint64_t use_seq_ = 0;
  std::vector<Window> windows_;
  std::unordered_map<uint64_t, uint32_t> index_;  // sender id -> windows_ index; never iterated
  std::vector<Retired> retired_;                  // a ring once full
  size_t retired_next_ = 0;                       // where the next retired sender goes when full
};

}  // namespace gossip::crypto
