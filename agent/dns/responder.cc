// See responder.h. Layout: names and labels, the lookups (service, node, reverse), respond().
#include "agent/dns/responder.h"

#include <algorithm>
#include <cstring>

namespace dns {
namespace {

constexpr uint16_t kTypeAny = 255;
constexpr uint16_t kClassAny = 255;
constexpr size_t kLabelsMax = 128;       // a 255-byte name has at most 127 labels
constexpr size_t kCandidatesMax = 256;   // instances sampled for one answer

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The labels of a wire-form name, left to right, as views into it.
size_t split(const Name& n, std::string_view (&out)[kLabelsMax]) {
  size_t count = 0;
  for (size_t i = 0; i < n.size && n.bytes[i] != 0 && count < kLabelsMax; i += 1u + n.bytes[i]) {
    out[count++] = std::string_view(reinterpret_cast<const char*>(n.bytes + i + 1), n.bytes[i]);
  }
  return count;
}

// labels + suffix as one wire-form name; false if a label is empty or over 63, or the whole
// over 255 bytes.
bool build(std::span<const std::string_view> labels, const Name& suffix, Name* out) {
  size_t size = 0;
  for (std::string_view l : labels) {
    if (l.empty() || l.size() > kLabelBytesMax || size + 1 + l.size() + suffix.size > kNameBytesMax) return false;
    out->bytes[size++] = static_cast<uint8_t>(l.size());
    std::memcpy(out->bytes + size, l.data(), l.size());
    size += l.size();
  }
  if (size + suffix.size > kNameBytesMax) return false;
  std::memcpy(out->bytes + size, suffix.bytes, suffix.size);
  out->size = static_cast<uint8_t>(size + suffix.size);
  return true;
}

uint64_t next_random(uint64_t* state) {  // splitmix64
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool same_address(const Address& a, const Address& b) {
  return a.v6 == b.v6 && std::memcmp(a.bytes, b.bytes, a.v6 ? 16 : 4) == 0;
}

// "d.c.b.a.in-addr.arpa" or the 32 nibbles of "ip6.arpa" (labels lower-cased by the caller's
// ieq use), as an address. False for anything else, partial names included.
bool reverse_address(std::span<const std::string_view> l, Address* out) {
  if (l.size() == 6 && ieq(l[4], "in-addr") && ieq(l[5], "arpa")) {
    for (size_t i = 0; i < 4; ++i) {
      std::string_view d = l[3 - i];
      if (d.empty() || d.size() > 3 || (d.size() > 1 && d[0] == '0')) return false;
      unsigned v = 0;
      for (char c : d) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
      }
      if (v > 255) return false;
      out->bytes[i] = static_cast<uint8_t>(v);
    }
    out->v6 = false;
    return true;
  }
  if (l.size() == 34 && ieq(l[32], "ip6") && ieq(l[33], "arpa")) {
    for (size_t i = 0; i < 32; ++i) {
      std::string_view d = l[31 - i];
      if (d.size() != 1) return false;
      char c = d[0];
      unsigned v;
      if (c >= '0' && c <= '9') {
        v = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v = static_cast<unsigned>(c - 'A' + 10);
      } else {
        return false;
      }
      if (i % 2 == 0) {
        out->bytes[i / 2] = static_cast<uint8_t>(v << 4);
      } else {
        out->bytes[i / 2] = static_cast<uint8_t>(out->bytes[i / 2] | v);
      }
    }
    out->v6 = true;
    return true;
  }
  return false;
}

bool has_tag(const Instance& in, std::string_view tag) {
  return std::any_of(in.tags.begin(), in.tags.end(), [&](std::string_view t) { return ieq(t, tag); });
}

// What one query resolved to, before it is written.
struct Plan {
  uint8_t rcode = kRcodeNoError;
  enum class Kind : uint8_t { kNone, kApex, kService, kNode, kPtr, kAddr } kind = Kind::kNone;
  // kService: the chosen instances (indices into view.instances), shuffled.
  uint16_t chosen[kCandidatesMax] = {};
  size_t chosen_count = 0;
  bool srv = false;
  // kNode / kPtr: the node.
  const NodeEntry* node = nullptr;
  std::string_view ptr_node;
  // kAddr: the address a <hex>.addr name spells.
  Address addr;
};

// "0a010203" -> 10.1.2.3, 32 hex digits -> an IPv6 address (either case); false otherwise.
bool hex_address(std::string_view label, Address* out) {
  if (label.size() != 8 && label.size() != 32) return false;
  *out = Address{};
  out->v6 = label.size() == 32;
  for (size_t i = 0; i < label.size(); ++i) {
    const char c = label[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0) return false;
    out->bytes[i / 2] = static_cast<uint8_t>(out->bytes[i / 2] | (i % 2 == 0 ? v << 4 : v));
  }
  return true;
}

// An instance's SRV target: its node's name when it has its node's address, else the
// <hex>.addr name of its own.
bool srv_target(const Instance& in, const View& view, const Name& node_suffix, const Name& addr_suffix, Name* out) {
  for (const NodeEntry& n : view.nodes) {
    if (ieq(n.name, in.node) && same_address(n.address, in.address)) {
      const std::string_view node[] = {in.node};
      return build(node, node_suffix, out);
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  char hex[32];
  const size_t bytes = in.address.v6 ? 16 : 4;
  for (size_t i = 0; i < bytes; ++i) {
    hex[2 * i] = kHex[in.address.bytes[i] >> 4];
    hex[2 * i + 1] = kHex[in.address.bytes[i] & 0xF];
  }
  const std::string_view label[] = {std::string_view(hex, 2 * bytes)};
  return build(label, addr_suffix, out);
}

bool wants_address(uint16_t qtype, const Address& a) {
  return qtype == kTypeAny || (qtype == kTypeA && !a.v6) || (qtype == kTypeAaaa && a.v6);
}

void write_soa(MessageWriter& w, Section s, const ResponderConfig& c) {
  static constexpr std::string_view kNs[] = {"ns"};
  static constexpr std::string_view kHostmaster[] = {"hostmaster"};
  SoaData soa;
  if (!build(kNs, c.domain, &soa.mname) || !build(kHostmaster, c.domain, &soa.rname)) return;
  soa.serial = 1;
  soa.refresh = 3600;
  soa.retry = 600;
  soa.expire = 86400;
  soa.minimum = c.soa_minimum_ttl;
  w.begin_rrset(s);
  w.add_soa(c.domain, c.soa_minimum_ttl, soa);
  (void)w.end_rrset();
}

void add_address(MessageWriter& w, const Name& owner, uint32_t ttl, const Address& a) {
  if (a.v6) {
    w.add_aaaa(owner, ttl, a.bytes);
  } else {
    const uint8_t v4[4] = {a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]};
    w.add_a(owner, ttl, v4);
  }
}

}  // namespace

size_t error_response(const Header& header, uint8_t rcode, std::span<uint8_t> out) {
  MessageWriter w(out, 512);
  const uint16_t flags = static_cast<uint16_t>(kFlagQr | (header.flags & (0x7800 | kFlagRd)) | (rcode & 0xF));
  if (!w.header(header.id, flags)) return 0;
  return w.finish();
}

Result respond(const Query& q, const View& view, const ResponderConfig& config, uint64_t seed, bool over_tcp,
               std::span<uint8_t> out) {
  Result result;
  const size_t limit = over_tcp ? 65535 : (q.has_edns ? std::min<size_t>(q.edns_udp_size, config.udp_answer_max) : 512);
  const OptData opt{.udp_size = config.udp_answer_max,
                    .extended_rcode = static_cast<uint8_t>(q.has_edns && q.edns_version > 0 ? 1 : 0),  // BADVERS
                    .dnssec_ok = false};
  MessageWriter w(out, std::max<size_t>(limit, 512), q.has_edns ? &opt : nullptr);

  Plan plan;
  std::string_view labels[kLabelsMax];
  const size_t count = split(q.qname, labels);
  std::string_view domain_labels[kLabelsMax];
  const size_t domain_count = split(config.domain, domain_labels);
  bool ours = false;
  bool authoritative = false;
  if (q.header.opcode() != 0) {
    plan.rcode = kRcodeNotImp;
  } else if (q.has_edns && q.edns_version > 0) {
    plan.rcode = kRcodeNoError;  // BADVERS is the OPT record's extended RCODE (16 = 1 << 4 | 0)
  } else if (q.qclass != kClassIn && q.qclass != kClassAny) {
    plan.rcode = kRcodeRefused;
  } else {
    // Under the domain?
    if (count >= domain_count) {
      ours = true;
      for (size_t i = 0; i < domain_count; ++i) ours = ours && ieq(labels[count - domain_count + i], domain_labels[i]);
    }
    Address reverse;
    if (!ours && reverse_address(std::span(labels, count), &reverse)) {
      for (const NodeEntry& n : view.nodes) {
        if (same_address(n.address, reverse)) {
          plan.kind = Plan::Kind::kPtr;
          plan.ptr_node = n.name;
          break;
        }
      }
      if (plan.kind == Plan::Kind::kNone) {
        for (const Instance& in : view.instances) {
          if (in.health != Health::kCritical && same_address(in.address, reverse)) {
            plan.kind = Plan::Kind::kPtr;
            plan.ptr_node = in.node;
            break;
          }
        }
      }
      authoritative = plan.kind == Plan::Kind::kPtr;
      if (!authoritative) return Result{Outcome::kForward, 0};
    } else if (!ours) {
      return Result{Outcome::kForward, 0};
    }
    if (ours) {
      authoritative = true;
      size_t rest = count - domain_count;  // labels before the domain
      if (rest > 0 && !config.datacenter.empty() && ieq(labels[rest - 1], config.datacenter)) --rest;
      plan.rcode = kRcodeNxDomain;
      if (rest == 0) {
        plan.kind = Plan::Kind::kApex;
        plan.rcode = kRcodeNoError;
      } else if (ieq(labels[rest - 1], "service") && (rest == 2 || rest == 3)) {
        std::string_view svc = labels[0];
        std::string_view tag;
        if (rest == 3 && labels[0].size() > 1 && labels[1].size() > 1 && labels[0][0] == '_' && labels[1][0] == '_') {
          svc = labels[0].substr(1);  // RFC 2782
          tag = labels[1].substr(1);
          if (ieq(tag, "tcp") || ieq(tag, "udp")) tag = {};
          plan.srv = true;
        } else if (rest == 3) {
          tag = labels[0];
          svc = labels[1];
        }
        if (q.qtype == kTypeSrv) plan.srv = true;
        // Sample the matching instances that are not critical, uniformly, into `chosen`.
        uint64_t state = seed;
        size_t seen = 0;
        bool exists = false;
        for (size_t i = 0; i < view.instances.size() && i <= 0xFFFF; ++i) {
          const Instance& in = view.instances[i];
          if (in.health == Health::kCritical || !ieq(in.service, svc) || (!tag.empty() && !has_tag(in, tag))) continue;
          exists = true;
          if (!plan.srv && !wants_address(q.qtype, in.address)) continue;
          if (plan.srv && q.qtype != kTypeSrv && q.qtype != kTypeAny) continue;
          if (seen < kCandidatesMax) {
            plan.chosen[seen] = static_cast<uint16_t>(i);
          } else {
            const uint64_t j = next_random(&state) % (seen + 1);
            if (j < kCandidatesMax) plan.chosen[j] = static_cast<uint16_t>(i);
          }
          ++seen;
        }
        plan.chosen_count = std::min(seen, kCandidatesMax);
        for (size_t i = plan.chosen_count; i > 1; --i) {  // Fisher-Yates
          const size_t j = static_cast<size_t>(next_random(&state) % i);
          std::swap(plan.chosen[i - 1], plan.chosen[j]);
        }
        if (exists) {
          plan.kind = Plan::Kind::kService;
          plan.rcode = kRcodeNoError;
        }
      } else if (ieq(labels[rest - 1], "addr") && rest == 2 && hex_address(labels[0], &plan.addr)) {
        plan.kind = Plan::Kind::kAddr;
        plan.rcode = kRcodeNoError;
      } else if (ieq(labels[rest - 1], "node") && rest == 2) {
        for (const NodeEntry& n : view.nodes) {
          if (ieq(n.name, labels[0])) {
            plan.kind = Plan::Kind::kNode;
            plan.node = &n;
            plan.rcode = kRcodeNoError;
            break;
          }
        }
      }
    }
  }

  const uint16_t flags = static_cast<uint16_t>(kFlagQr | (q.header.flags & (0x7800 | kFlagRd)) | (authoritative ? kFlagAa : 0) |
                                               (config.recursion_available ? kFlagRa : 0) | plan.rcode);
  if (!w.header(q.header.id, flags)) return Result{Outcome::kAnswered, 0};
  (void)w.question(q.qname, q.qtype, q.qclass);
  bool answered = false;
  static constexpr std::string_view kNodeLabel[] = {"node"};
  Name node_suffix;
  static constexpr std::string_view kAddrLabel[] = {"addr"};
  Name addr_suffix;
  const bool have_suffix = build(kNodeLabel, config.domain, &node_suffix) && build(kAddrLabel, config.domain, &addr_suffix);
  switch (plan.kind) {
    case Plan::Kind::kNone:
      break;
    case Plan::Kind::kApex:
      if (q.qtype == kTypeSoa || q.qtype == kTypeAny) {
        write_soa(w, Section::kAnswer, config);
        answered = true;
      }
      if (q.qtype == kTypeNs || q.qtype == kTypeAny) {
        static constexpr std::string_view kNs[] = {"ns"};
        Name ns;
        if (build(kNs, config.domain, &ns)) {
          w.begin_rrset(Section::kAnswer);
          w.add_name_rr(q.qname, kTypeNs, config.node_ttl, ns);
          answered = w.end_rrset() || answered;
        }
      }
      break;
    case Plan::Kind::kAddr:
      if (wants_address(q.qtype, plan.addr)) {
        w.begin_rrset(Section::kAnswer);
        add_address(w, q.qname, config.service_ttl, plan.addr);
        answered = w.end_rrset();
      }
      break;
    case Plan::Kind::kNode:
      if (wants_address(q.qtype, plan.node->address)) {
        w.begin_rrset(Section::kAnswer);
        add_address(w, q.qname, config.node_ttl, plan.node->address);
        answered = w.end_rrset();
      }
      break;
    case Plan::Kind::kPtr: {
      const std::string_view node[] = {plan.ptr_node};
      Name target;
      if ((q.qtype == kTypePtr || q.qtype == kTypeAny) && have_suffix && build(node, node_suffix, &target)) {
        w.begin_rrset(Section::kAnswer);
        w.add_name_rr(q.qname, kTypePtr, config.node_ttl, target);
        answered = w.end_rrset();
      }
      break;
    }
    case Plan::Kind::kService: {
      const size_t n = std::min(plan.chosen_count, config.answers_max);
      if (n == 0) break;
      w.begin_rrset(Section::kAnswer);
      for (size_t i = 0; i < n; ++i) {
        const Instance& in = view.instances[plan.chosen[i]];
        if (plan.srv) {
          Name target;
          if (!have_suffix || !srv_target(in, view, node_suffix, addr_suffix, &target)) continue;  // a node name that is no label
          w.add_srv(q.qname, config.service_ttl, 1, 1, in.port, target);
        } else {
          add_address(w, q.qname, config.service_ttl, in.address);
        }
      }
      answered = w.end_rrset();
      if (answered && plan.srv) {
        // Each target's address, once, as its own RRset: one that does not fit is left out
        // without TC (RFC 2181 §9).
        // (A target name stands for one address, so instances with the same target repeat it.)
        for (size_t i = 0; i < n; ++i) {
          const Instance& in = view.instances[plan.chosen[i]];
          Name target;
          if (!have_suffix || !srv_target(in, view, node_suffix, addr_suffix, &target)) continue;
          bool repeat = false;
          for (size_t k = 0; k < i && !repeat; ++k) {
            Name before;
            repeat = srv_target(view.instances[plan.chosen[k]], view, node_suffix, addr_suffix, &before) &&
                     name_equal(before, target);
          }
          if (repeat) continue;
          w.begin_rrset(Section::kAdditional);
          add_address(w, target, config.service_ttl, in.address);
          (void)w.end_rrset();
        }
      }
      break;
    }
  }
  if (!answered && authoritative && plan.rcode != kRcodeRefused && plan.rcode != kRcodeNotImp && !w.truncated()) {
    write_soa(w, Section::kAuthority, config);  // NXDOMAIN or NODATA (RFC 2308 §3)
  }
  result.size = w.finish();
  return result;
}

}  // namespace dns
