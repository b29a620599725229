#include "hal/sim/trace.h"

#include <cinttypes>

#include "agent/base/assert.h"

namespace sim {

std::string_view trace_kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::kAddNode: return "add_node";
    case TraceKind::kNodeRun: return "run";
    case TraceKind::kSend: return "send";
    case TraceKind::kDeliver: return "deliver";
    case TraceKind::kDrop: return "drop";
    case TraceKind::kDuplicate: return "duplicate";
    case TraceKind::kConnect: return "connect";
    case TraceKind::kAccept: return "accept";
    case TraceKind::kEstablished: return "established";
    case TraceKind::kRefused: return "refused";
    case TraceKind::kStreamData: return "stream_data";
    case TraceKind::kStreamRead: return "stream_read";
    case TraceKind::kFin: return "fin";
    case TraceKind::kReset: return "reset";
    case TraceKind::kStall: return "stall";
    case TraceKind::kCrash: return "crash";
    case TraceKind::kRestart: return "restart";
    case TraceKind::kPartition: return "partition";
    case TraceKind::kHeal: return "heal";
    case TraceKind::kLinkFaults: return "link_faults";
    case TraceKind::kClockJump: return "clock_jump";
    case TraceKind::kSignal: return "signal";
    case TraceKind::kDiskFault: return "disk_fault";
    case TraceKind::kNote: return "note";
  }
  return "?";
}

uint64_t fnv1a64(base::ByteSpan data, uint64_t h) {
  for (uint8_t b : data) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string trace_addr(const hal::SockAddr& a) {
  char buf[160];
  switch (a.family) {
    case hal::AddrFamily::kIpv4:
      snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", a.ip[0], a.ip[1], a.ip[2], a.ip[3], a.port);
      return buf;
    case hal::AddrFamily::kIpv6: {
      std::string s = "[";
      for (int i = 0; i < 16; i += 2) {
        if (i) s += ':';
        snprintf(buf, sizeof buf, "%x", (a.ip[i] << 8) | a.ip[i + 1]);
        s += buf;
      }
      snprintf(buf, sizeof buf, "]:%u", a.port);
      return s + buf;
    }
    case hal::AddrFamily::kUnix:
      return "unix:" + a.path;
    case hal::AddrFamily::kNone:
      return "none";
  }
  return "?";
}

void Trace::mix(const void* data, size_t n) {
  hash_ = fnv1a64(base::ByteSpan(static_cast<const uint8_t*>(data), n), hash_);
}

void Trace::mix_u64(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  mix(b, 8);
}

void Trace::begin(base::MonoTime time, TraceKind kind) {
  AGENT_ASSERT(!open_);
  open_ = true;
  ++entries_;
  mix_u8(0xE0);
  mix_u8(static_cast<uint8_t>(kind));
  mix_u64(static_cast<uint64_t>(time.ns()));
  if (text_enabled()) {
    char buf[64];
    const int64_t ns = time.ns();
    snprintf(buf, sizeof buf, "%" PRId64 ".%09" PRId64 " ", ns / 1000000000, ns % 1000000000);
    line_ = buf;
    line_ += trace_kind_name(kind);
  }
}

void Trace::u64(std::string_view name, uint64_t v) {
  AGENT_ASSERT(open_);
  mix_u8(0x01);
  mix_u64(v);
  if (text_enabled()) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    line_ += ' ';
    line_ += name;
    line_ += '=';
    line_ += buf;
  }
}

void Trace::node(uint32_t id) {
  AGENT_ASSERT(open_);
  mix_u8(0x02);
  mix_u64(id);
  if (text_enabled()) {
    char buf[32];
    snprintf(buf, sizeof buf, " n%u", id);
    line_ += buf;
  }
}

void Trace::addr(std::string_view name, const hal::SockAddr& a) {
  AGENT_ASSERT(open_);
  mix_u8(0x03);
  mix_u8(static_cast<uint8_t>(a.family));
  mix(a.ip.data(), a.ip.size());
  mix_u64(a.port);
  mix_u64(a.path.size());
  mix(a.path.data(), a.path.size());
  if (text_enabled()) {
    line_ += ' ';
    line_ += name;
    line_ += '=';
    line_ += trace_addr(a);
  }
}

void Trace::str(std::string_view name, std::string_view s) {
  AGENT_ASSERT(open_);
  mix_u8(0x04);
  mix_u64(s.size());
  mix(s.data(), s.size());
  if (text_enabled()) {
    line_ += ' ';
    line_ += name;
    line_ += '=';
    line_ += s;
  }
}

void Trace::payload(base::ByteSpan data) {
  AGENT_ASSERT(open_);
  mix_u8(0x05);
  mix_u64(data.size());
  const uint64_t h = fnv1a64(data);
  mix_u64(h);
  if (text_enabled()) {
    char buf[64];
    snprintf(buf, sizeof buf, " len=%zu fnv=%016" PRIx64, data.size(), h);
    line_ += buf;
  }
}

void Trace::end() {
  AGENT_ASSERT(open_);
  open_ = false;
  mix_u8(0xEE);
  if (!text_enabled()) return;
  if (lines_.size() >= lines_max_) {
    lines_.pop_front();
    ++lines_discarded_;
  }
  lines_.push_back(std::move(line_));
  line_.clear();
}

std::string Trace::text() const {
  std::string out;
  for (const auto& l : lines_) {
    out += l;
    out += '\n';
  }
  return out;
}

void Trace::dump(FILE* out, size_t count_max) const {
  size_t skip = lines_.size() > count_max ? lines_.size() - count_max : 0;
  if (lines_discarded_ + skip > 0) {
    fprintf(out, "... %" PRIu64 " earlier trace lines not shown\n", lines_discarded_ + skip);
  }
  for (size_t i = skip; i < lines_.size(); ++i) fprintf(out, "%s\n", lines_[i].c_str());
}

}  // namespace sim
