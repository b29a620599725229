// libFuzzer target for the catalog commands (wire/catalog_command.h), which every foundation
// decodes from committed Raft entries that agents proposed: any bytes either are refused or
// decode to a command that passes its own checks and encodes back to the very same bytes (one
// encoding per command, so every replica reaches the same verdict).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/wire/catalog_command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (auto n = wire::decode_catalog_sync(bytes); n.is_ok()) {
    if (!wire::check_catalog_node(*n).is_ok()) abort();
    auto again = wire::encode_catalog_sync(*n);
    if (!again.is_ok() || *again != bytes) abort();
  }
  if (auto node = wire::decode_catalog_deregister(bytes); node.is_ok()) {
    auto again = wire::encode_catalog_deregister(*node);
    if (!again.is_ok() || *again != bytes) abort();
  }
  if (auto h = wire::decode_catalog_node_health(bytes); h.is_ok()) {
    auto again = wire::encode_catalog_node_health(*h);
    if (!again.is_ok() || *again != bytes) abort();
  }
  return 0;
}
