// The foundation's snapshot file (<data_dir>/raft/snapshot, written by server::RaftHost): the
// latest snapshot of the state machine and its place in the Raft log (dissertation chapter 5).
//
//   8 bytes "WEFTRSNP"
//   u32     format (kSnapshotFileFormat; 1 is still read)
//   u64     index  (last included index, >= 1)
//   u64     term   (last included term, >= 1)
//   format 2 only:
//   u32     config length (<= kMembershipBytesMax), then the configuration as of `index`
//           (encode_raft_membership, at least one voter: §4.1 / §5.1, so a compacted
//           configuration entry survives a restart from the snapshot)
//   ...     the state machine's image (state::Store::snapshot(), which carries its own SHA-256)
//
// Integers little-endian (base::ByteWriter). A format-1 file (written before membership
// changes) has no configuration: the reader returns an empty one and the Raft core takes the
// configuration from its log (raft::RaftCore::set_snapshot fills it in).
//
// Threading: pure functions. The decoder takes untrusted bytes: every field is checked, every
// failure is kInvalidArgument naming the field, nothing asserts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/wire/raft_message.h"

namespace wire {

inline constexpr std::string_view kSnapshotFileMagic = "WEFTRSNP";
inline constexpr uint32_t kSnapshotFileFormat = 2;

struct SnapshotFileHeader {
  uint64_t index = 0;
  uint64_t term = 0;
  RaftMembership config;  // empty for a format-1 file
  bool operator==(const SnapshotFileHeader&) const = default;
};

// The whole file. Asserts index and term are non-zero and the configuration has a voter.
std::string encode_snapshot_file(const SnapshotFileHeader& header, std::string_view image);
// Parses a whole file: the header into *header, the image (a view into `bytes`) into *image.
base::Status decode_snapshot_file(std::string_view bytes, SnapshotFileHeader* header, std::string_view* image);

}  // namespace wire
