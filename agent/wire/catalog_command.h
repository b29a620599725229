// Catalog commands in Raft entries (issue 5 items 3 and 4): how a node's services and checks reach
// the foundations' catalog. They share the state command header (state_command.h: u8 version, u8
// type) and follow it with:
//   kCatalogSyncNode     bytes node, bytes id, bytes address, bytes datacenter,
//                        varint n, n x {bytes key, bytes value}                     (node meta)
//                        varint n, n x service {bytes id, bytes name, varint n, n x bytes tag,
//                                               bytes address, u16 port,
//                                               varint n, n x {bytes key, bytes value}}
//                        varint n, n x check {bytes id, bytes name, u8 status, bytes notes,
//                                             bytes output, bytes service_id, bytes type}
//                        -- the node's whole state: the catalog then holds exactly these services
//                        and checks for the node (anti-entropy: a periodic full push repairs any
//                        drift), and only rows that differ get a new modify index.
//   kCatalogDeregisterNode  bytes node -- the node, its services and checks leave the catalog.
//   kCatalogNodeHealth   bytes node, u8 status, bytes output -- the node's "serfHealth" check
//                        (Consul's name; written by the leader from gossip: critical when the
//                        node is declared dead, passing when it is alive again). A node unknown
//                        to the catalog is left alone.
// Nothing may follow a command, and each has exactly one encoding (an over-long varint is
// refused). Decoding checks every bound below and refuses (kInvalidArgument)
// anything else, so every replica reaches the same verdict on the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/status.h"

namespace wire {

inline constexpr size_t kCatalogNameBytesMax = 128;     // node names, service and check ids
inline constexpr size_t kCatalogServicesMax = 512;      // per node
inline constexpr size_t kCatalogChecksMax = 1024;       // per node
inline constexpr size_t kCatalogTagsMax = 64;
inline constexpr size_t kCatalogMetaMax = 64;
inline constexpr size_t kCatalogTextBytesMax = 1024;    // tags, meta values, names, notes, addresses
inline constexpr size_t kCatalogOutputBytesMax = 4096;  // Consul's check_output_max_size

enum class CheckHealth : uint8_t { kPassing = 0, kWarning = 1, kCritical = 2 };
const char* check_health_name(CheckHealth h);  // "passing", "warning", "critical"
bool parse_check_health(std::string_view text, CheckHealth* out);

using MetaPairs = std::vector<std::pair<std::string, std::string>>;  // sorted by key, unique

struct CatalogService {
  std::string id;
  std::string name;
  std::vector<std::string> tags;
  std::string address;
  uint16_t port = 0;
  MetaPairs meta;
  bool operator==(const CatalogService&) const = default;
};

struct CatalogCheck {
  std::string id;
  std::string name;
  CheckHealth status = CheckHealth::kCritical;
  std::string notes;
  std::string output;
  std::string service_id;  // "" for a node-level check
  std::string type;        // "ttl", "tcp", "http", "serf", ...
  bool operator==(const CatalogCheck&) const = default;
};

struct CatalogNode {
  std::string node;
  std::string id;
  std::string address;
  std::string datacenter;
  MetaPairs meta;
  std::vector<CatalogService> services;  // unique ids
  std::vector<CatalogCheck> checks;      // unique ids; a check's service_id names one of services
  bool operator==(const CatalogNode&) const = default;
};

struct CatalogNodeHealth {
  std::string node;
  CheckHealth status = CheckHealth::kCritical;
  std::string output;
};

// The type bytes (after the KV commands' 1..5 in state_command.h).
inline constexpr uint8_t kCatalogSyncNodeType = 6;
inline constexpr uint8_t kCatalogDeregisterNodeType = 7;
inline constexpr uint8_t kCatalogNodeHealthType = 8;

// Whether `bytes` is a catalog command by its header (it may still fail to decode).
bool is_catalog_command(std::string_view bytes);
// The command's type byte, or 0 when `bytes` is too short to have one.
uint8_t catalog_command_type(std::string_view bytes);

base::Status check_catalog_node(const CatalogNode& n);
base::Result<std::string> encode_catalog_sync(const CatalogNode& n);
base::Result<CatalogNode> decode_catalog_sync(std::string_view bytes);
base::Result<std::string> encode_catalog_deregister(std::string_view node);
base::Result<std::string> decode_catalog_deregister(std::string_view bytes);
base::Result<std::string> encode_catalog_node_health(const CatalogNodeHealth& h);
base::Result<CatalogNodeHealth> decode_catalog_node_health(std::string_view bytes);

// Tags and meta as stored in one column each (the same varint encoding).
std::string encode_string_list(const std::vector<std::string>& v);
bool decode_string_list(std::string_view bytes, std::vector<std::string>* out);
std::string encode_meta(const MetaPairs& m);
bool decode_meta(std::string_view bytes, MetaPairs* out);

}  // namespace wire
