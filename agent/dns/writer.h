// DNS message encoder (RFC 1035 §4, §4.1.4 compression; RFC 2181 §9 truncation; RFC 6891 OPT).
//
// Sans-I/O: writes one response into a caller's buffer, never past `limit` bytes (512 for plain
// UDP, the client's EDNS0 size clamped by the server's maximum, 65535 for TCP). No allocation: the
// compression table is a fixed array of offsets into the message.
//
// Records go in as RRsets: begin_rrset(section), add the records, end_rrset(). An RRset that does
// not fit is removed whole (never a partial RRset, RFC 2181 §5.1 and §9). If it was answer or
// authority data the response is truncated (TC set, and every later RRset is refused, so the
// client retries over TCP); a missing additional RRset does not set TC (§9: the client can ask
// for it). With `opt` set, finish() writes the OPT record from space reserved at the start, so a
// truncated response still carries EDNS.
//
// Names are written as given (so the question echoes the client's case) and compressed against
// every name written before them, matching case-insensitively (RFC 1035 §2.3.3). Pointers only
// go backwards, to offsets below 0x4000.
// Single-threaded use; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "agent/dns/message.h"

namespace dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNs = 2;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeSrv = 33;
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kClassIn = 1;

inline constexpr uint16_t kFlagQr = 0x8000;
inline constexpr uint16_t kFlagAa = 0x0400;
inline constexpr uint16_t kFlagTc = 0x0200;
inline constexpr uint16_t kFlagRd = 0x0100;
inline constexpr uint16_t kFlagRa = 0x0080;

inline constexpr size_t kOptBytes = 11;             // root name, type, class, TTL, RDLENGTH 0
inline constexpr size_t kCompressionEntries = 64;   // names remembered for compression

enum class Section : uint8_t { kAnswer, kAuthority, kAdditional };

struct SoaData {
  Name mname;
  Name rname;
  uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
};

struct OptData {
  uint16_t udp_size = 0;  // what this server accepts (RFC 6891 §6.2.5)
  uint8_t extended_rcode = 0;
  bool dnssec_ok = false;
};

class MessageWriter {
 public:
  // `limit` is clamped to buf.size() and to 65535; with `opt`, kOptBytes of it are kept for the
  // OPT record. A limit too small for a header (and OPT) makes every call fail.
  MessageWriter(std::span<uint8_t> buf, size_t limit, const OptData* opt = nullptr);

  // The header: ID and flags (QR, opcode, AA, RD, RA, RCODE as the caller sets them; TC is the
  // writer's). Must come first. False if the limit is below the header.
  bool header(uint16_t id, uint16_t flags);
  // The one question, echoed as the client sent it. False if it does not fit (the caller then
  // answers without it, or drops).
  bool question(const Name& name, uint16_t type, uint16_t klass);

  // One RRset. Records added between begin and end are kept only if all of them fit.
  void begin_rrset(Section section);
  void add_a(const Name& owner, uint32_t ttl, const uint8_t (&addr)[4]);
  void add_aaaa(const Name& owner, uint32_t ttl, const uint8_t (&addr)[16]);
  void add_name_rr(const Name& owner, uint16_t type, uint32_t ttl, const Name& target);  // NS, CNAME, PTR
  void add_srv(const Name& owner, uint32_t ttl, uint16_t priority, uint16_t weight, uint16_t port, const Name& target);
  void add_soa(const Name& owner, uint32_t ttl, const SoaData& soa);
  // TXT: each string at most 255 bytes (a longer one fails the RRset).
  void add_txt(const Name& owner, uint32_t ttl, std::span<const std::string_view> strings);
  // True if the RRset was kept; false if it was removed (and, for answer or authority, the
  // response is now truncated).
  bool end_rrset();

  // Writes the counts, TC and the OPT record; returns the message's size. Nothing may be added
  // after it.
  size_t finish();

  bool truncated() const { return truncated_; }
  size_t size() const { return pos_; }

 private:
  bool put8(uint8_t v);
  bool put16(uint16_t v);
  bool put32(uint32_t v);
  bool put_bytes(const uint8_t* p, size_t n);
  bool put_name(const Name& name);
  // Writes owner, type, class, TTL and reserves RDLENGTH; returns the RDLENGTH offset or 0.
  size_t begin_rr(const Name& owner, uint16_t type, uint32_t ttl);
  void end_rr(size_t rdlength_at);
  // Offset of an earlier name equal (case-insensitively) to the suffix of `name` starting at
  // byte `from`, or 0 if none.
  uint16_t find_suffix(const Name& name, size_t from) const;

  std::span<uint8_t> buf_;
  size_t limit_ = 0;
  size_t pos_ = 0;
  bool has_opt_ = false;
  OptData opt_;
  bool header_done_ = false;
  bool finished_ = false;
  bool truncated_ = false;
  uint16_t flags_ = 0;
  uint16_t counts_[4] = {};  // question, answer, authority, additional

  // The RRset being built: where it started, what to restore if it does not fit.
  bool in_rrset_ = false;
  bool rrset_failed_ = false;
  Section section_ = Section::kAnswer;
  size_t rrset_pos_ = 0;
  uint16_t rrset_records_ = 0;
  size_t rrset_entries_ = 0;

  uint16_t entries_[kCompressionEntries] = {};  // offsets of names (and their suffixes) written
  size_t entry_count_ = 0;
};

}  // namespace dns
