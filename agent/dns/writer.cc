// See writer.h. Layout: byte puts, names and compression, records, RRsets, finish.
#include "agent/dns/writer.h"

#include <algorithm>
#include <cstring>

namespace dns {

MessageWriter::MessageWriter(std::span<uint8_t> buf, size_t limit, const OptData* opt)
    : buf_(buf), limit_(std::min({limit, buf.size(), size_t{65535}})) {
  if (opt != nullptr) {
    has_opt_ = true;
    opt_ = *opt;
  }
  // Keep the OPT record's bytes out of reach of everything before finish().
  if (has_opt_) limit_ = limit_ >= kOptBytes ? limit_ - kOptBytes : 0;
}

// --- bytes ---------------------------------------------------------------------------------------

bool MessageWriter::put8(uint8_t v) {
  if (pos_ + 1 > limit_) return false;
  buf_[pos_++] = v;
  return true;
}

bool MessageWriter::put16(uint16_t v) {
  if (pos_ + 2 > limit_) return false;
  buf_[pos_++] = static_cast<uint8_t>(v >> 8);
  buf_[pos_++] = static_cast<uint8_t>(v);
  return true;
}

bool MessageWriter::put32(uint32_t v) { return put16(static_cast<uint16_t>(v >> 16)) && put16(static_cast<uint16_t>(v)); }

bool MessageWriter::put_bytes(const uint8_t* p, size_t n) {
  if (pos_ + n > limit_) return false;
  if (n > 0) std::memcpy(buf_.data() + pos_, p, n);
  pos_ += n;
  return true;
}

// --- names ---------------------------------------------------------------------------------------

uint16_t MessageWriter::find_suffix(const Name& name, size_t from) const {
  Name suffix;
  suffix.size = static_cast<uint8_t>(name.size - from);
  std::memcpy(suffix.bytes, name.bytes + from, suffix.size);
  const std::span<const uint8_t> written(buf_.data(), pos_);
  for (size_t i = 0; i < entry_count_; ++i) {
    Name there;
    size_t next = 0;
    // Everything written is well-formed with backward pointers, so this cannot fail; a failure
    // would only mean no match.
    if (read_name(written, entries_[i], &there, &next) != DecodeError::kNone) continue;
    if (name_equal(there, suffix)) return entries_[i];
  }
  return 0;
}

bool MessageWriter::put_name(const Name& name) {
  if (name.size == 0 || name.size > kNameBytesMax) return false;
  size_t at = 0;
  while (at < name.size) {
    const uint8_t len = name.bytes[at];
    if (len == 0) return put8(0);
    if (len > kLabelBytesMax || at + 1 + len >= name.size) return false;  // not wire form
    const uint16_t ptr = find_suffix(name, at);
    if (ptr != 0) return put16(static_cast<uint16_t>(0xC000 | ptr));
    if (pos_ < 0x4000 && entry_count_ < kCompressionEntries) entries_[entry_count_++] = static_cast<uint16_t>(pos_);
    if (!put_bytes(name.bytes + at, 1u + len)) return false;
    at += 1u + len;
  }
  return false;  // no root byte
}

// --- header and question -------------------------------------------------------------------------

bool MessageWriter::header(uint16_t id, uint16_t flags) {
  if (header_done_ || limit_ < kHeaderBytes) return false;
  header_done_ = true;
  flags_ = static_cast<uint16_t>(flags & ~kFlagTc);
  put16(id);
  put16(flags_);
  for (int i = 0; i < 4; ++i) put16(0);  // counts, written by finish()
  return true;
}

bool MessageWriter::question(const Name& name, uint16_t type, uint16_t klass) {
  if (!header_done_ || finished_ || counts_[0] != 0 || counts_[1] + counts_[2] + counts_[3] != 0) return false;
  const size_t pos = pos_;
  const size_t entries = entry_count_;
  if (put_name(name) && put16(type) && put16(klass)) {
    counts_[0] = 1;
    return true;
  }
  pos_ = pos;
  entry_count_ = entries;
  return false;
}

// --- records -------------------------------------------------------------------------------------

size_t MessageWriter::begin_rr(const Name& owner, uint16_t type, uint32_t ttl) {
  if (!in_rrset_ || rrset_failed_) return 0;
  if (put_name(owner) && put16(type) && put16(kClassIn) && put32(ttl)) {
    const size_t at = pos_;
    if (put16(0)) return at;
  }
  rrset_failed_ = true;
  return 0;
}

void MessageWriter::end_rr(size_t rdlength_at) {
  if (rrset_failed_ || rdlength_at == 0) {
    rrset_failed_ = true;
    return;
  }
  const size_t rdlength = pos_ - (rdlength_at + 2);
  buf_[rdlength_at] = static_cast<uint8_t>(rdlength >> 8);
  buf_[rdlength_at + 1] = static_cast<uint8_t>(rdlength);
  ++rrset_records_;
}

void MessageWriter::add_a(const Name& owner, uint32_t ttl, const uint8_t (&addr)[4]) {
  const size_t at = begin_rr(owner, kTypeA, ttl);
  if (at != 0 && !put_bytes(addr, 4)) rrset_failed_ = true;
  end_rr(at);
}

void MessageWriter::add_aaaa(const Name& owner, uint32_t ttl, const uint8_t (&addr)[16]) {
  const size_t at = begin_rr(owner, kTypeAaaa, ttl);
  if (at != 0 && !put_bytes(addr, 16)) rrset_failed_ = true;
  end_rr(at);
}

void MessageWriter::add_name_rr(const Name& owner, uint16_t type, uint32_t ttl, const Name& target) {
  // Only the RFC 1035 types may have their RDATA names compressed (RFC 3597 §4).
  if (type != kTypeNs && type != kTypeCname && type != kTypePtr) {
    rrset_failed_ = true;
    return;
  }
  const size_t at = begin_rr(owner, type, ttl);
  if (at != 0 && !put_name(target)) rrset_failed_ = true;
  end_rr(at);
}

void MessageWriter::add_srv(const Name& owner, uint32_t ttl, uint16_t priority, uint16_t weight, uint16_t port,
                            const Name& target) {
  const size_t at = begin_rr(owner, kTypeSrv, ttl);
  if (at != 0) {
    // RFC 2782: the target is not compressed. It is still remembered, so later names (the A
    // records for it in additional) can point at it.
    bool ok = put16(priority) && put16(weight) && put16(port);
    size_t i = 0;
    while (ok && i < target.size) {
      const uint8_t len = target.bytes[i];
      if (len > kLabelBytesMax || i + 1u + len > target.size) {
        ok = false;
        break;
      }
      if (len != 0 && pos_ < 0x4000 && entry_count_ < kCompressionEntries) entries_[entry_count_++] = static_cast<uint16_t>(pos_);
      ok = put_bytes(target.bytes + i, 1u + len);
      i += 1u + len;
      if (len == 0) break;
    }
    if (!ok || target.size == 0 || i != target.size || target.bytes[target.size - 1] != 0) rrset_failed_ = true;
  }
  end_rr(at);
}

void MessageWriter::add_soa(const Name& owner, uint32_t ttl, const SoaData& soa) {
  const size_t at = begin_rr(owner, kTypeSoa, ttl);
  if (at != 0 && !(put_name(soa.mname) && put_name(soa.rname) && put32(soa.serial) && put32(soa.refresh) &&
                   put32(soa.retry) && put32(soa.expire) && put32(soa.minimum))) {
    rrset_failed_ = true;
  }
  end_rr(at);
}

void MessageWriter::add_txt(const Name& owner, uint32_t ttl, std::span<const std::string_view> strings) {
  const size_t at = begin_rr(owner, kTypeTxt, ttl);
  if (at != 0) {
    bool ok = !strings.empty();  // RFC 1035 §3.3.14: one or more strings
    for (std::string_view s : strings) {
      ok = ok && s.size() <= 255 && put8(static_cast<uint8_t>(s.size())) &&
           put_bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    }
    if (!ok) rrset_failed_ = true;
  }
  end_rr(at);
}

// --- RRsets --------------------------------------------------------------------------------------

void MessageWriter::begin_rrset(Section section) {
  in_rrset_ = true;
  rrset_pos_ = pos_;
  rrset_entries_ = entry_count_;
  rrset_records_ = 0;
  // Sections go in order; nothing before the header, after finish() or after truncation.
  const bool later_section_used =
      (section == Section::kAnswer && (counts_[2] != 0 || counts_[3] != 0)) || (section == Section::kAuthority && counts_[3] != 0);
  rrset_failed_ = !header_done_ || finished_ || truncated_ || later_section_used;
  section_ = section;
}

bool MessageWriter::end_rrset() {
  if (!in_rrset_) return false;
  in_rrset_ = false;
  if (rrset_failed_ || rrset_records_ == 0) {
    const bool had_data = rrset_failed_;
    pos_ = rrset_pos_;
    entry_count_ = rrset_entries_;
    if (had_data && header_done_ && !finished_ && section_ != Section::kAdditional) truncated_ = true;
    return false;
  }
  counts_[1 + static_cast<size_t>(section_)] = static_cast<uint16_t>(counts_[1 + static_cast<size_t>(section_)] + rrset_records_);
  return true;
}

size_t MessageWriter::finish() {
  if (finished_ || !header_done_) return finished_ ? pos_ : 0;
  if (in_rrset_) end_rrset();
  finished_ = true;
  if (has_opt_) {
    // The space was kept at construction: limit_ excludes it.
    limit_ += kOptBytes;
    put8(0);
    put16(kTypeOpt);
    put16(opt_.udp_size < 512 ? 512 : opt_.udp_size);
    put32((uint32_t{opt_.extended_rcode} << 24) | (opt_.dnssec_ok ? 0x8000u : 0u));  // version 0
    put16(0);
    ++counts_[3];
  }
  const uint16_t flags = truncated_ ? static_cast<uint16_t>(flags_ | kFlagTc) : flags_;
  buf_[2] = static_cast<uint8_t>(flags >> 8);
  buf_[3] = static_cast<uint8_t>(flags);
  for (size_t i = 0; i < 4; ++i) {
    buf_[4 + 2 * i] = static_cast<uint8_t>(counts_[i] >> 8);
    buf_[5 + 2 * i] = static_cast<uint8_t>(counts_[i]);
  }
  return pos_;
}

}  // namespace dns
