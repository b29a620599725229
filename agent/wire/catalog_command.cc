// Catalog command encoding: see catalog_command.h.
#include "agent/wire/catalog_command.h"

#include <set>

#include "agent/base/bytes.h"
#include "agent/wire/state_command.h"

namespace wire {

namespace {

using base::Code;
using base::Status;

Status bad(const char* what) { return base::error(Code::kInvalidArgument, "catalog command: %s", what); }

Status check_text(std::string_view s, size_t max, bool required, const char* what) {
  if (required && s.empty()) return base::error(Code::kInvalidArgument, "catalog command: empty %s", what);
  if (s.size() > max) return base::error(Code::kInvalidArgument, "catalog command: %s of %zu bytes is over %zu", what, s.size(), max);
  if (!valid_utf8(s)) return base::error(Code::kInvalidArgument, "catalog command: %s is not valid UTF-8", what);
  return Status::ok();
}

Status check_meta(const MetaPairs& m) {
  if (m.size() > kCatalogMetaMax) return bad("too many meta keys");
  for (size_t i = 0; i < m.size(); ++i) {
    AGENT_TRY(check_text(m[i].first, kCatalogNameBytesMax, true, "meta key"));
    AGENT_TRY(check_text(m[i].second, kCatalogTextBytesMax, false, "meta value"));
    if (i > 0 && !(m[i - 1].first < m[i].first)) return bad("meta keys not sorted and unique");
  }
  return Status::ok();
}

void put_meta(base::ByteWriter& w, const MetaPairs& m) {
  w.varint(m.size());
  for (const auto& [k, v] : m) {
    w.str(k);
    w.str(v);
  }
}

bool get_meta(base::ByteReader& r, MetaPairs* m) {
  uint64_t n = r.varint();
  if (!r.ok() || n > kCatalogMetaMax) return false;
  m->clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view k = r.str(kCatalogNameBytesMax);
    std::string_view v = r.str(kCatalogTextBytesMax);
    if (!r.ok()) return false;
    m->emplace_back(std::string(k), std::string(v));
  }
  return true;
}

Status header(base::ByteReader& r, uint8_t want) {
  uint8_t version = r.u8();
  uint8_t type = r.u8();
  if (!r.ok()) return bad("truncated header");
  if (version != kStateCommandVersion) return bad("unknown version");
  if (type != want) return bad("wrong type");
  return Status::ok();
}

// A varint may be written in more bytes than it needs; a command has one encoding, so bytes
// that decode but are not what the encoder writes for the result are refused.
Status canonical(const base::Result<std::string>& again, std::string_view bytes) {
  if (!again.is_ok() || *again != bytes) return bad("not in its one encoding (an over-long length?)");
  return Status::ok();
}

}  // namespace

const char* check_health_name(CheckHealth h) {
  switch (h) {
    case CheckHealth::kPassing: return "passing";
    case CheckHealth::kWarning: return "warning";
    case CheckHealth::kCritical: break;
  }
  return "critical";
}

bool parse_check_health(std::string_view text, CheckHealth* out) {
  if (text == "passing") *out = CheckHealth::kPassing;
  else if (text == "warning") *out = CheckHealth::kWarning;
  else if (text == "critical") *out = CheckHealth::kCritical;
  else return false;
  return true;
}

uint8_t catalog_command_type(std::string_view bytes) {
  return bytes.size() < 2 ? 0 : static_cast<uint8_t>(bytes[1]);
}

bool is_catalog_command(std::string_view bytes) {
  const uint8_t t = catalog_command_type(bytes);
  return t >= kCatalogSyncNodeType && t <= kCatalogNodeHealthType;
}

Status check_catalog_node(const CatalogNode& n) {
  AGENT_TRY(check_text(n.node, kCatalogNameBytesMax, true, "node name"));
  AGENT_TRY(check_text(n.id, kCatalogNameBytesMax, false, "node id"));
  AGENT_TRY(check_text(n.address, kCatalogTextBytesMax, false, "node address"));
  AGENT_TRY(check_text(n.datacenter, kCatalogNameBytesMax, false, "datacenter"));
  AGENT_TRY(check_meta(n.meta));
  if (n.services.size() > kCatalogServicesMax) return bad("too many services");
  if (n.checks.size() > kCatalogChecksMax) return bad("too many checks");
  std::set<std::string_view> ids;
  for (const CatalogService& s : n.services) {
    AGENT_TRY(check_text(s.id, kCatalogNameBytesMax, true, "service id"));
    AGENT_TRY(check_text(s.name, kCatalogNameBytesMax, true, "service name"));
    AGENT_TRY(check_text(s.address, kCatalogTextBytesMax, false, "service address"));
    if (s.tags.size() > kCatalogTagsMax) return bad("too many tags");
    for (const std::string& t : s.tags) AGENT_TRY(check_text(t, kCatalogTextBytesMax, true, "tag"));
    AGENT_TRY(check_meta(s.meta));
    if (!ids.insert(s.id).second) return bad("a service id twice");
  }
  std::set<std::string_view> check_ids;
  for (const CatalogCheck& c : n.checks) {
    AGENT_TRY(check_text(c.id, kCatalogNameBytesMax, true, "check id"));
    AGENT_TRY(check_text(c.name, kCatalogTextBytesMax, false, "check name"));
    AGENT_TRY(check_text(c.notes, kCatalogTextBytesMax, false, "check notes"));
    AGENT_TRY(check_text(c.output, kCatalogOutputBytesMax, false, "check output"));
    AGENT_TRY(check_text(c.type, kCatalogNameBytesMax, false, "check type"));
    if (static_cast<uint8_t>(c.status) > 2) return bad("unknown check status");
    if (!c.service_id.empty() && ids.count(c.service_id) == 0) return bad("a check of a service the node does not have");
    if (!check_ids.insert(c.id).second) return bad("a check id twice");
  }
  return Status::ok();
}

base::Result<std::string> encode_catalog_sync(const CatalogNode& n) {
  AGENT_TRY(check_catalog_node(n));
  std::string out;
  base::ByteWriter w(&out, kStateCommandBytesMax);
  w.u8(kStateCommandVersion);
  w.u8(kCatalogSyncNodeType);
  w.str(n.node);
  w.str(n.id);
  w.str(n.address);
  w.str(n.datacenter);
  put_meta(w, n.meta);
  w.varint(n.services.size());
  for (const CatalogService& s : n.services) {
    w.str(s.id);
    w.str(s.name);
    w.varint(s.tags.size());
    for (const std::string& t : s.tags) w.str(t);
    w.str(s.address);
    w.u16(s.port);
    put_meta(w, s.meta);
  }
  w.varint(n.checks.size());
  for (const CatalogCheck& c : n.checks) {
    w.str(c.id);
    w.str(c.name);
    w.u8(static_cast<uint8_t>(c.status));
    w.str(c.notes);
    w.str(c.output);
    w.str(c.service_id);
    w.str(c.type);
  }
  if (!w.ok()) return base::error(Code::kResourceExhausted, "catalog command: over %zu bytes", kStateCommandBytesMax);
  return out;
}

base::Result<CatalogNode> decode_catalog_sync(std::string_view bytes) {
  if (bytes.size() > kStateCommandBytesMax) return base::error(Code::kResourceExhausted, "catalog command: too large");
  base::ByteReader r(bytes);
  AGENT_TRY(header(r, kCatalogSyncNodeType));
  CatalogNode n;
  n.node = r.str(kCatalogNameBytesMax);
  n.id = r.str(kCatalogNameBytesMax);
  n.address = r.str(kCatalogTextBytesMax);
  n.datacenter = r.str(kCatalogNameBytesMax);
  if (!r.ok() || !get_meta(r, &n.meta)) return bad("truncated or oversized node");
  uint64_t ns = r.varint();
  if (!r.ok() || ns > kCatalogServicesMax) return bad("bad service count");
  n.services.resize(ns);
  for (CatalogService& s : n.services) {
    s.id = r.str(kCatalogNameBytesMax);
    s.name = r.str(kCatalogNameBytesMax);
    uint64_t nt = r.varint();
    if (!r.ok() || nt > kCatalogTagsMax) return bad("bad tag count");
    for (uint64_t i = 0; i < nt; ++i) s.tags.emplace_back(r.str(kCatalogTextBytesMax));
    s.address = r.str(kCatalogTextBytesMax);
    s.port = r.u16();
    if (!r.ok() || !get_meta(r, &s.meta)) return bad("truncated or oversized service");
  }
  uint64_t nc = r.varint();
  if (!r.ok() || nc > kCatalogChecksMax) return bad("bad check count");
  n.checks.resize(nc);
  for (CatalogCheck& c : n.checks) {
    c.id = r.str(kCatalogNameBytesMax);
    c.name = r.str(kCatalogTextBytesMax);
    c.status = static_cast<CheckHealth>(r.u8());
    c.notes = r.str(kCatalogTextBytesMax);
    c.output = r.str(kCatalogOutputBytesMax);
    c.service_id = r.str(kCatalogNameBytesMax);
    c.type = r.str(kCatalogNameBytesMax);
    if (!r.ok()) return bad("truncated or oversized check");
  }
  if (!r.at_end()) return bad("trailing bytes");
  AGENT_TRY(check_catalog_node(n));
  AGENT_TRY(canonical(encode_catalog_sync(n), bytes));
  return n;
}

base::Result<std::string> encode_catalog_deregister(std::string_view node) {
  AGENT_TRY(check_text(node, kCatalogNameBytesMax, true, "node name"));
  std::string out;
  base::ByteWriter w(&out, kStateCommandBytesMax);
  w.u8(kStateCommandVersion);
  w.u8(kCatalogDeregisterNodeType);
  w.str(node);
  return out;
}

base::Result<std::string> decode_catalog_deregister(std::string_view bytes) {
  base::ByteReader r(bytes);
  AGENT_TRY(header(r, kCatalogDeregisterNodeType));
  std::string node(r.str(kCatalogNameBytesMax));
  if (!r.at_end()) return bad("truncated or trailing bytes");
  AGENT_TRY(check_text(node, kCatalogNameBytesMax, true, "node name"));
  AGENT_TRY(canonical(encode_catalog_deregister(node), bytes));
  return node;
}

base::Result<std::string> encode_catalog_node_health(const CatalogNodeHealth& h) {
  AGENT_TRY(check_text(h.node, kCatalogNameBytesMax, true, "node name"));
  AGENT_TRY(check_text(h.output, kCatalogOutputBytesMax, false, "check output"));
  if (static_cast<uint8_t>(h.status) > 2) return bad("unknown check status");
  std::string out;
  base::ByteWriter w(&out, kStateCommandBytesMax);
  w.u8(kStateCommandVersion);
  w.u8(kCatalogNodeHealthType);
  w.str(h.node);
  w.u8(static_cast<uint8_t>(h.status));
  w.str(h.output);
  return out;
}

base::Result<CatalogNodeHealth> decode_catalog_node_health(std::string_view bytes) {
  base::ByteReader r(bytes);
  AGENT_TRY(header(r, kCatalogNodeHealthType));
  CatalogNodeHealth h;
  h.node = r.str(kCatalogNameBytesMax);
  h.status = static_cast<CheckHealth>(r.u8());
  h.output = r.str(kCatalogOutputBytesMax);
  if (!r.at_end()) return bad("truncated or trailing bytes");
  AGENT_TRY(check_text(h.node, kCatalogNameBytesMax, true, "node name"));
  AGENT_TRY(check_text(h.output, kCatalogOutputBytesMax, false, "check output"));
  if (static_cast<uint8_t>(h.status) > 2) return bad("unknown check status");
  AGENT_TRY(canonical(encode_catalog_node_health(h), bytes));
  return h;
}

std::string encode_string_list(const std::vector<std::string>& v) {
  std::string out;
  base::ByteWriter w(&out, SIZE_MAX);
  w.varint(v.size());
  for (const std::string& s : v) w.str(s);
  return out;
}

bool decode_string_list(std::string_view bytes, std::vector<std::string>* out) {
  base::ByteReader r(bytes);
  uint64_t n = r.varint();
  if (!r.ok() || n > bytes.size()) return false;
  out->clear();
  for (uint64_t i = 0; i < n; ++i) out->emplace_back(r.str(bytes.size()));
  return r.at_end();
}

std::string encode_meta(const MetaPairs& m) {
  std::string out;
  base::ByteWriter w(&out, SIZE_MAX);
  put_meta(w, m);
  return out;
}

bool decode_meta(std::string_view bytes, MetaPairs* out) {
  base::ByteReader r(bytes);
  return get_meta(r, out) && r.at_end();
}

}  // namespace wire
