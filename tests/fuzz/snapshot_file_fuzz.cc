// libFuzzer target for the host's snapshot file header (wire/snapshot_file.h), the first thing a
// foundation reads at start: any bytes either are refused or decode to a header that encodes
// back to the same header and image (the image itself is state::Store::restore's, fuzzed by
// state_snapshot_fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/wire/snapshot_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  wire::SnapshotFileHeader h;
  std::string_view image;
  if (!wire::decode_snapshot_file(bytes, &h, &image).is_ok()) return 0;
  if (h.index == 0 || h.term == 0) abort();
  if (h.config.voters.empty()) return 0;  // format 1: nothing to re-encode as format 2
  const std::string again = wire::encode_snapshot_file(h, image);
  wire::SnapshotFileHeader h2;
  std::string_view image2;
  if (!wire::decode_snapshot_file(again, &h2, &image2).is_ok()) abort();
  if (!(h2 == h) || image2 != image) abort();
  return 0;
}
