// Fuzzes the image tar reader (agent/image/layer.h) in check-only mode -- no disk writes -- as a
// layer and as an image archive: nothing may crash; an accepted stream reads again to the same
// digests and counts; every whiteout and opaque directory it reports is a clean relative path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "agent/image/layer.h"

namespace {

void check(const uint8_t* data, size_t size, image::TarKind kind) {
  const image::Limits limits{.entries_max = 4096, .unpacked_bytes_max = 64 << 20};
  image::MemorySource source(base::ByteSpan(data, size));
  auto first = image::unpack(source, kind, image::UnpackTarget{}, limits);
  if (!first.is_ok()) return;
  if (first->entries > limits.entries_max || first->size_bytes > limits.unpacked_bytes_max) abort();
  for (const auto& paths : {first->whiteouts, first->opaque_dirs}) {
    for (const std::string& p : paths) {
      auto clean = image::clean_path(p);
      if (!clean.is_ok() || *clean != p) abort();
    }
  }
  image::MemorySource again_source(base::ByteSpan(data, size));
  auto again = image::unpack(again_source, kind, image::UnpackTarget{}, limits);
  if (!again.is_ok() || again->diff_id != first->diff_id || again->compressed_digest != first->compressed_digest ||
      again->entries != first->entries) {
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(data, size, image::TarKind::kLayer);
  check(data, size, image::TarKind::kArchive);
  return 0;
}
