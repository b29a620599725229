// wire::encode_snapshot_file / decode_snapshot_file: see snapshot_file.h.
#include "agent/wire/snapshot_file.h"

#include "agent/base/assert.h"
#include "agent/base/bytes.h"

namespace wire {

namespace {

base::Status bad(const char* what) { return base::error(base::Code::kInvalidArgument, "snapshot file: bad %s", what); }

}  // namespace

std::string encode_snapshot_file(const SnapshotFileHeader& header, std::string_view image) {
  AGENT_ASSERT(header.index != 0 && header.term != 0 && !header.config.voters.empty());
  const std::string config = encode_raft_membership(header.config);
  std::string out;
  base::ByteWriter w(&out, kSnapshotFileMagic.size() + 4 + 8 + 8 + 4 + config.size() + image.size());
  w.raw(kSnapshotFileMagic);
  w.u32(kSnapshotFileFormat);
  w.u64(header.index);
  w.u64(header.term);
  w.u32(static_cast<uint32_t>(config.size()));
  w.raw(config);
  w.raw(image);
  AGENT_ASSERT(w.ok());
  return out;
}

base::Status decode_snapshot_file(std::string_view bytes, SnapshotFileHeader* header, std::string_view* image) {
  *header = SnapshotFileHeader{};
  *image = {};
  base::ByteReader r(base::as_bytes(bytes));
  base::ByteSpan magic = r.raw(kSnapshotFileMagic.size());
  if (!r.ok() || base::as_chars(magic) != kSnapshotFileMagic) return bad("magic");
  const uint32_t format = r.u32();
  if (!r.ok() || (format != 1 && format != kSnapshotFileFormat)) return bad("format");
  header->index = r.u64();
  header->term = r.u64();
  if (!r.ok() || header->index == 0 || header->term == 0) return bad("index or term");
  if (format >= 2) {
    const uint32_t n = r.u32();
    if (!r.ok() || n > kMembershipBytesMax) return bad("configuration length");
    base::ByteSpan config = r.raw(n);
    if (!r.ok()) return bad("configuration");
    if (!decode_raft_membership(base::as_chars(config), &header->config).is_ok() || header->config.voters.empty()) {
      return bad("configuration");
    }
  }
  const size_t used = bytes.size() - r.remaining();
  *image = bytes.substr(used);
  return base::Status::ok();
}

}  // namespace wire
