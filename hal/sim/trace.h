// hal/sim/trace.h -- the simulation's event trace: a running hash and an optional text log.
//
// Every event the World processes (a datagram sent, delivered, dropped with its reason or
// duplicated; a stream connected, refused, reset; a node run, crashed, restarted; a partition
// made or healed) is appended as an entry: a kind, the virtual time and a few fields. Each entry
// is folded into a 64-bit FNV-1a hash over an explicit encoding (a tag byte per field, integers
// little-endian, strings length-prefixed) -- never over pointers, never over the iteration order
// of an unordered container -- so two runs with one seed give one hash, and a determinism test
// compares just that. When text is enabled (SimConfig::trace_lines_max > 0) the entry is also
// rendered as a line ("1.000250000 deliver n1 10.0.0.1:7000>10.0.0.2:7000 len=12"), and the
// most recent lines are kept for a failing test to print.
//
// Use: begin(time, kind) then field calls then end(). Threading: none (the World is
// single-threaded). Not here: counters (sim::NetStats), interpretation of the entries.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <string_view>

#include "agent/base/bytes.h"
#include "agent/base/time.h"
#include "hal/net.h"

namespace sim {

enum class TraceKind : uint8_t {
  kAddNode = 1,
  kNodeRun,
  kSend,
  kDeliver,
  kDrop,
  kDuplicate,
  kConnect,
  kAccept,
  kEstablished,
  kRefused,
  kStreamData,
  kStreamRead,
  kFin,
  kReset,
  kStall,
  kCrash,
  kRestart,
  kPartition,
  kHeal,
  kLinkFaults,
  kClockJump,
  kSignal,
  kDiskFault,
  kNote,
};

std::string_view trace_kind_name(TraceKind kind);

// 64-bit FNV-1a over `data`, continuing from `h`.
uint64_t fnv1a64(base::ByteSpan data, uint64_t h = 0xcbf29ce484222325ull);

// "10.0.0.1:7000", "[v6 hex]:port", "unix:/path" -- the trace's own rendering, independent of
// SockAddr::to_string so that trace text is stable whatever that formatter does.
std::string trace_addr(const hal::SockAddr& addr);

class Trace {
 public:
  explicit Trace(size_t lines_max) : lines_max_(lines_max) {}

  void begin(base::MonoTime time, TraceKind kind);
  // A named unsigned field ("len", 12) -> " len=12".
  void u64(std::string_view name, uint64_t v);
  // A node id -> " n3".
  void node(uint32_t id);
  void addr(std::string_view name, const hal::SockAddr& a);
  void str(std::string_view name, std::string_view s);
  // Hashes the bytes themselves; the text shows their length and their FNV hash.
  void payload(base::ByteSpan data);
  void end();

  uint64_t hash() const { return hash_; }
  uint64_t entries() const { return entries_; }
  bool text_enabled() const { return lines_max_ > 0; }
  // The kept lines, oldest first, and how many older ones were discarded.
  const std::deque<std::string>& lines() const { return lines_; }
  uint64_t lines_discarded() const { return lines_discarded_; }
  // All kept lines joined by '\n'.
  std::string text() const;
  // Writes the last `count_max` kept lines to `out`.
  void dump(FILE* out, size_t count_max) const;

 private:
  void mix(const void* data, size_t n);
  void mix_u8(uint8_t v) { mix(&v, 1); }
  void mix_u64(uint64_t v);

  size_t lines_max_;
  uint64_t hash_ = 0xcbf29ce484222325ull;
  uint64_t entries_ = 0;
  bool open_ = false;
  std::string line_;
  std::deque<std::string> lines_;
  uint64_t lines_discarded_ = 0;
};

}  // namespace sim
