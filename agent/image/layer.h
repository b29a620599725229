// image/layer.h -- reading tar streams (plain or gzip) safely: every entry is checked before
// anything is written, and the stream's digests are computed as it passes.
//
// One reader serves two inputs: an image layer (unpacked into the store's layers/, OCI whiteouts
// turned into overlayfs's form) and an image archive (an OCI archive or `docker save` file,
// unpacked into a staging directory and then read as a layout directory; its ".wh." names mean
// nothing). The checks are those listed in store.h; libarchive's archive_write_disk with
// ARCHIVE_EXTRACT_SECURE_SYMLINKS and _NODOTDOT is a second line of defence behind them.
//
// How: libarchive reads the source through a "raw" reader (gzip or no filter), whose output
// passes through a digest into a second reader of the tar format. So the compressed digest (the
// blob's name) and the uncompressed one (the config's diff_id) both come from one pass, without
// holding a layer in memory or on disk compressed.
//
// Threading: free functions over their arguments; call them on the worker pool.
// Not here: which digests are expected (store.cc), JSON (oci.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/base/status.h"
#include "agent/image/store.h"
#include "hal/fs.h"
#include "hal/mounts.h"

namespace image {

// Longest entry name or link target accepted (Linux's PATH_MAX).
inline constexpr size_t kNameBytesMax = 4096;

// unpacked_bytes_max bounds the file data, summed over the entries.
using UnpackLimits = Limits;

// Where the bytes of a tar stream come from, in pieces. next() returns the next piece (valid
// until the following call), an empty span at the end, or an error.
class Source {
 public:
  virtual ~Source() = default;
  virtual base::Result<base::ByteSpan> next() = 0;
};

// A file read through hal::Fs in chunks of kChunkBytes.
class FileSource final : public Source {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;
  FileSource(hal::Fs& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  base::Result<base::ByteSpan> next() override;

 private:
  hal::Fs& fs_;
  std::string path_;
  uint64_t offset_ = 0;
  std::string chunk_;
};

// Bytes in memory (tests, the fuzz target).
class MemorySource final : public Source {
 public:
  explicit MemorySource(base::ByteSpan bytes) : bytes_(bytes) {}
  base::Result<base::ByteSpan> next() override {
    base::ByteSpan out = bytes_;
    bytes_ = {};
    return out;
  }

 private:
  base::ByteSpan bytes_;
};

enum class TarKind : uint8_t {
  kLayer,    // an image layer: ".wh." names are whiteouts
  kArchive,  // an image archive: plain names; only regular files, directories and links
};

struct UnpackResult {
  std::string compressed_digest;  // "sha256:<hex>" of the source's bytes
  std::string diff_id;            // "sha256:<hex>" of the uncompressed tar stream
  uint64_t size_bytes = 0;        // file data unpacked
  uint64_t entries = 0;
  std::vector<std::string> whiteouts;    // paths a layer deletes, relative to its root
  std::vector<std::string> opaque_dirs;  // directories whose lower contents a layer hides
  // False when a whiteout could not be made in overlayfs's form (no privilege): the layer can
  // still be copied (the lists above say what to delete) but not overlay-mounted.
  bool overlay_ready = true;
};

struct UnpackTarget {
  std::string dir;               // existing directory to unpack into; empty: check only
  hal::Fs* fs = nullptr;         // for whiteouts' parent directories (with dir)
  hal::Mounts* mounts = nullptr; // whiteouts in overlayfs's form; null: lists only
};

// Reads the whole tar stream (plain or gzip, told by its magic bytes) from `source`, checking
// each entry before it is written into target.dir (when set). kInvalidArgument naming the entry
// for anything store.h refuses or a malformed stream; kResourceExhausted past `limits`; the
// source's or the disk's error otherwise. On error, what was written stays for the caller to
// remove (it unpacks into a temporary directory).
base::Result<UnpackResult> unpack(Source& source, TarKind kind, const UnpackTarget& target, const UnpackLimits& limits);

// The checks, exposed for tests. clean_path(): an entry name made relative ("./a//b/" -> "a/b",
// "." -> ""); kInvalidArgument for an absolute name, a ".." component, a NUL or a name over
// kNameBytesMax. link_escapes(): whether symlink `target` placed at relative path `at` resolves
// (lexically) outside the root; absolute targets are resolved against the root.
base::Result<std::string> clean_path(std::string_view name);
bool link_escapes(std::string_view at, std::string_view target);

// Copies the tree `from` into the existing directory `to` (modes, owners, times, symlinks, hard
// links within it), skipping overlayfs whiteouts (0/0 character devices): the fallback when an
// overlay cannot be mounted.
[[nodiscard]] base::Status copy_tree(const std::string& from, const std::string& to);

}  // namespace image
